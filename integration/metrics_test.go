package integration

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// errFlagUnknown: the binary does not know --metrics-addr yet.
var errFlagUnknown = errors.New("sluice serve does not know --metrics-addr")

// startMetricsProcess is startProcess with SSH and FTP on 127.0.0.1:0 and
// --metrics-addr 127.0.0.1:0; it also waits for "metrics listening" and
// returns that address.
func startMetricsProcess(data string) (*process, string, error) {
	p := &process{
		cmd: exec.Command(sluiceBin, "serve", "--data", data, "--ssh-addr", "127.0.0.1:0", "--ftp-addr", "127.0.0.1:0",
			"--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"),
		log:    newLogBuffer(),
		stdout: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.log
	p.cmd.Env = serverEnv(nil)
	if err := p.cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.addr = <-p.log.addr:
	case <-p.done:
		out := p.log.String()
		if strings.Contains(out, "metrics-addr") && (strings.Contains(out, "not defined") || strings.Contains(out, "unknown flag")) {
			return p, "", errFlagUnknown
		}
		return p, "", fmt.Errorf("sluice serve exited before listening: %v\nstderr:\n%s", p.err, out)
	case <-time.After(startTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return p, "", fmt.Errorf("sluice serve did not listen within %v\nstderr:\n%s", startTimeout, p.log.String())
	}
	if err := p.waitFTP(); err != nil {
		return p, "", err
	}
	e, ok := p.log.wait(startTimeout, func(e event) bool { return e.str("@message") == "metrics listening" })
	if !ok {
		return p, "", fmt.Errorf("no \"metrics listening\" line within %v\nstderr:\n%s", startTimeout, p.log.String())
	}
	return p, e.str("addr"), nil
}

// scrape fetches /metrics with curl and returns each sample by its
// series as the text format prints it: name{label="value",...}.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	r := tool(t, t.TempDir(), "", requireTool(t, "curl"), "-sS", "--fail", "--max-time", "30", "http://"+addr+"/metrics")
	if r.exit != 0 {
		t.Fatalf("curl /metrics: %v", r)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("/metrics: malformed line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics: with --metrics-addr, curl /metrics shows the counters
// moving after real transfers: an OpenSSH sftp upload, commit and
// download, a curl FTP upload and a refused FTP password; the staging
// gauge holds the staged bytes; the session gauges return to zero.
func TestMetrics(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	requireTool(t, "sftp")
	s := newServer(t, "")
	s.stop()
	p, maddr, err := startMetricsProcess(s.data)
	if p != nil {
		s.procs = append(s.procs, p)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
	s.ftp = true

	if err := checkLoopbackOnly(t); err != nil {
		t.Error(err)
	}

	before := scrape(t, maddr)
	for _, name := range []string{"sluice_staging_max_bytes", "sluice_session_slots_max", "process_resident_memory_bytes",
		`sluice_logins_total{front_end="ssh",result="ok"}`, `sluice_sessions{front_end="ftp"}`} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics before any session lacks %s", name)
		}
	}

	work := t.TempDir()
	const sshBytes, ftpBytes = 300_001, 123_457
	writeFile(t, work, "up.dat", randomBytes(sshBytes, 7))
	writeFile(t, work, "ftp.dat", randomBytes(ftpBytes, 8))
	if r := s.sftpBatch(t, work, "put up.dat /mem/m.dat\nrename /mem/m.dat /dsk/m.dat\nget /dsk/m.dat back.dat\nput up.dat /mem/kept.dat\n"); r.exit != 0 {
		t.Fatalf("sftp put, rename, get: %v", r)
	}
	if r := s.curl(t, work, "-T", "ftp.dat", "ftp://"+s.ftpAddr()+"/"); r.exit != 0 {
		t.Fatalf("curl -T: %v", r)
	}
	bad := tool(t, work, "", requireTool(t, "curl"), "-sS", "--user", "root:wrong", "--max-time", "60", "ftp://"+s.ftpAddr()+"/")
	if bad.exit == 0 {
		t.Errorf("curl with a wrong password succeeded: %v", bad)
	}
	// The session end events are written as the connections close, maybe
	// after the clients have exited: wait (bounded) for the gauges.
	var after map[string]float64
	for deadline := time.Now().Add(startTimeout); ; {
		after = scrape(t, maddr)
		idle := after[`sluice_sessions{front_end="ssh"}`] == 0 && after[`sluice_sessions{front_end="ftp"}`] == 0 &&
			after["sluice_session_slots_used"] == 0
		if idle || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	grew := []struct {
		series string
		by     float64
	}{
		{`sluice_logins_total{front_end="ssh",result="ok"}`, 1},
		{`sluice_logins_total{front_end="ftp",result="ok"}`, 1},
		{`sluice_logins_total{front_end="ftp",result="failed"}`, 1},
		{`sluice_transfers_total{direction="upload",front_end="ssh",result="ok"}`, 2},
		{`sluice_transfers_total{direction="download",front_end="ssh",result="ok"}`, 1},
		{`sluice_transfers_total{direction="upload",front_end="ftp",result="ok"}`, 1},
		{`sluice_transfer_bytes_total{direction="upload",front_end="ssh"}`, 2 * sshBytes},
		{`sluice_transfer_bytes_total{direction="download",front_end="ssh"}`, sshBytes},
		{`sluice_transfer_bytes_total{direction="upload",front_end="ftp"}`, ftpBytes},
		{`sluice_commits_total{front_end="ssh",result="ok"}`, 1},
	}
	for _, g := range grew {
		if got := after[g.series] - before[g.series]; got != g.by {
			t.Errorf("%s: went from %v to %v (by %v), want by %v", g.series, before[g.series], after[g.series], got, g.by)
		}
	}
	// /mem holds kept.dat (SFTP) and ftp.dat (FTP secure mode stages).
	if got := after["sluice_staging_used_bytes"]; got != sshBytes+ftpBytes {
		t.Errorf("sluice_staging_used_bytes = %v, want %d (two staged files)", got, sshBytes+ftpBytes)
	}
	for _, g := range []string{`sluice_sessions{front_end="ssh"}`, `sluice_sessions{front_end="ftp"}`, "sluice_session_slots_used"} {
		if after[g] != 0 {
			t.Errorf("%s = %v after every client left, want 0", g, after[g])
		}
	}
}

// checkLoopbackOnly: serve refuses a metrics address that is not
// loopback, before any first-run side effect.
func checkLoopbackOnly(t *testing.T) error {
	t.Helper()
	data := filepath.Join(t.TempDir(), "new")
	_, stderr, err := runSluice(t, "serve", "--data", data, "--metrics-addr", "0.0.0.0:0")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		return fmt.Errorf("serve --metrics-addr 0.0.0.0:0: got %v (stderr %q), want exit status 2", err, stderr)
	}
	if !strings.Contains(stderr, "loopback") {
		return fmt.Errorf("serve --metrics-addr 0.0.0.0:0: stderr %q, want it to say loopback", stderr)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("serve --metrics-addr 0.0.0.0:0 made the data directory (first run) before refusing: %v", err)
	}
	return nil
}
