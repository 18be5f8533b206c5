package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts for the server process. They are bounds, not expectations.
const (
	startTimeout = 20 * time.Second // process start to "ssh listening"
	stopTimeout  = 15 * time.Second // SIGTERM to exit (the server waits up to 5s for sessions)
	toolTimeout  = 60 * time.Second // one client program run
)

// server is a sluice data directory and the process currently serving it.
// It is used by one test goroutine.
type server struct {
	t        *testing.T
	data     string // data directory (DATA)
	config   string // DATA/sluice.toml
	password string // root's password, printed by the first run
	ftp      bool   // also serve FTP on 127.0.0.1:0 (newFTPServer); otherwise FTP is off
	bin      string // the server binary if not sluiceBin (TestMemoryBound)
	proc     *process
	procs    []*process // every start, for the log dump
}

// process is one run of `sluice serve`.
type process struct {
	cmd    *exec.Cmd
	log    *logBuffer // stderr: JSON log lines
	stdout *syncBuffer
	addr   string        // host:port from "ssh listening"
	ftp    string        // host:port from "ftp listening"; "" when FTP is off
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result; valid after done
}

// newDataDir returns a server with a data directory that does not exist
// yet and no process. The cleanup stops a running process, reports data
// races found by a -race server, and dumps the logs if the test failed.
func newDataDir(t *testing.T) *server {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	s := &server{t: t, data: data, config: filepath.Join(data, "sluice.toml")}
	t.Cleanup(func() {
		if s.proc != nil {
			s.stop()
		}
		for i, p := range s.procs {
			if strings.Contains(p.log.String(), "WARNING: DATA RACE") {
				t.Errorf("server run %d reported a data race", i+1)
			}
		}
		if t.Failed() {
			for i, p := range s.procs {
				t.Logf("server run %d stderr (last lines):\n%s", i+1, p.log.tail(300))
			}
		}
	})
	return s
}

// newServer makes a data directory the way an operator does — first run
// (root's password printed once), `sluice user add root --authorized-key`,
// then the given TOML appended to the configuration — and starts serving it.
func newServer(t *testing.T, extraConfig string) *server {
	t.Helper()
	s := newDataDir(t)
	p := s.start()
	pw, ok := p.firstRunPassword()
	if !ok {
		t.Fatalf("first run printed no root password; stdout:\n%s", p.stdout.String())
	}
	s.password = pw
	s.stop()
	if _, stderr, err := runSluice(t, "user", "add", "root", "--data", s.data, "--level", "supervisor",
		"--authorized-key", clientPub); err != nil {
		t.Fatalf("sluice user add: %v\n%s", err, stderr)
	}
	if extraConfig != "" {
		s.appendConfig(extraConfig)
	}
	s.start()
	return s
}

// firstRunPassword reads the password a first run leaves in
// DATA/initial-root-password (stdout is not a terminal, so it is not
// printed). The file is written before the server listens.
func (p *process) firstRunPassword() (string, bool) {
	var data string
	for i, a := range p.cmd.Args {
		if a == "--data" && i+1 < len(p.cmd.Args) {
			data = p.cmd.Args[i+1]
		}
	}
	b, err := os.ReadFile(filepath.Join(data, "initial-root-password"))
	if err != nil || !strings.HasSuffix(string(b), "\n") {
		return "", false
	}
	return strings.TrimSuffix(string(b), "\n"), true
}

