package mem

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantErr   bool
		wantChunk int
	}{
		{name: "zero config fails closed", cfg: Config{}, wantErr: true},
		{name: "negative max", cfg: Config{MaxBytes: -1}, wantErr: true},
		{name: "negative chunk", cfg: Config{MaxBytes: 1 << 20, ChunkSize: -1}, wantErr: true},
		{name: "chunk larger than max", cfg: Config{MaxBytes: 1024, ChunkSize: 2048}, wantErr: true},
		{name: "default chunk", cfg: Config{MaxBytes: 1 << 30}, wantChunk: DefaultChunkSize},
		{name: "default chunk capped by small max", cfg: Config{MaxBytes: 4096}, wantChunk: 4096},
		{name: "explicit chunk", cfg: Config{MaxBytes: 1 << 20, ChunkSize: 1000}, wantChunk: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%+v): got nil error, want one", tt.cfg)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.cfg, err)
			}
			if got := s.ChunkSize(); got != tt.wantChunk {
				t.Errorf("ChunkSize: got %d, want %d", got, tt.wantChunk)
			}
			if got, want := s.Stats(), (Stats{Max: tt.cfg.MaxBytes}); got != want {
				t.Errorf("Stats: got %+v, want %+v", got, want)
			}
		})
	}
}

// TestWriteAtOutOfOrder writes a file in blocks in various orders and block
// sizes (aligned and not aligned to chunks) and compares the result.
func TestWriteAtOutOfOrder(t *testing.T) {
	const chunk = 4096
	tests := []struct {
		name  string
		size  int
		block int
		order func(n int) []int
	}{
		{name: "sequential aligned", size: 64 * 1024, block: chunk, order: sequential},
		{name: "reverse aligned", size: 64 * 1024, block: chunk, order: reverse},
		{name: "shuffled aligned", size: 64 * 1024, block: chunk, order: shuffled},
		{name: "shuffled unaligned blocks", size: 64*1024 + 123, block: 1000, order: shuffled},
		{name: "reverse blocks spanning chunks", size: 50_000, block: 3 * chunk / 2, order: reverse},
		{name: "blocks larger than chunk", size: 100_000, block: 3*chunk + 7, order: shuffled},
		{name: "single byte", size: 1, block: 1, order: sequential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 1<<20, chunk)
			want := randomBytes(tt.size, uint64(tt.size))
			w, err := s.Create("f", Owner{})
			if err != nil {
				t.Fatal(err)
			}
			nblocks := (tt.size + tt.block - 1) / tt.block
			for _, b := range tt.order(nblocks) {
				off := b * tt.block
				end := min(off+tt.block, tt.size)
				n, err := w.WriteAt(want[off:end], int64(off))
				if err != nil || n != end-off {
					t.Fatalf("WriteAt(block %d): got n=%d err=%v, want n=%d", b, n, err, end-off)
				}
			}
			if got := w.Size(); got != int64(tt.size) {
				t.Errorf("Size: got %d, want %d", got, tt.size)
			}
			wantReq := int64((tt.size + chunk - 1) / chunk * chunk)
			checkStats(t, s, wantReq, int64(tt.size))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := contentOf(t, s, "f"); !bytes.Equal(got, want) {
				t.Errorf("content: %s", firstDiff(got, want))
			}
			checkStats(t, s, wantReq, int64(tt.size))
		})
	}
}

func sequential(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func reverse(n int) []int {
	o := sequential(n)
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		o[i], o[j] = o[j], o[i]
	}
	return o
}

