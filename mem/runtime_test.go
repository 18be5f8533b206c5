package mem

import (
	"math"
	"runtime/debug"
	"testing"
	"time"
)

// waitTimeout bounds waits for the returner's timer: a bound, not an
// expectation.
const waitTimeout = 10 * time.Second

// returnStore returns a Store whose returns are counted on the returned
// channel instead of calling debug.FreeOSMemory.
func returnStore(t *testing.T, cfg Config) (*Store, chan struct{}) {
	t.Helper()
	calls := make(chan struct{}, 16)
	cfg.Return = func() { calls <- struct{}{} }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, calls
}

// writeChunks opens name and writes n chunks of s into it.
func writeChunks(t *testing.T, s *Store, name string, n int) *Writer {
	t.Helper()
	w, err := s.Create(name, Owner{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, n*s.ChunkSize()), 0); err != nil {
		t.Fatal(err)
	}
	return w
}

// stageChunks publishes n chunks under name.
func stageChunks(t *testing.T, s *Store, name string, n int) {
	t.Helper()
	if err := writeChunks(t, s, name, n).Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReturnAfterFree checks that every way of freeing chunks hands the
// memory back once the threshold is reached.
func TestReturnAfterFree(t *testing.T) {
	const chunk = 1024
	tests := []struct {
		name string
		free func(t *testing.T, s *Store) // frees 4 chunks
	}{
		{name: "Remove", free: func(t *testing.T, s *Store) {
			stageChunks(t, s, "f", 4)
			if err := s.Remove("f"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Abort", free: func(t *testing.T, s *Store) { writeChunks(t, s, "f", 4).Abort() }},
		{name: "Truncate", free: func(t *testing.T, s *Store) {
			w := writeChunks(t, s, "f", 5)
			if err := w.Truncate(chunk); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Suspend", free: func(t *testing.T, s *Store) {
			if err := writeChunks(t, s, "f", 5).Suspend(chunk); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Rename over a file", free: func(t *testing.T, s *Store) {
			stageChunks(t, s, "old", 4)
			stageChunks(t, s, "new", 1)
			if err := s.Rename("new", "old"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Close replacing a file", free: func(t *testing.T, s *Store) {
			stageChunks(t, s, "f", 4)
			stageChunks(t, s, "f", 1)
		}},
		{name: "last Close of a removed file's snapshot", free: func(t *testing.T, s *Store) {
			stageChunks(t, s, "f", 4)
			f, err := s.Open("f")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Remove("f"); err != nil {
				t.Fatal(err)
			}
			s.ret.mu.Lock()
			pending := s.ret.pending
			s.ret.mu.Unlock()
			if pending != 0 {
				t.Errorf("pending with a snapshot open: got %d, want 0", pending)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, calls := returnStore(t, Config{MaxBytes: 64 * chunk, ChunkSize: chunk, ReturnThreshold: 4 * chunk})
			tt.free(t, s)
			select {
			case <-calls:
			case <-time.After(waitTimeout):
				t.Fatalf("no return within %v of freeing 4 chunks", waitTimeout)
			}
		})
	}
}

// TestReturnBelowThreshold checks that small frees only add up.
func TestReturnBelowThreshold(t *testing.T) {
	const chunk = 1024
	s, calls := returnStore(t, Config{MaxBytes: 64 * chunk, ChunkSize: chunk, ReturnThreshold: 4 * chunk})
	for i := range 3 {
		writeChunks(t, s, "f", 1).Abort()
		s.ret.mu.Lock()
		pending, scheduled := s.ret.pending, s.ret.scheduled
		s.ret.mu.Unlock()
		if want := int64(i+1) * chunk; pending != want || scheduled {
			t.Fatalf("after %d frees: got pending %d scheduled %v, want %d false", i+1, pending, scheduled, want)
		}
	}
	writeChunks(t, s, "f", 1).Abort() // the fourth reaches the threshold
	select {
	case <-calls:
	case <-time.After(waitTimeout):
		t.Fatalf("no return within %v of reaching the threshold", waitTimeout)
	}
}

// TestReturnInterval checks that returns are rate-limited and that a free
// within the interval is returned at its end, not dropped.
func TestReturnInterval(t *testing.T) {
	const chunk = 1024
	s, calls := returnStore(t, Config{MaxBytes: 64 * chunk, ChunkSize: chunk, ReturnThreshold: chunk,
		ReturnInterval: time.Hour})
	writeChunks(t, s, "a", 1).Abort()
	select {
	case <-calls:
	case <-time.After(waitTimeout):
		t.Fatalf("no first return within %v", waitTimeout)
	}
	// The first return has ended once scheduled is false again.
	deadline := time.Now().Add(waitTimeout)
	for {
		s.ret.mu.Lock()
		done := !s.ret.scheduled
		s.ret.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first return did not end within %v", waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	writeChunks(t, s, "b", 2).Abort()
	writeChunks(t, s, "c", 2).Abort()
	s.ret.mu.Lock()
	pending, scheduled := s.ret.pending, s.ret.scheduled
	s.ret.mu.Unlock()
	if pending != 4*chunk || !scheduled {
		t.Errorf("within the interval: got pending %d scheduled %v, want %d true (returned at its end)", pending, scheduled, 4*chunk)
	}
	select {
	case <-calls:
		t.Error("a second return within the interval")
	default:
	}
}

// TestReturnConfig checks the defaults and that a negative threshold turns
// returning off.
func TestReturnConfig(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		off           bool
		wantThreshold int64
		wantInterval  time.Duration
	}{
		{name: "defaults", cfg: Config{MaxBytes: 64 << 20}, wantThreshold: 8 << 20, wantInterval: DefaultReturnInterval},
		{name: "at least one chunk", cfg: Config{MaxBytes: 4096, ChunkSize: 1024}, wantThreshold: 1024, wantInterval: DefaultReturnInterval},
		{name: "set", cfg: Config{MaxBytes: 1 << 20, ReturnThreshold: 5, ReturnInterval: time.Minute}, wantThreshold: 5, wantInterval: time.Minute},
		{name: "off", cfg: Config{MaxBytes: 1 << 20, ReturnThreshold: -1}, off: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.off {
				if s.ret != nil {
					t.Errorf("got a returner, want none")
				}
				writeChunks(t, s, "f", 1).Abort() // a nil returner ignores frees
				return
			}
			if s.ret == nil {
				t.Fatal("got no returner")
			}
			if s.ret.threshold != tt.wantThreshold || s.ret.interval != tt.wantInterval || s.ret.fn == nil {
				t.Errorf("got threshold %d interval %v fn set %v, want %d %v true",
					s.ret.threshold, s.ret.interval, s.ret.fn != nil, tt.wantThreshold, tt.wantInterval)
			}
		})
	}
	if _, err := New(Config{MaxBytes: 1 << 20, ReturnInterval: -time.Second}); err == nil {
		t.Error("New with a negative ReturnInterval: got nil error")
	}
}

// TestLimitRuntime checks the limit LimitRuntime sets and that it keeps a
// limit set before (GOMEMLIMIT). It restores the process's limit.
func TestLimitRuntime(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	if orig != math.MaxInt64 {
		t.Skipf("a memory limit is set (GOMEMLIMIT?): %d", orig)
	}
	// Large values, so the test process's collector is not affected.
	const maxBytes, sessions = 64 << 30, 16
	want := int64(RSSBase + maxBytes + sessions*SessionBudget - RSSMargin)
	limit, set := LimitRuntime(maxBytes, sessions)
	if limit != want || !set {
		t.Errorf("first call: got %d %v, want %d true", limit, set, want)
	}
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("runtime limit: got %d, want %d", got, want)
	}
	limit, set = LimitRuntime(1<<40, 1)
	if limit != want || set {
		t.Errorf("with a limit set: got %d %v, want %d false", limit, set, want)
	}
	if got, want := RSSBound(64<<20, 16), int64(RSSBase+64<<20+16*SessionBudget); got != want {
		t.Errorf("RSSBound(64 MiB, 16): got %d, want %d", got, want)
	}
}