// appendConfig adds TOML (tables such as [limits]) to the configuration.
func (s *server) appendConfig(toml string) {
	s.t.Helper()
	f, err := os.OpenFile(s.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n%s\n", toml)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// runSluice runs a non-serving sluice command.
func runSluice(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin, args...)
	cmd.Env = serverEnv(nil)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// serverEnv is the environment of sluice processes: the test's, without
// SLUICE_* variables (such as the crash hook), plus env.
func serverEnv(env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// startProcess runs `sluice serve` on data, with env added to the
// environment, and waits for it to listen. FTP is off unless ftp is set:
// then it listens on 127.0.0.1:0 too. It returns an error if the process
// exits first or takes too long. bin is the server binary; "" is
// sluiceBin.
func startProcess(bin, data string, env []string, ftp bool) (*process, error) {
	ftpAddr := ""
	if ftp {
		ftpAddr = "127.0.0.1:0"
	}
	if bin == "" {
		bin = sluiceBin
	}
	for _, e := range env {
		if strings.HasPrefix(e, "SLUICE_FAULT_STAGE=") {
			bin = sluiceFault // the crash-test hook is not in the production binary
		}
	}
	p := &process{
		cmd: exec.Command(bin, "serve", "--data", data, "--ssh-addr", "127.0.0.1:0", "--ftp-addr", ftpAddr,
			"--log-format", "json", "--log-level", "debug"),
		log:    newLogBuffer(),
		stdout: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.log
	p.cmd.Env = serverEnv(env)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.addr = <-p.log.addr:
		if ftp {
			return p, p.waitFTP()
		}
		return p, nil
	case <-p.done:
		return p, fmt.Errorf("sluice serve exited before listening: %v\nstderr:\n%s", p.err, p.log.String())
	case <-time.After(startTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return p, fmt.Errorf("sluice serve did not listen within %v\nstderr:\n%s", startTimeout, p.log.String())
	}
}

// start starts serving the data directory; it fails the test if it cannot.
func (s *server) start() *process { return s.startEnv(nil) }

// startEnv is start with variables added to the environment.
func (s *server) startEnv(env []string) *process {
	s.t.Helper()
	if s.proc != nil {
		s.t.Fatal("server already running")
	}
	p, err := startProcess(s.bin, s.data, env, s.ftp)
	if p != nil {
		s.procs = append(s.procs, p)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.proc = p
	return p
}

// stop sends SIGTERM and expects a clean exit with status 0.
func (s *server) stop() {
	s.t.Helper()
	p := s.proc
	s.proc = nil
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		s.t.Errorf("server did not exit within %v of SIGTERM", stopTimeout)
		return
	}
	if p.err != nil {
		s.t.Errorf("server exit after SIGTERM: got %v, want status 0", p.err)
	}
}

// kill sends SIGKILL, as a crash or power loss would end the process.
func (s *server) kill() {
	s.t.Helper()
	p := s.proc
	s.proc = nil
	p.cmd.Process.Kill()
	<-p.done
}

// waitExit waits for the process to end on its own and returns Wait's
// result; exited is false if it still ran after timeout (it is then
// killed).
func (s *server) waitExit(timeout time.Duration) (exited bool, waitErr error) {
	s.t.Helper()
	p := s.proc
	s.proc = nil
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		return false, p.err
	}
}

// addr is the listening address of the running process.
func (s *server) addr() string { return s.proc.addr }

// port is the listening port of the running process.
func (s *server) port() string {
	_, port, err := net.SplitHostPort(s.proc.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	return port
}

// event is one JSON log line.
type event map[string]any

func (e event) str(key string) string {
	v, ok := e[key]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// matches reports whether e has the message and every given field.
func (e event) matches(msg string, fields map[string]string) bool {
	if e.str("@message") != msg {
		return false
	}
	for k, v := range fields {
		if e.str(k) != v {
			return false
		}
	}
	return true
}

// waitEvent waits until the running process has logged a matching event.
func (s *server) waitEvent(timeout time.Duration, msg string, fields map[string]string) (event, bool) {
	return s.proc.log.wait(timeout, func(e event) bool { return e.matches(msg, fields) })
}

// logBuffer collects a process's stderr and splits it into lines. The
// first "ssh listening" line sends its address on addr.
type logBuffer struct {
	addr chan string

	mu       sync.Mutex
	partial  []byte
	lines    []string
	sentAddr bool
}

func newLogBuffer() *logBuffer { return &logBuffer{addr: make(chan string, 1)} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := string(b.partial[:i])
		b.partial = b.partial[i+1:]
		b.lines = append(b.lines, line)
		if !b.sentAddr {
			if e, ok := parseEvent(line); ok && e.str("@message") == "ssh listening" {
				b.sentAddr = true
				b.addr <- e.str("addr")
			}
		}
	}
	return len(p), nil
}

func parseEvent(line string) (event, bool) {
	if !strings.HasPrefix(line, "{") {
		return nil, false
	}
	var e event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return nil, false
	}
	return e, true
}

// events returns the JSON lines logged so far.
func (b *logBuffer) events() []event {
	b.mu.Lock()
	lines := append([]string(nil), b.lines...)
	b.mu.Unlock()
	var out []event
	for _, l := range lines {
		if e, ok := parseEvent(l); ok {
			out = append(out, e)
		}
	}
	return out
}

// wait polls for an event satisfying match.
func (b *logBuffer) wait(timeout time.Duration, match func(event) bool) (event, bool) {
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range b.events() {
			if match(e) {
				return e, true
			}
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n") + "\n" + string(b.partial)
}

func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n") + "\n" + string(b.partial)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
