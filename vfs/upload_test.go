package vfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExtents(t *testing.T) {
	tests := []struct {
		name   string
		adds   [][2]int64
		clip   int64 // 0: none
		want   [][2]int64
		gaps   [][2]int64 // of [0, 100)
		prefix int64      // with base 0
	}{
		{name: "empty", gaps: [][2]int64{{0, 100}}},
		{name: "in order", adds: [][2]int64{{0, 10}, {10, 20}, {20, 30}}, want: [][2]int64{{0, 30}},
			gaps: [][2]int64{{30, 100}}, prefix: 30},
		{name: "out of order", adds: [][2]int64{{20, 30}, {0, 10}, {10, 20}}, want: [][2]int64{{0, 30}},
			gaps: [][2]int64{{30, 100}}, prefix: 30},
		{name: "hole", adds: [][2]int64{{0, 10}, {50, 60}}, want: [][2]int64{{0, 10}, {50, 60}},
			gaps: [][2]int64{{10, 50}, {60, 100}}, prefix: 10},
		{name: "overlap spans", adds: [][2]int64{{0, 10}, {20, 30}, {40, 50}, {5, 45}}, want: [][2]int64{{0, 50}},
			gaps: [][2]int64{{50, 100}}, prefix: 50},
		{name: "not from 0", adds: [][2]int64{{5, 100}}, want: [][2]int64{{5, 100}}, gaps: [][2]int64{{0, 5}}},
		{name: "clip", adds: [][2]int64{{0, 10}, {20, 30}, {40, 50}}, clip: 25, want: [][2]int64{{0, 10}, {20, 25}},
			gaps: [][2]int64{{10, 20}, {25, 100}}, prefix: 10},
		{name: "empty range", adds: [][2]int64{{7, 7}}, gaps: [][2]int64{{0, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e extents
			for _, a := range tt.adds {
				e.add(a[0], a[1])
			}
			if tt.clip > 0 {
				e.clip(tt.clip)
			}
			if !slices.Equal(e.r, tt.want) {
				t.Errorf("ranges: got %v, want %v", e.r, tt.want)
			}
			if g := e.gaps(0, 100); !slices.Equal(g, tt.gaps) {
				t.Errorf("gaps: got %v, want %v", g, tt.gaps)
			}
			if p := e.prefix(0); p != tt.prefix {
				t.Errorf("prefix: got %d, want %d", p, tt.prefix)
			}
		})
	}
	var e extents
	e.add(10, 20)
	if p := e.prefix(10); p != 20 {
		t.Errorf("prefix with base 10: got %d, want 20", p)
	}
}

// TestWriteModes: the POSIX write modes on every kind of file system.
func TestWriteModes(t *testing.T) {
	old := []byte("0123456789")
	tests := []struct {
		name  string
		mode  WriteMode
		write func(w *Writer) error
		want  string
	}{
		{name: "trunc", mode: WriteTrunc, write: func(w *Writer) error { _, err := w.WriteAt([]byte("ab"), 0); return err }, want: "ab"},
		{name: "keep", mode: WriteKeep, write: func(w *Writer) error { _, err := w.WriteAt([]byte("ab"), 3); return err }, want: "012ab56789"},
		{name: "keep past end", mode: WriteKeep, write: func(w *Writer) error { _, err := w.WriteAt([]byte("ab"), 10); return err }, want: "0123456789ab"},
		{name: "keep truncate", mode: WriteKeep, write: func(w *Writer) error {
			if err := w.Truncate(4); err != nil {
				return err
			}
			_, err := w.WriteAt([]byte("ab"), 4)
			return err
		}, want: "0123ab"},
		{name: "keep shrink then grow is a hole", mode: WriteKeep, write: func(w *Writer) error {
			if err := w.Truncate(2); err != nil {
				return err
			}
			return w.Truncate(10)
		}},
		{name: "append", mode: WriteAppend, write: func(w *Writer) error { _, err := w.WriteAt([]byte("ab"), 0); return err }, want: "0123456789ab"},
		{name: "append out of order", mode: WriteAppend, write: func(w *Writer) error {
			if _, err := w.WriteAt([]byte("cd"), 2); err != nil {
				return err
			}
			_, err := w.WriteAt([]byte("ab"), 0)
			return err
		}, want: "0123456789abcd"},
	}
	for _, fs := range []string{"dsk", "mem"} {
		for _, tt := range tests {
			t.Run(fs+"/"+tt.name, func(t *testing.T) {
				tr := newTree(t)
				p := "/" + fs + "/f"
				put(t, tr.fs, root, p, old)
				w, err := tr.fs.OpenWrite(root, p, tt.mode)
				if err != nil {
					t.Fatal(err)
				}
				if err := tt.write(w); err != nil {
					t.Fatal(err)
				}
				err = w.Close()
				if tt.want == "" {
					if KindOf(err) != KindIncomplete || !errors.Is(err, ErrHole) {
						t.Fatalf("Close: got %v, want a hole", err)
					}
					tt.want = string(old)
				} else if err != nil {
					t.Fatal(err)
				}
				if got := get(t, tr.fs, root, p); string(got) != tt.want {
					t.Errorf("content: got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// TestStickyError: a failed write poisons the upload; Close reports it
// and the old file stays.
func TestStickyError(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/dsk/cfg", []byte("old"))
	w, err := tr.fs.OpenWrite(root, "/dsk/cfg", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("x"), policyMax()); KindOf(err) != KindOffset {
		t.Fatalf("write past the limit: got %v, want KindOffset", err)
	}
	if _, err := w.WriteAt([]byte("y"), 3); KindOf(err) != KindOffset {
		t.Errorf("write after the failure: got %v, want the first failure", err)
	}
	if err := w.Close(); KindOf(err) != KindOffset {
		t.Errorf("Close: got %v, want the first failure", err)
	}
	if got := get(t, tr.fs, root, "/dsk/cfg"); string(got) != "old" {
		t.Errorf("after a failed upload: got %q, want %q", got, "old")
	}
}

func policyMax() int64 { return 1 << 62 }

// TestCut: a cut upload is never committed; into /mem its prefix stays
// incomplete, cannot be read or committed, and resumes in place.
func TestCut(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/dsk/app", []byte("old"))
	for _, p := range []string{"/dsk/app", "/tst/app"} {
		w, err := tr.fs.OpenWrite(root, p, WriteTrunc)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt([]byte("partial"), 0)
		w.Cut(errors.New("gone"))
	}
	if got := get(t, tr.fs, root, "/dsk/app"); string(got) != "old" {
		t.Errorf("/dsk/app after a cut: got %q, want %q", got, "old")
	}
	if _, err := tr.fs.Stat(root, "/tst/app"); KindOf(err) != KindNotFound {
		t.Errorf("/tst/app after a cut: %v, want not found", err)
	}

	w, err := tr.fs.OpenWrite(root, "/mem/app", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt([]byte("0123"), 0)
	w.WriteAt([]byte("89"), 8) // after a gap: not part of the kept prefix
	w.Cut(errors.New("gone"))
	i, err := tr.fs.Stat(root, "/mem/app")
	if err != nil || !i.Incomplete || i.Size != 4 {
		t.Fatalf("after the cut: got %+v, %v; want incomplete, 4 bytes", i, err)
	}
	if _, err := tr.fs.Rename(root, "/mem/app", "/dsk/app"); KindOf(err) != KindIncomplete {
		t.Errorf("commit of an incomplete file: got %v, want KindIncomplete", err)
	}
	if _, err := tr.fs.OpenRead(root, "/mem/app"); KindOf(err) != KindIncomplete {
		t.Errorf("read of an incomplete file: got %v, want KindIncomplete", err)
	}
	if s, ok := tr.fs.Staged(root2); !ok || !s.Incomplete || s.Path != "/mem/app" {
		t.Errorf("Staged from another session of the user: got %+v, %v", s, ok)
	}
	if _, ok := tr.fs.Staged(op1); ok {
		t.Error("another user sees the staged file")
	}
	// Another user cannot resume it.
	if _, err := tr.fs.OpenWrite(op1, "/mem/app", WriteAppend); KindOf(err) != KindDenied {
		t.Errorf("resume by another user: got %v, want KindDenied", err)
	}
	w, err = tr.fs.OpenWrite(root2, "/mem/app", WriteAppend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("456789"), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.fs.Rename(root, "/mem/app", "/dsk/app"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, tr.fs, root, "/dsk/app"); string(got) != "0123456789" {
		t.Errorf("resumed and committed: got %q", got)
	}
	if st := tr.store.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("staging buffer after the commit: %+v", st)
	}
}

// TestModTimeKept: a time set on an upload or a staged file is the
// committed file's.
func TestModTimeKept(t *testing.T) {
	tr := newTree(t)
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := tr.fs.OpenWrite(root, "/mem/c.cfg", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteAt([]byte("cfg"), 0)
	if err := w.SetModTime(when); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.fs.Rename(root, "/mem/c.cfg", "/dsk/c.cfg"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(tr.dsk, "c.cfg"))
	if err != nil || !fi.ModTime().Equal(when) {
		t.Errorf("committed mtime: got %v, %v; want %v", fi.ModTime(), err, when)
	}
	later := when.Add(time.Hour)
	if err := tr.fs.SetModTime(root, "/dsk/c.cfg", later); err != nil {
		t.Fatal(err)
	}
	if i, _ := tr.fs.Stat(root, "/dsk/c.cfg"); !i.ModTime.Equal(later) {
		t.Errorf("after SetModTime: got %v, want %v", i.ModTime, later)
	}
	if err := tr.fs.SetModTime(guest, "/dsk/c.cfg", when); KindOf(err) != KindDenied {
		t.Errorf("SetModTime by a guest without write: got %v, want KindDenied", err)
	}
	if b := get(t, tr.fs, root, "/dsk/c.cfg"); !bytes.Equal(b, []byte("cfg")) {
		t.Errorf("content: %q", b)
	}
}

// TestDiscard: the server removes a refused staged file without the
// user's delete permission.
func TestDiscard(t *testing.T) {
	tr := newTree(t)
	noDelete := &Session{User: op1.User, ID: "s9"}
	put(t, tr.fs, noDelete, "/mem/bad.bin", []byte("x"))
	if err := tr.fs.Discard(noDelete, "/mem/bad.bin", errors.New("check failed")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.fs.Stat(root, "/mem/bad.bin"); KindOf(err) != KindNotFound {
		t.Errorf("after Discard: %v", err)
	}
	if err := tr.fs.Discard(root, "/dsk/x", nil); KindOf(err) != KindInvalidPath {
		t.Errorf("Discard outside /mem: got %v, want KindInvalidPath", err)
	}
}

// TestReadFromAt: ReadFromAt (STOR's splice) writes at the offset it is
// given (from the old end with WriteAppend) and records what it wrote as
// WriteAt does; eof only when the reader ended, never when the size limit
// cut the request short; the staging buffer, and a request at the limit,
// get ok false for the buffered path.
func TestReadFromAt(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/dsk/f", []byte("old"))
	w, err := tr.fs.OpenWrite(root, "/dsk/f", WriteAppend)
	if err != nil {
		t.Fatal(err)
	}
	n, eof, ok, rerr, werr := w.ReadFromAt(strings.NewReader("abcdef"), 0, 4)
	if n != 4 || eof || !ok || rerr != nil || werr != nil {
		t.Fatalf("ReadFromAt of 4 of 6: got %d %v %v %v %v", n, eof, ok, rerr, werr)
	}
	n, eof, ok, rerr, werr = w.ReadFromAt(strings.NewReader("ef"), 4, 100)
	if n != 2 || !eof || !ok || rerr != nil || werr != nil {
		t.Fatalf("ReadFromAt to the end: got %d %v %v %v %v", n, eof, ok, rerr, werr)
	}
	// A limit of 8 bytes after the old end: a request for 100 gets 2 and
	// is not the end of the reader; at the limit the buffered path goes on.
	w.max = w.shift + 8
	n, eof, ok, _, _ = w.ReadFromAt(strings.NewReader("ghijkl"), 6, 100)
	if n != 2 || eof || !ok {
		t.Fatalf("ReadFromAt up to the limit: got %d, eof %v, ok %v; want 2, false, true", n, eof, ok)
	}
	if _, _, ok, _, _ = w.ReadFromAt(strings.NewReader("kl"), 8, 100); ok {
		t.Fatal("ReadFromAt at the limit: ok, want the buffered path")
	}
	if _, err := w.WriteAt([]byte("k"), 8); KindOf(err) != KindOffset {
		t.Fatalf("WriteAt past the limit: got %v, want KindOffset", err)
	}
	w.Abort()
	if got := get(t, tr.fs, root, "/dsk/f"); string(got) != "old" {
		t.Errorf("after the aborted upload: %q, want %q", got, "old")
	}

	w, err = tr.fs.OpenWrite(root, "/dsk/g", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _, _ := w.ReadFromAt(strings.NewReader("0123456789"), 0, 100); !ok {
		t.Fatal("ReadFromAt into /dsk: not ok")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := get(t, tr.fs, root, "/dsk/g"); string(got) != "0123456789" {
		t.Errorf("content: %q", got)
	}

	m, err := tr.fs.OpenWrite(root, "/mem/h", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Abort()
	if n, _, ok, _, _ := m.ReadFromAt(strings.NewReader("x"), 0, 100); ok || n != 0 {
		t.Errorf("ReadFromAt into /mem: got %d, ok %v; want 0, false", n, ok)
	}
}
