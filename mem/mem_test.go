package mem

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBusy checks that an open writer blocks other operations on its name.
func TestBusy(t *testing.T) {
	tests := []struct {
		name      string
		published bool // a file "f" is published before the writer opens
		op        func(s *Store) error
		wantErr   error
	}{
		{name: "second Create", op: func(s *Store) error { _, err := s.Create("f", Owner{}); return err }, wantErr: ErrBusy},
		{name: "Remove during writing", op: func(s *Store) error { return s.Remove("f") }, wantErr: ErrBusy},
		{name: "Remove during rewrite", published: true, op: func(s *Store) error { return s.Remove("f") }, wantErr: ErrBusy},
		{name: "Rename from name being written", published: true, op: func(s *Store) error { return s.Rename("f", "g") }, wantErr: ErrBusy},
		{name: "Rename onto name being written", op: func(s *Store) error { return s.Rename("other", "f") }, wantErr: ErrBusy},
		{name: "Open with no published version", op: func(s *Store) error { _, err := s.Open("f"); return err }, wantErr: ErrBusy},
		{name: "Open reads the published version", published: true, op: func(s *Store) error {
			f, err := s.Open("f")
			if err != nil {
				return err
			}
			defer f.Close()
			if got := string(readFile(t, f)); got != "old" {
				return fmt.Errorf("Open: got %q, want %q", got, "old")
			}
			return nil
		}},
		{name: "Create of another name", op: func(s *Store) error { _, err := s.Create("g", Owner{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 1<<20, 1024)
			stage(t, s, "other", []byte("other"))
			if tt.published {
				stage(t, s, "f", []byte("old"))
			}
			w, err := s.Create("f", Owner{User: "u1", Session: "s1"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteAt([]byte("new content"), 0); err != nil {
				t.Fatal(err)
			}
			if err := tt.op(s); !errors.Is(err, tt.wantErr) {
				t.Errorf("got err %v, want %v", err, tt.wantErr)
			}
			// The writer is unaffected and can still publish.
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := string(contentOf(t, s, "f")); got != "new content" {
				t.Errorf("content after Close: got %q, want %q", got, "new content")
			}
		})
	}
}

// TestCreateAfterClose checks that a name is free again once its writer is
// closed or aborted.
func TestCreateAfterClose(t *testing.T) {
	s := newTestStore(t, 1<<20, 1024)
	for _, end := range []string{"close", "abort"} {
		w, err := s.Create("f", Owner{})
		if err != nil {
			t.Fatalf("Create after %s: %v", end, err)
		}
		if end == "close" {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			w.Abort()
		}
	}
	if _, err := s.Create("f", Owner{}); err != nil {
		t.Errorf("Create after abort: got %v, want nil", err)
	}
}

// TestPublishReplaces checks that Close replaces the old content, frees its
// memory and records the new owner, and that Abort keeps the old content.
func TestPublishReplaces(t *testing.T) {
	const chunk = 1024
	s := newTestStore(t, 16*chunk, chunk)
	old := randomBytes(5*chunk, 1)
	stage(t, s, "fw", old)
	checkStats(t, s, 5*chunk, 5*chunk)

	// An aborted rewrite leaves the old file alone.
	w, err := s.Create("fw", Owner{User: "u2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, 3*chunk), 0); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, 8*chunk, 8*chunk)
	w.Abort()
	checkStats(t, s, 5*chunk, 5*chunk)
	if got := contentOf(t, s, "fw"); !bytes.Equal(got, old) {
		t.Errorf("content after Abort: %s", firstDiff(got, old))
	}

	// A closed rewrite replaces it and frees the old chunks.
	newer := randomBytes(2*chunk+1, 2)
	owner := Owner{User: "u3", Session: "s3"}
	w, err = s.Create("fw", owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(newer, 0); err != nil {
		t.Fatal(err)
	}
	if got := contentOf(t, s, "fw"); !bytes.Equal(got, old) {
		t.Errorf("content before Close: %s", firstDiff(got, old))
	}
	checkStats(t, s, 8*chunk, 5*chunk+int64(len(newer)))
	before := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, 3*chunk, int64(len(newer)))
	if got := contentOf(t, s, "fw"); !bytes.Equal(got, newer) {
		t.Errorf("content after Close: %s", firstDiff(got, newer))
	}
	info, err := s.Stat("fw")
	if err != nil {
		t.Fatal(err)
	}
	if info.Owner != owner || info.Size != int64(len(newer)) || info.Writing || info.ModTime.Before(before) {
		t.Errorf("Stat: got %+v, want owner %+v, size %d, not writing, ModTime >= %v", info, owner, len(newer), before)
	}
}

// TestSnapshot checks that an open File keeps its version readable and its
// memory charged after the name is replaced or removed, until Close.
func TestSnapshot(t *testing.T) {
	const chunk = 1024
	tests := []struct {
		name    string
		change  func(t *testing.T, s *Store)
		newSize int64 // size published under "f" after change, 0 if none
	}{
		{name: "Remove", change: func(t *testing.T, s *Store) {
			if err := s.Remove("f"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "replace by Close", newSize: chunk, change: func(t *testing.T, s *Store) {
			stage(t, s, "f", make([]byte, chunk))
		}},
		{name: "replace by Rename", newSize: 2 * chunk, change: func(t *testing.T, s *Store) {
			stage(t, s, "g", make([]byte, 2*chunk))
			if err := s.Rename("g", "f"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 32*chunk, chunk)
			old := randomBytes(4*chunk-1, 9)
			stage(t, s, "f", old)
			f1, err := s.Open("f")
			if err != nil {
				t.Fatal(err)
			}
			f2, err := s.Open("f")
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, s)
			oldReq, oldBusy := int64(4*chunk), int64(len(old))
			checkStats(t, s, oldReq+tt.newSize, oldBusy+tt.newSize)

			for i, f := range []*File{f1, f2} {
				if got := readFile(t, f); !bytes.Equal(got, old) {
					t.Errorf("snapshot %d after change: %s", i, firstDiff(got, old))
				}
			}
			if err := f1.Close(); err != nil {
				t.Fatal(err)
			}
			checkStats(t, s, oldReq+tt.newSize, oldBusy+tt.newSize) // f2 still holds it
			if err := f2.Close(); err != nil {
				t.Fatal(err)
			}
			checkStats(t, s, tt.newSize, tt.newSize)

			if tt.newSize != 0 {
				if err := s.Remove("f"); err != nil {
					t.Fatal(err)
				}
			}
			checkStats(t, s, 0, 0)
		})
	}
}

// TestRemoveWithoutReaders checks that Remove frees memory at once.
func TestRemoveWithoutReaders(t *testing.T) {
	const chunk = 1024
	s := newTestStore(t, 32*chunk, chunk)
	stage(t, s, "keep", make([]byte, 100))
	base := s.Stats()
	stage(t, s, "f", make([]byte, 5*chunk+1))
	checkStats(t, s, base.Req+6*chunk, base.Busy+5*chunk+1)
	if err := s.Remove("f"); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, base.Req, base.Busy)
	if err := s.Remove("f"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: got %v, want %v", err, ErrNotFound)
	}
}

func TestRename(t *testing.T) {
	const chunk = 1024
	tests := []struct {
		name      string
		old, new  string
		wantErr   error
		wantNames []string
		wantReq   int64
	}{
		{name: "to a free name", old: "a", new: "c", wantNames: []string{"b", "c"}, wantReq: 3 * chunk},
		{name: "replacing a file frees it", old: "a", new: "b", wantNames: []string{"b"}, wantReq: chunk},
		{name: "onto itself", old: "a", new: "a", wantNames: []string{"a", "b"}, wantReq: 3 * chunk},
		{name: "missing source", old: "x", new: "c", wantErr: ErrNotFound, wantNames: []string{"a", "b"}, wantReq: 3 * chunk},
		{name: "empty target", old: "a", new: "", wantErr: fs.ErrInvalid, wantNames: []string{"a", "b"}, wantReq: 3 * chunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, 8*chunk, chunk)
			a := []byte("content of a")
			stage(t, s, "a", a)
			stage(t, s, "b", make([]byte, 2*chunk))
			aInfo, _ := s.Stat("a")
			err := s.Rename(tt.old, tt.new)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Rename(%q, %q): got %v, want %v", tt.old, tt.new, err, tt.wantErr)
			}
			var names []string
			for _, info := range s.List() {
				names = append(names, info.Name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("List: got %v, want %v", names, tt.wantNames)
			}
			if got := s.Stats().Req; got != tt.wantReq {
				t.Errorf("Req: got %d, want %d", got, tt.wantReq)
			}
			if err != nil {
				return
			}
			if got := contentOf(t, s, tt.new); !bytes.Equal(got, a) {
				t.Errorf("content of %q: %s", tt.new, firstDiff(got, a))
			}
			info, err := s.Stat(tt.new)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Info{Name: tt.new, Size: aInfo.Size, ModTime: aInfo.ModTime, Owner: aInfo.Owner}); info != want {
				t.Errorf("Stat(%q): got %+v, want %+v", tt.new, info, want)
			}
		})
	}
}

func TestStatList(t *testing.T) {
	s := newTestStore(t, 1<<20, 1024)
	o1 := Owner{User: "alice", Session: "7"}
	o2 := Owner{User: "bob", Session: "9"}
	stage(t, s, "b.bin", []byte("published"))
	stage(t, s, "c.bin", []byte("old"))
	wa, err := s.Create("a.bin", o1) // writer only
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wa.WriteAt([]byte("x"), 99); err != nil {
		t.Fatal(err)
	}
	wc, err := s.Create("c.bin", o2) // writer over a published file
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Abort()
	if wc.Name() != "c.bin" || wc.Owner() != o2 {
		t.Errorf("Writer: got name %q owner %+v, want %q %+v", wc.Name(), wc.Owner(), "c.bin", o2)
	}

	tests := []struct {
		name     string
		file     string
		wantErr  error
		wantSize int64
		wantOwn  Owner
		wantWrit bool
	}{
		{name: "writer only", file: "a.bin", wantSize: 100, wantOwn: o1, wantWrit: true},
		{name: "published", file: "b.bin", wantSize: 9, wantOwn: Owner{User: "admin", Session: "s1"}},
		{name: "published with writer", file: "c.bin", wantSize: 3, wantOwn: Owner{User: "admin", Session: "s1"}, wantWrit: true},
		{name: "missing", file: "d.bin", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := s.Stat(tt.file)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Stat(%q): got err %v, want %v", tt.file, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if info.Name != tt.file || info.Size != tt.wantSize || info.Owner != tt.wantOwn || info.Writing != tt.wantWrit {
				t.Errorf("Stat(%q): got %+v, want size %d, owner %+v, writing %v", tt.file, info, tt.wantSize, tt.wantOwn, tt.wantWrit)
			}
			if info.ModTime.IsZero() {
				t.Errorf("Stat(%q): got zero ModTime", tt.file)
			}
		})
	}

	list := s.List()
	var got []string
	for _, info := range list {
		got = append(got, fmt.Sprintf("%s:%d:%v", info.Name, info.Size, info.Writing))
	}
	want := []string{"a.bin:100:true", "b.bin:9:false", "c.bin:3:true"}
	if !slices.Equal(got, want) {
		t.Errorf("List: got %v, want %v", got, want)
	}
	if _, err := s.Open("d.bin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(missing): got %v, want %v", err, ErrNotFound)
	}
	if _, err := s.Create("", Owner{}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Create(\"\"): got %v, want %v", err, fs.ErrInvalid)
	}
}

