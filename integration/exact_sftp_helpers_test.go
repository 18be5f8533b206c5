package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// settleTimeout bounds a wait for a state the server reaches on its own
// (an upload cut by the connection becoming an incomplete staged file, an
// sshfs release reaching the server). It is a safety bound, not an
// expectation.
const settleTimeout = 30 * time.Second

// sftpExactConfig lets one test's clients hold several sessions at once
// (rclone pools connections, sshfs keeps one open while other clients
// run); the default allows 4 per address.
const sftpExactConfig = "[limits]\nmax_sessions = 32\nmax_sessions_per_ip = 32\nlogin_fail_delay = \"10ms\""

// debianPython is Debian's interpreter, which has python3-paramiko; the
// python3 first on PATH may be another one (pyenv) without it.
const debianPython = "/usr/bin/python3"

// requirePythonModule returns debianPython if it can import module; otherwise
// the test is skipped, or fails when CI is set (CI installs it).
func requirePythonModule(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import "+module).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("%s cannot import %s: %v %s", debianPython, module, err, bytes.TrimSpace(out))
		if os.Getenv("CI") != "" {
			t.Fatalf("%s and CI is set", msg)
		}
		t.Skip(msg)
	}
	return debianPython
}

// clientErrors drops the line OpenSSH prints for a host key it adds to the
// (null) known-hosts file; what remains is the client's error output.
func clientErrors(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "Warning: Permanently added") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// opensshCommand is an OpenSSH ssh command line for clients that run ssh
// themselves (lftp, sshfs's ssh_command): the test key and no prompts.
func opensshCommand() string {
	return "ssh -a -x " + strings.Join(opensshOptions(), " ")
}

// wantHostBytes checks that the host file p holds exactly want.
func wantHostBytes(t *testing.T, what, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	switch {
	case err != nil:
		t.Errorf("%s: DATA/%s: %v, want %d bytes", what, dataRel(p), err, len(want))
	case !bytes.Equal(got, want):
		t.Errorf("%s: DATA/%s: got %d bytes%s, want the %d bytes sent", what, dataRel(p), len(got), diffAt(got, want), len(want))
	}
}

// waitHostBytes waits until the host file p holds want (a FUSE release
// reaches sshfs, and so the server, after close(2) has returned), then
// checks it.
func waitHostBytes(t *testing.T, what, p string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		if got, err := os.ReadFile(p); err == nil && bytes.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantHostBytes(t, what, p, want)
}

// wantResumed checks that the server's last upload to p (its audit
// record) took exactly n bytes from the client and succeeded: a resumed
// upload sends only what was missing.
func (s *server) wantResumed(t *testing.T, what, p string, n int) {
	t.Helper()
	match := func(e event) bool {
		return e.matches("transfer", map[string]string{"direction": "upload", "path": p, "result": "ok"})
	}
	var last event
	_, ok := s.proc.log.wait(settleTimeout, func(e event) bool {
		if !match(e) {
			return false
		}
		last = e
		b, _ := e["bytes"].(float64)
		return int(b) == n
	})
	if !ok {
		t.Errorf("%s: server's last upload to %s: got %v, want one of %d bytes (only the missing part)", what, p, last, n)
	}
}

// dataRel shortens a path under a data directory for messages.
func dataRel(p string) string {
	dir, file := filepath.Split(p)
	return filepath.Join(filepath.Base(dir), file)
}

// diffAt describes where got and want first differ.
func diffAt(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (first difference at byte %d)", i)
		}
	}
	return ""
}

// stagedEntry is a /mem listing entry as a client sees it.
type stagedEntry struct {
	size int64
	mode os.FileMode
}

// stagedListing lists /mem through a fresh pkg/sftp session.
func (s *server) stagedListing(t *testing.T) map[string]stagedEntry {
	t.Helper()
	c := s.sftpClient(t)
	defer c.Close()
	ents, err := c.ReadDir("/mem")
	if err != nil {
		t.Fatalf("ls /mem: %v", err)
	}
	out := map[string]stagedEntry{}
	for _, e := range ents {
		out[e.Name()] = stagedEntry{size: e.Size(), mode: e.Mode()}
	}
	return out
}

