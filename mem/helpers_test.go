package mem

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// newTestStore returns a Store with the given budget and chunk size.
func newTestStore(t testing.TB, maxBytes int64, chunkSize int) *Store {
	t.Helper()
	s, err := New(Config{MaxBytes: maxBytes, ChunkSize: chunkSize})
	if err != nil {
		t.Fatalf("New(%d, %d): %v", maxBytes, chunkSize, err)
	}
	return s
}

// stage publishes data under name in one write.
func stage(t testing.TB, s *Store, name string, data []byte) {
	t.Helper()
	w, err := s.Create(name, Owner{User: "admin", Session: "s1"})
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatalf("WriteAt(%q): %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close(%q): %v", name, err)
	}
}

// readFile returns the content of a snapshot, read with one ReadAt.
func readFile(t testing.TB, f *File) []byte {
	t.Helper()
	buf := make([]byte, f.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		t.Fatalf("ReadAt(%q): n=%d err=%v", f.Info().Name, n, err)
	}
	return buf[:n]
}

// contentOf opens name and returns its content.
func contentOf(t testing.TB, s *Store, name string) []byte {
	t.Helper()
	f, err := s.Open(name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer f.Close()
	return readFile(t, f)
}

// checkStats compares Req and Busy exactly.
func checkStats(t testing.TB, s *Store, req, busy int64) {
	t.Helper()
	st := s.Stats()
	if st.Req != req || st.Busy != busy {
		t.Errorf("Stats: got Req=%d Busy=%d, want Req=%d Busy=%d", st.Req, st.Busy, req, busy)
	}
	if st.Req > st.Max {
		t.Errorf("Stats: Req=%d exceeds Max=%d", st.Req, st.Max)
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// firstDiff describes where two byte slices first differ, for messages.
func firstDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("byte %d: got %#02x, want %#02x", i, got[i], want[i])
		}
	}
	return "equal"
}
