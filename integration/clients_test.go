package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// result is what a client program did.
type result struct {
	stdout, stderr string
	exit           int  // exit status; -1 if it did not exit normally
	timedOut       bool // killed by the context
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.exit) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// clientEnv is the environment of client programs: no agent of the
// user's, so that only the given key is offered.
func clientEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// run runs a client program in dir with a timeout. A non-zero exit is
// reported in the result; a failure to start fails the test (with Errorf,
// so run may be called from any goroutine).
func run(t *testing.T, ctx context.Context, dir string, env []string, name string, args ...string) result {
	t.Helper()
	return runWith(t, ctx, dir, env, nil, name, args...)
}

// runWith is run with stdin (nil: /dev/null).
func runWith(t *testing.T, ctx context.Context, dir string, env []string, stdin io.Reader, name string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String(), timedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		t.Errorf("%s: %v", name, err)
		r.exit = -1
	}
	return r
}

// opensshOptions are the options every OpenSSH client gets: no user
// configuration, no host key checking against files, no prompts, only the
// test key.
func opensshOptions() []string {
	return []string{"-F", os.DevNull,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + os.DevNull,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", clientKey}
}

// sftpBatch runs OpenSSH sftp with a batch file in dir. Batch lines
// without a "-" prefix abort the batch with a non-zero exit on failure.
func (s *server) sftpBatch(t *testing.T, dir, batch string, extra ...string) result {
	t.Helper()
	bin, args := s.sftpArgs(t, batch, extra...)
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	return run(t, ctx, dir, clientEnv(), bin, args...)
}

// sftpArgs writes the batch file and returns the sftp command line.
func (s *server) sftpArgs(t *testing.T, batch string, extra ...string) (bin string, args []string) {
	t.Helper()
	bin = requireTool(t, "sftp")
	f, err := os.CreateTemp(t.TempDir(), "batch-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(batch); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	args = append(append(append([]string(nil), extra...), opensshOptions()...), "-P", s.port(), "-b", f.Name(), "root@127.0.0.1")
	return bin, args
}

// section is one command of an sftp batch and the lines it printed.
type section struct {
	cmd   string
	lines []string
}

// sections splits sftp's batch stdout at its "sftp> COMMAND" echoes.
func sections(stdout string) []section {
	var out []section
	for _, line := range strings.Split(stdout, "\n") {
		if c, ok := strings.CutPrefix(line, "sftp> "); ok {
			out = append(out, section{cmd: c})
			continue
		}
		if len(out) > 0 && strings.TrimSpace(line) != "" {
			out[len(out)-1].lines = append(out[len(out)-1].lines, line)
		}
	}
	return out
}

// output returns the lines printed by the batch command cmd.
func output(t *testing.T, stdout, cmd string) []string {
	t.Helper()
	for _, s := range sections(stdout) {
		if s.cmd == cmd {
			return s.lines
		}
	}
	t.Fatalf("no output section for %q in:\n%s", cmd, stdout)
	return nil
}

// hostKey is the server's ed25519 host key, read from the data directory.
func (s *server) hostKey() ssh.PublicKey {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.data, "ssh_host_ed25519_key"))
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := ssh.ParsePrivateKey(data)
	if err != nil {
		s.t.Fatal(err)
	}
	return k.PublicKey()
}

// clientConfig is a Go client configuration for user that accepts only
// the host key stored in the data directory.
func (s *server) clientConfig(user string, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:              user,
		Auth:              auth,
		HostKeyCallback:   ssh.FixedHostKey(s.hostKey()),
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}
}

// handshakeTimeout bounds a Go client's connect, key exchange and
// authentication (ssh.ClientConfig.Timeout covers only the connect).
const handshakeTimeout = 30 * time.Second

// dial connects a Go SSH client to the running process.
func (s *server) dial(cfg *ssh.ClientConfig) (*ssh.Client, error) {
	addr := s.addr()
	nc, err := net.DialTimeout("tcp", addr, handshakeTimeout)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

// sshClient is an authenticated (public key) Go SSH client, closed at the
// end of the test t.
func (s *server) sshClient(t *testing.T) *ssh.Client {
	t.Helper()
	c, err := s.dial(s.clientConfig("root", ssh.PublicKeys(clientSigner)))
	if err != nil {
		t.Fatalf("ssh dial %s: %v", s.addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// maxPacket is the request size the server announces in
// limits@openssh.com (255 KiB, as OpenSSH's sftp-server).
const maxPacket = 261120

// sftpClient is a pkg/sftp client on its own SSH connection.
type sftpClient struct {
	*sftp.Client
	conn *ssh.Client
}

// Close ends the SFTP session and the connection under it.
func (c *sftpClient) Close() error {
	err := c.Client.Close()
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// sftpClient connects a pkg/sftp client, closed at the end of the test t
// if not before.
func (s *server) sftpClient(t *testing.T) *sftpClient {
	t.Helper()
	conn := s.sshClient(t)
	c, err := sftp.NewClient(conn, sftp.MaxPacketUnchecked(maxPacket),
		sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		t.Fatalf("sftp client: %v", err)
	}
	sc := &sftpClient{Client: c, conn: conn}
	t.Cleanup(func() { sc.Close() })
	return sc
}

// upload writes data to p with a write-only OPEN (sluice refuses
// READ|WRITE, which sftp.Client.Create asks for). CLOSE commits, so its
// error counts.
func upload(c *sftpClient, p string, data []byte) error {
	f, err := c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// download reads all of p.
func download(c *sftpClient, p string) ([]byte, error) {
	f, err := c.Open(p)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = f.WriteTo(&b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return b.Bytes(), err
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b) // never fails
	return b
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile returns the content of dir/name.
func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileSHA256 returns the SHA-256 of a host file.
func fileSHA256(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// dirSnapshot describes a host directory: name → mode, size and digest.
func dirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		if fi.Mode().IsRegular() {
			desc += fmt.Sprintf(" %x", fileSHA256(t, filepath.Join(dir, e.Name())))
		}
		out[e.Name()] = desc
	}
	return out
}

// treeFiles lists the regular files under dir with their sizes.
func treeFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			out[p] = fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