// incompletePerm is how an upload cut short is listed: write-only, so
// that a client can resume it but not read it.
const incompletePerm os.FileMode = 0o200

// waitCutStaged waits until /mem/name is listed as an incomplete staged
// file and returns its size.
func (s *server) waitCutStaged(t *testing.T, name string) int64 {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	var last map[string]stagedEntry
	for time.Now().Before(deadline) {
		last = s.stagedListing(t)
		if e, ok := last[name]; ok && e.mode.Perm() == incompletePerm {
			return e.size
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("/mem/%s: got listing %v, want it listed incomplete (mode %v) within %v", name, last, incompletePerm, settleTimeout)
	return 0
}

// mountSmallTmpfs mounts a tmpfs of the given size (mount(8) syntax: "1m") on
// a new directory and unmounts it at the end of the test. It skips the
// test when mounting is not possible, unless CI is set.
func mountSmallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0750", "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("mount -t tmpfs on %s: %v %s", dir, err, bytes.TrimSpace(out))
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set)", msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, bytes.TrimSpace(out))
		}
	})
	return dir
}

// sshfsMount mounts the server's tree with sshfs in the foreground (the
// test owns the process) and returns the mount point. The cleanup
// unmounts it and waits for sshfs to exit. Without /dev/fuse the test is
// skipped even when CI is set: no install can provide it.
func (s *server) sshfsMount(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("sshfs needs /dev/fuse, which this machine does not have (%v); skipped even with CI set", err)
	}
	bin := requireTool(t, "sshfs")
	fusermount := requireTool(t, "fusermount3")
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := "IdentityFile=" + clientKey + ",IdentitiesOnly=yes,BatchMode=yes,StrictHostKeyChecking=no," +
		"UserKnownHostsFile=" + os.DevNull + ",LogLevel=ERROR"
	cmd := exec.Command(bin, "-f", "-F", os.DevNull, "-p", s.port(), "-o", opts, "root@127.0.0.1:/", mnt)
	cmd.Env = clientEnv()
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshfs: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	mounted := false
	t.Cleanup(func() {
		if mounted {
			if out, err := exec.Command(fusermount, "-u", mnt).CombinedOutput(); err != nil {
				t.Errorf("fusermount3 -u %s: %v %s", mnt, err, bytes.TrimSpace(out))
			}
		}
		select {
		case <-done:
		case <-time.After(settleTimeout):
			cmd.Process.Kill()
			<-done
			t.Errorf("sshfs still running %v after unmount; killed", settleTimeout)
		}
		if t.Failed() {
			t.Logf("sshfs output:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(settleTimeout)
	for !inMountTable(t, mnt) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("sshfs exited before mounting: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshfs did not mount %s within %v\n%s", mnt, settleTimeout, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mounted = true
	return mnt
}

// inMountTable reports whether dir is in this process's mount table.
func inMountTable(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT ...
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// pgroup is a client program started in a process group of its own, so
// that kill ends it together with the ssh it runs.
type pgroup struct {
	cmd    *exec.Cmd
	out    *syncBuffer   // stdout and stderr
	done   chan struct{} // closed when the program has exited
	err    error         // Wait's result; valid after done
	killed bool
}

// startPgroup starts the program; the cleanup kills it if it still runs.
func startPgroup(t *testing.T, dir string, name string, args ...string) *pgroup {
	t.Helper()
	g := &pgroup{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	g.cmd.Dir = dir
	g.cmd.Env = clientEnv()
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		g.kill()
		select {
		case <-g.done:
		case <-time.After(settleTimeout):
			t.Errorf("%s still running %v after SIGKILL", name, settleTimeout)
		}
	})
	return g
}

// exited reports whether the program has ended.
func (g *pgroup) exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process group, once, while its leader runs
// (after that the group id may belong to someone else).
func (g *pgroup) kill() {
	if g.killed || g.exited() {
		return
	}
	g.killed = true
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
}

// runClient runs a client program with the tool timeout and extra
// environment variables.
func runClient(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	r := run(t, ctx, dir, clientEnv(env...), name, args...)
	if r.timedOut {
		t.Fatalf("%s %s: still running after %v\n%v", name, strings.Join(args, " "), toolTimeout, r)
	}
	return r
}
