package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tempPrefix starts the names of sluice's temporary files in host
// directories (DESIGN §2).
const tempPrefix = ".sluice-tmp-"

// TestCrashDuringCommit kills the server (SIGKILL) while a 64 MiB commit
// from /mem replaces /dsk/target.dat, at several points, and restarts it
// on the same data directory. Each time the target must hold exactly the
// old or the new content, never a mix; the temporary file is gone after
// the restart; and no listing, during the commit or after it, shows a
// temporary file. A rename the server acknowledged must have landed.
func TestCrashDuringCommit(t *testing.T) {
	t.Parallel()
	size := 64 << 20
	switch {
	case testing.Short():
		size = 16 << 20
	case raceEnabled:
		size = 32 << 20 // the race-instrumented server copies slowly
	}
	s := newServer(t, "")
	dsk := filepath.Join(s.data, "dsk")
	target := filepath.Join(dsk, "target.dat")
	contents := [2][]byte{randomBytes(size, 10), randomBytes(size, 11)}
	sums := [2][32]byte{sha256.Sum256(contents[0]), sha256.Sum256(contents[1])}
	which := func(sum [32]byte) int {
		for i := range sums {
			if sum == sums[i] {
				return i
			}
		}
		return -1
	}

	c := s.sftpClient(t)
	if err := upload(c, "/mem/a", contents[0]); err != nil {
		t.Fatalf("stage A: %v", err)
	}
	if err := c.Rename("/mem/a", "/dsk/target.dat"); err != nil {
		t.Fatalf("commit A: %v", err)
	}
	c.Close()
	if got := which(fileSHA256(t, target)); got != 0 {
		t.Fatalf("DATA/dsk/target.dat after commit of A: got content %d, want 0 (A)", got)
	}

	// A kill either a fixed time after the RENAME is sent, or once the
	// temporary file exists (so that some kills surely land mid-copy).
	type point struct {
		afterTemp bool
		delay     time.Duration
	}
	points := []point{
		{false, 0}, {false, 5 * time.Millisecond}, {false, 20 * time.Millisecond},
		{false, 50 * time.Millisecond}, {false, 100 * time.Millisecond}, {false, 150 * time.Millisecond},
		{false, 200 * time.Millisecond}, {false, 250 * time.Millisecond}, {false, 400 * time.Millisecond},
		{true, 0}, {true, 2 * time.Millisecond}, {true, 10 * time.Millisecond}, {true, 30 * time.Millisecond},
	}
	if testing.Short() {
		points = []point{{false, 5 * time.Millisecond}, {true, 0}, {true, 10 * time.Millisecond}}
	}
	cur := 0      // content now in target.dat
	leftover := 0 // rounds that left a temporary file behind
	outcome := map[string]int{}
	for round, pt := range points {
		name := fmt.Sprintf("round %d (after temp %v, +%v)", round+1, pt.afterTemp, pt.delay)
		next := 1 - cur
		c := s.sftpClient(t)
		if err := upload(c, "/mem/b", contents[next]); err != nil {
			t.Fatalf("%s: stage: %v", name, err)
		}
		watcher := s.sftpClient(t)

		stopList := make(chan struct{})
		listed := make(chan []string, 1)
		go func() { listed <- listUntil(watcher, "/dsk", stopList) }()

		renamed := make(chan error, 1)
		go func() { renamed <- c.Rename("/mem/b", "/dsk/target.dat") }()
		if pt.afterTemp {
			waitTemp(dsk, renamed, 10*time.Second)
		}
		time.Sleep(pt.delay)
		s.kill()
		close(stopList)
		var acked bool
		select {
		case err := <-renamed:
			acked = err == nil
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: RENAME neither answered nor failed 10s after the kill", name)
		}
		for _, n := range <-listed {
			if strings.HasPrefix(n, tempPrefix) {
				t.Errorf("%s: listing of /dsk during the commit showed %q", name, n)
			}
		}
		temps := tempFiles(t, dsk)
		if len(temps) > 0 {
			leftover++
		}

		s.start()
		for _, tmp := range temps {
			if _, ok := s.waitEvent(5*time.Second, "removed temporary file left by a crash",
				map[string]string{"name": tmp}); !ok {
				t.Errorf("%s: restart did not log removing %s", name, tmp)
			}
		}
		if got := tempFiles(t, dsk); len(got) != 0 {
			t.Errorf("%s: temporary files in DATA/dsk after restart: %q, want none", name, got)
		}
		got := which(fileSHA256(t, target))
		switch {
		case got < 0:
			t.Fatalf("%s: DATA/dsk/target.dat is neither the old nor the new content", name)
		case acked && got != next:
			t.Errorf("%s: RENAME was acknowledged but target.dat holds the old content", name)
		}
		if got == next {
			outcome["new"]++
		} else {
			outcome["old"]++
		}
		cur = got

		c = s.sftpClient(t)
		for _, dir := range []string{"/dsk", "/mem"} {
			ents, err := c.ReadDir(dir)
			if err != nil {
				t.Fatalf("%s: ls %s after restart: %v", name, dir, err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			want := []string{"target.dat"}
			if dir == "/mem" {
				want = nil // RAM: empty after a restart
			}
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Errorf("%s: ls %s after restart: got %q, want %q", name, dir, names, want)
			}
		}
		c.Close()
	}
	t.Logf("%d rounds: %v; %d left a temporary file", len(points), outcome, leftover)
	if leftover == 0 {
		t.Errorf("no kill landed during a commit (no temporary file ever left behind); the test did not test the crash window")
	}
}

// TestCrashAtCommitStage uses the server's crash-test hook
// (SLUICE_FAULT_STAGE: the process SIGKILLs itself when a commit reaches
// the stage) to crash at exact points of a commit from /mem over an
// existing /dsk file, then restarts without it. Before the rename the old
// file must be intact; after it the new one must be complete; a temporary
// file left behind is removed at start-up.
func TestCrashAtCommitStage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage    string
		wantNew  bool // target holds the new content after the restart
		wantTemp bool // a temporary file was left by the crash
	}{
		{"partial", false, true},
		{"synced", false, true},
		{"renamed", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, "")
			dsk := filepath.Join(s.data, "dsk")
			target := filepath.Join(dsk, "target.dat")
			// Several 1 MiB copy chunks, so that "partial" is partial.
			old, next := randomBytes(4<<20+5, 20), randomBytes(4<<20+5, 21)
			c := s.sftpClient(t)
			if err := upload(c, "/dsk/target.dat", old); err != nil {
				t.Fatalf("write old target: %v", err)
			}
			c.Close()
			s.stop()

			s.startEnv([]string{"SLUICE_FAULT_STAGE=" + tt.stage})
			if _, ok := s.waitEvent(5*time.Second, "crash test mode: will kill itself at a commit stage",
				map[string]string{"stage": tt.stage}); !ok {
				t.Fatalf("server does not announce SLUICE_FAULT_STAGE=%s; crash hook missing", tt.stage)
			}
			c = s.sftpClient(t)
			if err := upload(c, "/mem/new", next); err != nil {
				t.Fatalf("stage new content: %v", err)
			}
			if err := c.Rename("/mem/new", "/dsk/target.dat"); err == nil {
				t.Errorf("RENAME: got OK, want the connection lost (server killed at %s)", tt.stage)
			}
			exited, err := s.waitExit(10 * time.Second)
			if !exited {
				t.Fatalf("server still running 10s after the commit reached %s", tt.stage)
			}
			if err == nil || !strings.Contains(err.Error(), "killed") {
				t.Errorf("server exit: got %v, want killed by SIGKILL", err)
			}
			temps := tempFiles(t, dsk)
			if got := len(temps) > 0; got != tt.wantTemp {
				t.Errorf("temporary file after a crash at %s: got %q, want present=%v", tt.stage, temps, tt.wantTemp)
			}

			s.start()
			for _, tmp := range temps {
				if _, ok := s.waitEvent(5*time.Second, "removed temporary file left by a crash",
					map[string]string{"name": tmp}); !ok {
					t.Errorf("restart did not log removing %s", tmp)
				}
			}
			if got := tempFiles(t, dsk); len(got) != 0 {
				t.Errorf("temporary files after restart: got %q, want none", got)
			}
			want, wantName := old, "old"
			if tt.wantNew {
				want, wantName = next, "new"
			}
			if got := fileSHA256(t, target); got != sha256.Sum256(want) {
				t.Errorf("DATA/dsk/target.dat after a crash at %s: got another content, want the %s one", tt.stage, wantName)
			}
			if got, err := download(s.sftpClient(t), "/dsk/target.dat"); err != nil || !bytes.Equal(got, want) {
				t.Errorf("get /dsk/target.dat after restart: got %d bytes (err %v), want the %d bytes of the %s content",
					len(got), err, len(want), wantName)
			}
		})
	}
}

// listUntil lists dir over and over until stop is closed or the
// connection fails, and returns every name seen.
func listUntil(c *sftpClient, dir string, stop <-chan struct{}) []string {
	var seen []string
	for {
		select {
		case <-stop:
			return seen
		default:
		}
		ents, err := c.ReadDir(dir)
		if err != nil {
			return seen
		}
		for _, e := range ents {
			seen = append(seen, e.Name())
		}
	}
}

// waitTemp returns once a temporary file exists in dir, the rename has
// ended (it is put back on renamed), or the timeout passes.
func waitTemp(dir string, renamed chan error, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tempPrefix) {
				return
			}
		}
		select {
		case err := <-renamed:
			renamed <- err
			return
		default:
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// tempFiles lists sluice's temporary files in a host directory.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