func shuffled(n int) []int {
	o := sequential(n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	r.Shuffle(n, func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

// TestWriteAtConcurrent has 8 goroutines write 32 KiB blocks of a 4 MiB file
// in shuffled order, as a pipelining SFTP client would, while other
// goroutines poll Stat, List and Stats.
func TestWriteAtConcurrent(t *testing.T) {
	const (
		size    = 4 << 20
		block   = 32 << 10
		workers = 8
	)
	tests := []struct {
		name  string
		chunk int
	}{
		{name: "default chunk", chunk: 0},
		{name: "chunk smaller than block", chunk: 8 << 10},
		{name: "chunk not dividing block", chunk: 10_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 8<<20, tt.chunk)
			want := randomBytes(size, 42)
			w, err := s.Create("fw.bin", Owner{User: "u", Session: "1"})
			if err != nil {
				t.Fatal(err)
			}
			jobs := make(chan int)
			errs := make(chan error, workers+1) // one per goroutine, so none blocks
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for b := range jobs {
						off := b * block
						if _, err := w.WriteAt(want[off:off+block], int64(off)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			stop := make(chan struct{})
			var pollers sync.WaitGroup
			pollers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					info, err := s.Stat("fw.bin")
					if err == nil && !info.Writing {
						err = fmt.Errorf("Stat: got Writing=false, want true")
					}
					if err != nil {
						errs <- err
						return
					}
					_ = s.List()
					if st := s.Stats(); st.Req > st.Max {
						t.Errorf("Stats: Req=%d exceeds Max=%d", st.Req, st.Max)
					}
				}
			})
			for _, b := range shuffled(size / block) {
				jobs <- b
			}
			close(jobs)
			wg.Wait()
			close(stop)
			pollers.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("concurrent write or stat: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := contentOf(t, s, "fw.bin"); !bytes.Equal(got, want) {
				t.Errorf("content: %s", firstDiff(got, want))
			}
			cs := int64(s.ChunkSize())
			checkStats(t, s, (size+cs-1)/cs*cs, size)
		})
	}
}

// TestSparse checks that only touched chunks are allocated and that holes
// read as zeros.
func TestSparse(t *testing.T) {
	const chunk = 64 << 10
	tests := []struct {
		name     string
		writes   []int64 // offsets of 100-byte writes
		wantReq  int64
		wantSize int64
	}{
		{name: "far offset only", writes: []int64{10 << 20}, wantReq: chunk, wantSize: 10<<20 + 100},
		{name: "straddling a chunk boundary", writes: []int64{chunk - 50}, wantReq: 2 * chunk, wantSize: chunk + 50},
		{name: "start and far end", writes: []int64{0, 5 << 20}, wantReq: 2 * chunk, wantSize: 5<<20 + 100},
		{name: "two writes in one chunk", writes: []int64{3 * chunk, 3*chunk + 1000}, wantReq: chunk, wantSize: 3*chunk + 1100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 16<<20, chunk)
			w, err := s.Create("sparse", Owner{})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, tt.wantSize)
			for i, off := range tt.writes {
				p := bytes.Repeat([]byte{byte(i + 1)}, 100)
				copy(want[off:], p)
				if _, err := w.WriteAt(p, off); err != nil {
					t.Fatalf("WriteAt(%d): %v", off, err)
				}
			}
			checkStats(t, s, tt.wantReq, tt.wantSize)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := contentOf(t, s, "sparse"); !bytes.Equal(got, want) {
				t.Errorf("content: %s", firstDiff(got, want))
			}
			if err := s.Remove("sparse"); err != nil {
				t.Fatal(err)
			}
			checkStats(t, s, 0, 0)
		})
	}
}

