package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/mem"
)

// The memory bound of issue 8 (docs/performance.md, "Memory bound").
const (
	memSessions   = 16       // parallel uploads, one SSH connection each
	memUploadSize = 48 << 20 // bytes per upload
	memMaxBytes   = 64 << 20 // [mem] max_bytes
	// memReturnSlack is how far above its RSS before the uploads the
	// server may stay once the files are deleted.
	memReturnSlack = 16 << 20
	// memReturnTimeout bounds the wait for the RSS to fall.
	memReturnTimeout = 30 * time.Second
	// memPhaseTimeout bounds each round of parallel uploads: a bound, not
	// an expectation (CI runs the client side under -race).
	memPhaseTimeout = 5 * time.Minute
)

// TestMemoryBound runs 16 parallel 48 MiB SFTP uploads against a 64 MiB
// staging buffer, and then 16 to /dsk with the buffer full, and checks
// that the server's peak RSS (VmHWM) stays within the documented bound,
// mem.RSSBound(max_bytes, max_sessions), and that deleting the files gives
// the memory back: the RSS falls to within 16 MiB of what it was before the
// uploads, within 30 s.
func TestMemoryBound(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	bin := memoryServerBinary(t)
	s := newServer(t, fmt.Sprintf("[limits]\nmax_sessions = %d\nmax_sessions_per_ip = %d\n\n[mem]\nmax_bytes = %d\n",
		memSessions, memSessions, memMaxBytes))
	s.stop()
	s.bin = bin
	s.start()
	bound := mem.RSSBound(memMaxBytes, memSessions)
	wantLimit := bound - mem.RSSMargin
	if e, ok := s.waitEvent(5*time.Second, "memory limit", nil); !ok || e["go_mem_limit"] != float64(wantLimit) {
		t.Errorf("memory limit log line: got %v, want go_mem_limit=%d", e, wantLimit)
	}
	pid := s.proc.cmd.Process.Pid

	clients := make([]*sftpClient, memSessions)
	for i := range clients {
		clients[i] = s.sftpClient(t) // one after the other: no pre-authentication limit applies
	}
	before := procStatus(t, pid, "VmRSS")
	t.Logf("with %d sessions, before the uploads: VmRSS %d KiB", memSessions, before>>10)
	data := randomBytes(memUploadSize, 8)

	// 1. 16 × 48 MiB into /mem: at most one fits; the others must fail
	// with the manual's text, and nothing partial may stay.
	errs := parallelUploads(t, clients, "/mem/up%02d.dat", data)
	var staged []string
	for i, err := range errs {
		p := fmt.Sprintf("/mem/up%02d.dat", i)
		var se *sftp.StatusError
		switch {
		case err == nil:
			staged = append(staged, p)
		case errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxFailure &&
			strings.Contains(err.Error(), `"Unable to allocate write buffer"`):
		default:
			t.Errorf("upload %s: got %v, want success or FAILURE \"Unable to allocate write buffer\"", p, err)
		}
	}
	if len(staged) > memMaxBytes/memUploadSize {
		t.Errorf("%d uploads of %d bytes into a %d-byte buffer succeeded: %v", len(staged), memUploadSize, memMaxBytes, staged)
	}
	names := listNames(t, clients[0], "/mem")
	if !equalSets(names, staged) {
		t.Errorf("/mem after the uploads: got %v, want the successful uploads %v", names, staged)
	}
	for _, p := range staged {
		got, err := download(clients[0], p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("download %s: %v, %s", p, err, diffAt(got, data))
		}
	}
	t.Logf("16 × 48 MiB into /mem: %d staged, %d refused; VmHWM %d KiB", len(staged), memSessions-len(staged),
		procStatus(t, pid, "VmHWM")>>10)

	// 2. The worst case: the buffer full, and every session uploading
	// 48 MiB to /dsk.
	for _, p := range staged {
		if err := clients[0].Remove(p); err != nil {
			t.Fatalf("remove %s: %v", p, err)
		}
	}
	if err := upload(clients[0], "/mem/fill.dat", make([]byte, memMaxBytes)); err != nil {
		t.Fatalf("fill /mem with %d bytes: %v", memMaxBytes, err)
	}
	for i, err := range parallelUploads(t, clients, "/dsk/up%02d.dat", data) {
		if err != nil {
			t.Errorf("upload /dsk/up%02d.dat: %v", i, err)
		}
	}
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("peak (VmHWM) %d KiB = %.1f MiB; bound %d KiB = %d MiB + max_bytes + %d × %d MiB",
		peak>>10, float64(peak)/(1<<20), bound>>10, mem.RSSBase>>20, memSessions, mem.SessionBudget>>20)
	if peak > bound {
		t.Errorf("peak RSS (VmHWM) %d KiB exceeds the documented bound %d KiB", peak>>10, bound>>10)
	}

	// 3. Deleting the files gives the memory back.
	for i := range clients {
		if err := clients[i].Remove(fmt.Sprintf("/dsk/up%02d.dat", i)); err != nil {
			t.Errorf("remove /dsk/up%02d.dat: %v", i, err)
		}
	}
	if err := clients[0].Remove("/mem/fill.dat"); err != nil {
		t.Fatalf("remove /mem/fill.dat: %v", err)
	}
	deleted := time.Now()
	want := before + memReturnSlack
	for {
		rss := procStatus(t, pid, "VmRSS")
		if rss <= want {
			t.Logf("VmRSS %d KiB %.1f s after the deletes (before the uploads + 16 MiB: %d KiB)",
				rss>>10, time.Since(deleted).Seconds(), want>>10)
			break
		}
		if time.Since(deleted) > memReturnTimeout {
			t.Errorf("VmRSS %d KiB %v after the deletes, want at most %d KiB (before the uploads + 16 MiB)",
				rss>>10, memReturnTimeout, want>>10)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parallelUploads uploads data with every client at once, client i to
// fmt.Sprintf(pattern, i), and returns each upload's error. It fails the
// test if they take longer than memPhaseTimeout.
func parallelUploads(t *testing.T, clients []*sftpClient, pattern string, data []byte) []error {
	t.Helper()
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { errs[i] = upload(c, fmt.Sprintf(pattern, i), data) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(memPhaseTimeout):
		for _, c := range clients {
			c.Close() // ends the uploads, so the goroutines end
		}
		<-done
		t.Fatalf("%d parallel uploads to %s did not end within %v", len(clients), pattern, memPhaseTimeout)
	}
	return errs
}

// listNames returns the full paths of the files in dir.
func listNames(t *testing.T, c *sftpClient, dir string) []string {
	t.Helper()
	infos, err := c.ReadDir(dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, dir+"/"+fi.Name())
	}
	return names
}

// equalSets reports whether a and b hold the same strings, in any order.
func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// procStatus returns a "kB" field of /proc/PID/status (VmRSS, VmHWM) in
// bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/status %s: %v", pid, line, err)
		}
		return kb << 10
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// memoryServerBinary returns a server binary built without -race: the
// race detector's shadow memory would be measured too. Under -race it is
// built here; otherwise it is sluiceBin.
func memoryServerBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return sluiceBin
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sluice-norace")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sluice")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -o %s ./cmd/sluice: %v\n%s", bin, err, out)
	}
	return bin
}
