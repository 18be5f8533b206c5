package mem

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/iotest"
)

func TestReadAt(t *testing.T) {
	const chunk = 100
	data := randomBytes(350, 5)
	s := newTestStore(t, 10*chunk, chunk)
	stage(t, s, "r", data)
	f, err := s.Open("r")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{name: "inside one chunk", off: 10, n: 50, wantN: 50},
		{name: "across chunks", off: 50, n: 200, wantN: 200},
		{name: "exactly to the end", off: 300, n: 50, wantN: 50},
		{name: "past the end", off: 300, n: 60, wantN: 50, wantErr: io.EOF},
		{name: "whole file and more", off: 0, n: 1000, wantN: 350, wantErr: io.EOF},
		{name: "at the end", off: 350, n: 1, wantN: 0, wantErr: io.EOF},
		{name: "beyond the end", off: 1000, n: 1, wantN: 0, wantErr: io.EOF},
		{name: "empty read inside", off: 10, n: 0, wantN: 0},
		{name: "negative offset", off: -1, n: 1, wantN: 0, wantErr: fs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{0xff}, tt.n)
			n, err := f.ReadAt(p, tt.off)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadAt(%d bytes at %d): got n=%d err=%v, want n=%d err=%v", tt.n, tt.off, n, err, tt.wantN, tt.wantErr)
			}
			if n > 0 {
				if want := data[tt.off : tt.off+int64(n)]; !bytes.Equal(p[:n], want) {
					t.Errorf("ReadAt data: %s", firstDiff(p[:n], want))
				}
			}
		})
	}
}

// TestReadAtConcurrent checks that one File serves many readers at once,
// as SFTP clients issue parallel reads on one handle.
func TestReadAtConcurrent(t *testing.T) {
	const chunk = 4096
	data := randomBytes(1<<20, 6)
	s := newTestStore(t, 2<<20, chunk)
	stage(t, s, "r", data)
	f, err := s.Open("r")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			p := make([]byte, 10_000)
			for off := int64(g * 1000); off < int64(len(data)); off += 80_000 {
				n, err := f.ReadAt(p, off)
				if err != nil && !errors.Is(err, io.EOF) {
					t.Errorf("ReadAt(%d): %v", off, err)
					return
				}
				if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
					t.Errorf("ReadAt(%d): %s", off, firstDiff(p[:n], data[off:off+int64(n)]))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWriteTo(t *testing.T) {
	const chunk = 1000
	tests := []struct {
		name   string
		size   int
		writes []int64 // offsets of 10-byte writes; nil writes random data at 0
	}{
		{name: "empty", size: 0},
		{name: "less than a chunk", size: 999},
		{name: "exact chunk multiple", size: 3 * chunk},
		{name: "partial last chunk", size: 3*chunk + 1},
		{name: "leading hole", size: 5*chunk + 10, writes: []int64{5 * chunk}},
		{name: "holes between data", size: 7 * chunk, writes: []int64{0, 3*chunk - 5, 7*chunk - 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 16*chunk, chunk)
			w, err := s.Create("w", Owner{})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, tt.size)
			if tt.writes == nil {
				want = randomBytes(tt.size, 11)
				if _, err := w.WriteAt(want, 0); err != nil {
					t.Fatal(err)
				}
			}
			for i, off := range tt.writes {
				p := bytes.Repeat([]byte{byte(i + 1)}, 10)
				copy(want[off:], p)
				if _, err := w.WriteAt(p, off); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := s.Open("w")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			var buf bytes.Buffer
			n, err := f.WriteTo(&buf)
			if err != nil || n != int64(tt.size) {
				t.Fatalf("WriteTo: got n=%d err=%v, want n=%d", n, err, tt.size)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("WriteTo output: %s", firstDiff(buf.Bytes(), want))
			}
			// ReadAt must give the same bytes however the reads are split.
			if err := iotest.TestReader(io.NewSectionReader(f, 0, f.Size()), want); err != nil {
				t.Errorf("iotest.TestReader: %v", err)
			}
		})
	}
}

// TestWriteToErrors checks that write errors and short writes stop WriteTo.
func TestWriteToErrors(t *testing.T) {
	s := newTestStore(t, 1<<20, 1000)
	stage(t, s, "e", randomBytes(2500, 1))
	f, err := s.Open("e")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name    string
		w       io.Writer
		wantN   int64
		wantErr error
	}{
		{name: "error after first chunk", w: &limitedWriter{n: 1000, err: io.ErrClosedPipe}, wantN: 1000, wantErr: io.ErrClosedPipe},
		{name: "short write", w: &limitedWriter{n: 1500}, wantN: 1500, wantErr: io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := f.WriteTo(tt.w)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Errorf("WriteTo: got n=%d err=%v, want n=%d err=%v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

// limitedWriter accepts n bytes, then returns err (or a short count if err
// is nil).
type limitedWriter struct {
	n   int
	err error
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	n := w.n
	w.n = 0
	return n, w.err
}

func TestFileClosed(t *testing.T) {
	s := newTestStore(t, 1<<20, 1024)
	stage(t, s, "f", []byte("hello"))
	f, err := s.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		op   func() error
	}{
		{name: "ReadAt", op: func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }},
		{name: "WriteTo", op: func() error { _, err := f.WriteTo(io.Discard); return err }},
		{name: "second Close", op: f.Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, ErrClosed) {
				t.Errorf("got %v, want %v", err, ErrClosed)
			}
		})
	}
	// A double Close must not release the version twice.
	checkStats(t, s, 1024, 5)
	if got := f.Info(); got.Name != "f" || got.Size != 5 || got.Writing {
		t.Errorf("Info after Close: got %+v, want name f, size 5", got)
	}
}