// TestNoSpace fills the buffer, checks that a write needing more chunks
// than are free fails without a partial allocation, and that Remove and
// Abort give the memory back exactly.
func TestNoSpace(t *testing.T) {
	const chunk = 1024
	s := newTestStore(t, 4*chunk, chunk)

	stage(t, s, "a", make([]byte, 3*chunk-10)) // 3 chunks
	checkStats(t, s, 3*chunk, 3*chunk-10)

	w, err := s.Create("b", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		n       int
		off     int64
		wantErr error
		wantReq int64
	}{
		{name: "two chunks when one is free", n: 2 * chunk, off: 0, wantErr: ErrNoSpace, wantReq: 3 * chunk},
		{name: "beyond MaxBytes", n: 1, off: 4 * chunk, wantErr: ErrNoSpace, wantReq: 3 * chunk},
		{name: "offset overflow", n: 10, off: 1<<63 - 5, wantErr: ErrNoSpace, wantReq: 3 * chunk},
		{name: "negative offset", n: 1, off: -1, wantErr: fs.ErrInvalid, wantReq: 3 * chunk},
		{name: "last free chunk", n: chunk, off: chunk, wantReq: 4 * chunk},
		{name: "within allocated chunk", n: 100, off: chunk + 10, wantReq: 4 * chunk},
		{name: "one more chunk", n: 1, off: 0, wantErr: ErrNoSpace, wantReq: 4 * chunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := w.WriteAt(make([]byte, tt.n), tt.off)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("WriteAt(%d bytes at %d): got err %v, want %v", tt.n, tt.off, err, tt.wantErr)
			}
			if tt.wantErr != nil && n != 0 {
				t.Errorf("WriteAt: got n=%d after error, want 0", n)
			}
			if got := s.Stats().Req; got != tt.wantReq {
				t.Errorf("Req: got %d, want %d", got, tt.wantReq)
			}
		})
	}
	if got := w.Size(); got != 2*chunk {
		t.Errorf("Size after failed writes: got %d, want %d", got, 2*chunk)
	}

	if err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, chunk, 2*chunk)
	if _, err := w.WriteAt(make([]byte, 2*chunk), 2*chunk); err != nil {
		t.Errorf("WriteAt after Remove freed space: %v", err)
	}
	checkStats(t, s, 3*chunk, 4*chunk)
	w.Abort()
	checkStats(t, s, 0, 0)
	if got := s.List(); len(got) != 0 {
		t.Errorf("List after Abort: got %v, want empty", got)
	}
}

func TestTruncate(t *testing.T) {
	const chunk = 1000
	tests := []struct {
		name     string
		initial  int // bytes written at 0 before truncating
		sizes    []int64
		wantReq  int64 // after the last truncate
		wantData func(orig []byte) []byte
		wantErr  error
	}{
		{
			name: "shrink to chunk boundary frees tail", initial: 3500, sizes: []int64{2000},
			wantReq: 2 * chunk, wantData: func(o []byte) []byte { return o[:2000] },
		},
		{
			name: "shrink mid chunk keeps that chunk", initial: 3500, sizes: []int64{1500},
			wantReq: 2 * chunk, wantData: func(o []byte) []byte { return o[:1500] },
		},
		{
			name: "shrink to zero frees all", initial: 3500, sizes: []int64{0},
			wantReq: 0, wantData: func([]byte) []byte { return nil },
		},
		{
			name: "grow allocates nothing", initial: 500, sizes: []int64{5000},
			wantReq: chunk, wantData: func(o []byte) []byte { return append(o[:500:500], make([]byte, 4500)...) },
		},
		{
			name: "shrink then grow reads zeros", initial: 1000, sizes: []int64{300, 1000},
			wantReq: chunk, wantData: func(o []byte) []byte { return append(o[:300:300], make([]byte, 700)...) },
		},
		{
			name: "beyond MaxBytes", initial: 10, sizes: []int64{1 << 20},
			wantErr: ErrNoSpace, wantReq: chunk, wantData: func(o []byte) []byte { return o },
		},
		{
			name: "negative", initial: 10, sizes: []int64{-1},
			wantErr: fs.ErrInvalid, wantReq: chunk, wantData: func(o []byte) []byte { return o },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 10*chunk, chunk)
			orig := randomBytes(tt.initial, 3)
			w, err := s.Create("t", Owner{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteAt(orig, 0); err != nil {
				t.Fatal(err)
			}
			var lastErr error
			for _, size := range tt.sizes {
				lastErr = w.Truncate(size)
			}
			if !errors.Is(lastErr, tt.wantErr) {
				t.Fatalf("Truncate: got err %v, want %v", lastErr, tt.wantErr)
			}
			want := tt.wantData(orig)
			if got := w.Size(); got != int64(len(want)) {
				t.Errorf("Size: got %d, want %d", got, len(want))
			}
			checkStats(t, s, tt.wantReq, int64(len(want)))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := contentOf(t, s, "t"); !bytes.Equal(got, want) {
				t.Errorf("content: %s", firstDiff(got, want))
			}
		})
	}
}