// TestConcurrentStore runs uploads, readers, renames and removals on shared
// names at once (for the race detector) and checks that every byte is
// accounted for once everything is closed.
func TestConcurrentStore(t *testing.T) {
	const chunk = 4096
	s := newTestStore(t, 64*chunk, chunk)
	names := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				name := names[(g+i)%len(names)]
				switch i % 4 {
				case 0, 1:
					w, err := s.Create(name, Owner{Session: fmt.Sprint(g)})
					if err != nil {
						continue // busy: another goroutine is writing it
					}
					data := bytes.Repeat([]byte{byte(g)}, 3*chunk+g)
					if _, err := w.WriteAt(data, int64(i%2)*chunk); err != nil && !errors.Is(err, ErrNoSpace) {
						t.Errorf("WriteAt: %v", err)
					}
					if i%3 == 0 {
						w.Abort()
					} else if err := w.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				case 2:
					f, err := s.Open(name)
					if err != nil {
						continue
					}
					if _, err := f.WriteTo(discard{}); err != nil {
						t.Errorf("WriteTo: %v", err)
					}
					_ = s.Remove(name)
					if err := f.Close(); err != nil {
						t.Errorf("File.Close: %v", err)
					}
				case 3:
					_ = s.Rename(name, names[(g+i+1)%len(names)])
					_ = s.List()
				}
			}
		})
	}
	wg.Wait()
	for _, info := range s.List() {
		if info.Writing {
			t.Errorf("List: %q still has a writer", info.Name)
		}
		if err := s.Remove(info.Name); err != nil {
			t.Errorf("Remove(%q): %v", info.Name, err)
		}
	}
	checkStats(t, s, 0, 0)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