// TestWriterClosed checks use after Close and Abort.
func TestWriterClosed(t *testing.T) {
	tests := []struct {
		name  string
		close func(w *Writer)
	}{
		{name: "after Close", close: func(w *Writer) { _ = w.Close() }},
		{name: "after Abort", close: func(w *Writer) { w.Abort() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 1<<20, 1024)
			w, err := s.Create("c", Owner{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteAt([]byte("data"), 0); err != nil {
				t.Fatal(err)
			}
			tt.close(w)
			before := s.Stats()
			if _, err := w.WriteAt([]byte("x"), 0); !errors.Is(err, ErrClosed) {
				t.Errorf("WriteAt: got %v, want %v", err, ErrClosed)
			}
			if _, err := w.WriteAt(nil, 0); !errors.Is(err, ErrClosed) {
				t.Errorf("empty WriteAt: got %v, want %v", err, ErrClosed)
			}
			if err := w.Truncate(0); !errors.Is(err, ErrClosed) {
				t.Errorf("Truncate: got %v, want %v", err, ErrClosed)
			}
			if err := w.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("second Close: got %v, want %v", err, ErrClosed)
			}
			w.Abort() // must be a no-op
			if got := s.Stats(); got != before {
				t.Errorf("Stats changed by use after close: got %+v, want %+v", got, before)
			}
		})
	}
}

// TestSuspendResume: an upload cut short is published incomplete (never
// opened), keeps its memory, and a resumed writer takes it over in place.
func TestSuspendResume(t *testing.T) {
	s, err := New(Config{MaxBytes: 1 << 20, ChunkSize: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create("f", Owner{User: "u", Session: "1"})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("abcdefgh"), 512) // 4 KiB
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Suspend(3000); err != nil {
		t.Fatal(err)
	}
	if i, err := s.Stat("f"); err != nil || !i.Incomplete || i.Size != 3000 || i.Writing {
		t.Fatalf("after Suspend: got %+v, %v", i, err)
	}
	if st := s.Stats(); st.Req != 3<<10 || st.Busy != 3000 {
		t.Errorf("stats after Suspend: got %+v, want Req 3072 Busy 3000", st)
	}
	if _, err := s.Open("f"); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Open: got %v, want ErrIncomplete", err)
	}
	if _, err := s.Resume("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resume of a missing name: got %v, want ErrNotFound", err)
	}
	r, err := s.Resume("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume("f"); !errors.Is(err, ErrBusy) {
		t.Errorf("second Resume: got %v, want ErrBusy", err)
	}
	if r.Size() != 3000 || r.Owner().User != "u" {
		t.Errorf("resumed writer: size %d owner %+v", r.Size(), r.Owner())
	}
	if _, err := r.WriteAt(data[3000:], 3000); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := r.CloseAt(when); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, f.Size())
	f.ReadAt(got, 0)
	f.Close()
	if !bytes.Equal(got, data) || !f.Info().ModTime.Equal(when) {
		t.Errorf("resumed file: equal %v, mtime %v", bytes.Equal(got, data), f.Info().ModTime)
	}
	// A complete file is not resumed.
	if _, err := s.Resume("f"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resume of a complete file: got %v, want ErrNotFound", err)
	}
	later := when.Add(time.Hour)
	if err := s.SetModTime("f", later); err != nil {
		t.Fatal(err)
	}
	if i, _ := s.Stat("f"); !i.ModTime.Equal(later) {
		t.Errorf("SetModTime: got %v", i.ModTime)
	}
	if err := s.Remove("f"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("stats at the end: %+v", st)
	}
}
