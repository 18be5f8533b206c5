package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshRun runs the OpenSSH ssh client against s with a timeout; it fails
// the test if ssh had to be killed (every refusal must end the client).
func (s *server) sshRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := requireTool(t, "ssh")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	all := append(append(opensshOptions(), "-p", s.port()), args...)
	r := run(t, ctx, t.TempDir(), env, bin, all...)
	if r.timedOut {
		t.Fatalf("ssh %s: still running after 20s\n%v", strings.Join(args, " "), r)
	}
	return r
}

// TestOpenSSHRefusals: only the sftp subsystem is served; the real ssh
// client gets no shell, no command, no forwarding (DESIGN §5).
func TestOpenSSHRefusals(t *testing.T) {
	t.Parallel()
	requireTool(t, "ssh")
	s := newServer(t, "")
	tests := []struct {
		name     string
		args     []string
		logMsg   string   // server log event
		logTypes []string // its "type" fields
	}{
		{"shell with pty", []string{"-tt", "root@127.0.0.1"}, "channel request refused", []string{"pty-req", "shell"}},
		{"exec", []string{"root@127.0.0.1", "echo", "hi"}, "channel request refused", []string{"exec"}},
		{"stdio forward", []string{"-W", s.addr(), "root@127.0.0.1"}, "channel refused", []string{"direct-tcpip"}},
		{"remote forward", []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:" + s.addr(), "root@127.0.0.1"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.sshRun(t, clientEnv(), tt.args...)
			if r.exit == 0 {
				t.Errorf("ssh %s: got exit 0, want failure\n%v", strings.Join(tt.args, " "), r)
			}
			if strings.Contains(r.stdout, "hi") || strings.Contains(r.stdout, "SSH-") {
				t.Errorf("ssh %s: got stdout %q, want nothing served", strings.Join(tt.args, " "), r.stdout)
			}
			for _, typ := range tt.logTypes {
				if _, ok := s.waitEvent(5*time.Second, tt.logMsg, map[string]string{"type": typ}); !ok {
					t.Errorf("server log: no %q event with type %q", tt.logMsg, typ)
				}
			}
		})
	}
}

// TestOpenSSHLocalForwardRefused: ssh -L sets up its local listener, but
// a connection through it is closed at once: the server refuses the
// direct-tcpip channel and nothing (no SSH banner) comes back.
func TestOpenSSHLocalForwardRefused(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "ssh")
	s := newServer(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	args := append(append(opensshOptions(), "-p", s.port()),
		"-N", "-o", "ExitOnForwardFailure=yes", "-L", local+":"+s.addr(), "root@127.0.0.1")
	dir := t.TempDir()
	exited := make(chan struct{})
	var r result
	go func() {
		defer close(exited)
		r = run(t, ctx, dir, clientEnv(), bin, args...)
	}()
	// ssh keeps forwarding until it is stopped; stop it before returning.
	defer func() { cancel(); <-exited }()

	var conn net.Conn
	for conn == nil {
		select {
		case <-exited:
			t.Fatalf("ssh -L exited before forwarding: %v", r)
		case <-ctx.Done():
			t.Fatal("ssh -L never listened")
		case <-time.After(50 * time.Millisecond):
		}
		conn, _ = net.Dial("tcp", local)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("forwarded connection: still open after 10s, want it closed")
	}
	if len(got) != 0 {
		t.Errorf("forwarded connection: got %q, want nothing", got)
	}
	if _, ok := s.waitEvent(5*time.Second, "channel refused", map[string]string{"type": "direct-tcpip"}); !ok {
		t.Errorf("server log: no \"channel refused\" event with type direct-tcpip")
	}
}

// TestOpenSSHAgentForwardingRefused: with an agent and -A, OpenSSH sends
// auth-agent-req@openssh.com on the session (without asking for a reply);
// the server refuses it and still serves the sftp subsystem.
func TestOpenSSHAgentForwardingRefused(t *testing.T) {
	t.Parallel()
	requireTool(t, "ssh")
	s := newServer(t, "")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	keyring := agent.NewKeyring()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()

	r := s.sshRun(t, clientEnv("SSH_AUTH_SOCK="+sock), "-A", "-o", "ForwardAgent=yes", "-s", "root@127.0.0.1", "sftp")
	if r.exit != 0 {
		t.Errorf("ssh -A -s sftp: got %v, want exit 0 (the subsystem is served)", r)
	}
	if _, ok := s.waitEvent(5*time.Second, "channel request refused",
		map[string]string{"type": "auth-agent-req@openssh.com"}); !ok {
		t.Errorf("server log: no \"channel request refused\" event with type auth-agent-req@openssh.com")
	}
}

// TestSessionRequestsRefused checks every refusal at the protocol level,
// where the client can ask for a reply.
func TestSessionRequestsRefused(t *testing.T) {
	t.Parallel()
	// One connection per case; closes reach the server asynchronously.
	s := newServer(t, "[limits]\nmax_sessions = 64\nmax_sessions_per_ip = 64")
	requests := []struct {
		name    string
		typ     string
		payload []byte
		want    bool
	}{
		{"pty", "pty-req", ssh.Marshal(struct {
			Term          string
			Cols, Rows    uint32
			Width, Height uint32
			Modes         string
		}{"xterm", 80, 24, 0, 0, ""}), false},
		{"shell", "shell", nil, false},
		{"exec", "exec", ssh.Marshal(struct{ Command string }{"echo hi"}), false},
		{"env", "env", ssh.Marshal(struct{ Name, Value string }{"LANG", "C"}), false},
		{"x11", "x11-req", ssh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0}), false},
		{"agent", "auth-agent-req@openssh.com", nil, false},
		{"other subsystem", "subsystem", ssh.Marshal(struct{ Name string }{"shell"}), false},
		{"sftp subsystem", "subsystem", ssh.Marshal(struct{ Name string }{"sftp"}), true},
	}
	for _, tt := range requests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.sshClient(t)
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			ok, err := sess.SendRequest(tt.typ, true, tt.payload)
			if err != nil {
				t.Fatalf("%s: %v", tt.typ, err)
			}
			if ok != tt.want {
				t.Errorf("%s request: got reply %v, want %v", tt.typ, ok, tt.want)
			}
		})
	}

	t.Run("channels", func(t *testing.T) {
		c := s.sshClient(t)
		if conn, err := c.Dial("tcp", s.addr()); err == nil {
			conn.Close()
			t.Errorf("direct-tcpip channel: got accepted, want refused")
		}
		if l, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
			t.Errorf("tcpip-forward: got accepted, want refused")
		}
		_, _, err := c.OpenChannel("x11", nil)
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
			t.Errorf("x11 channel: got %v, want refused as prohibited", err)
		}
		// The connection still serves sftp afterwards.
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.RequestSubsystem("sftp"); err != nil {
			t.Errorf("sftp after refusals: %v", err)
		}
	})
}

// TestSessionLimits: with two sessions held, a third login from the same
// address is refused at its login, quickly, with the reason; a slot freed
// is usable again.
func TestSessionLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits string
	}{
		{"per ip", "max_sessions = 10\nmax_sessions_per_ip = 2"},
		{"total", "max_sessions = 2\nmax_sessions_per_ip = 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, "[limits]\n"+tt.limits+"\nlogin_fail_delay = \"10ms\"")
			cfg := s.clientConfig("root", ssh.PublicKeys(clientSigner))
			var held []*ssh.Client
			for i := range 2 {
				c, err := s.dial(cfg)
				if err != nil {
					t.Fatalf("session %d of 2: %v", i+1, err)
				}
				t.Cleanup(func() { c.Close() })
				held = append(held, c)
			}
			for _, c := range held {
				sess, err := c.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				if err := sess.RequestSubsystem("sftp"); err != nil {
					t.Fatal(err)
				}
			}

			start := time.Now()
			c, err := s.dial(cfg)
			elapsed := time.Since(start)
			if err == nil {
				c.Close()
				t.Fatalf("third session: got accepted, want refused")
			}
			if elapsed > 3*time.Second {
				t.Errorf("third session refused after %v, want under 3s", elapsed)
			}
			if _, ok := s.waitEvent(5*time.Second, "session refused", nil); !ok {
				t.Errorf("server log: no \"session refused\" event")
			}

			// Freeing a slot lets a new session in (the server notices the
			// close asynchronously).
			held[0].Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, err := s.dial(cfg)
				if err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("session after one closed: still refused after 5s: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestPasswordAuthentication: password and keyboard-interactive logins
// with the Go client; failures are audited with user and method, and the
// wrong password never reaches the log.
func TestPasswordAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t, "[limits]\nlogin_fail_delay = \"10ms\"\nmax_sessions = 64\nmax_sessions_per_ip = 64")
	const wrong = "not-the-Password-42"
	ki := func(answer string) ssh.AuthMethod {
		return ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = answer
			}
			return answers, nil
		})
	}
	otherKey, err := newSigner()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		user   string
		auth   ssh.AuthMethod
		ok     bool
		method string // audit "method"
	}{
		{"password", "root", ssh.Password(s.password), true, "password"},
		{"wrong password", "root", ssh.Password(wrong), false, "password"},
		{"keyboard-interactive", "root", ki(s.password), true, "keyboard-interactive"},
		{"wrong keyboard-interactive", "root", ki(wrong), false, "keyboard-interactive"},
		{"unknown user", "nobody", ssh.Password(wrong), false, "password"},
		{"unknown key", "root", ssh.PublicKeys(otherKey), false, "publickey"},
		{"key", "root", ssh.PublicKeys(clientSigner), true, "publickey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.dial(s.clientConfig(tt.user, tt.auth))
			if tt.ok {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				defer c.Close()
				if _, ok := s.waitEvent(5*time.Second, "login", map[string]string{
					"@module": "sluice.audit", "user": tt.user, "method": tt.method}); !ok {
					t.Errorf("audit log: no login event for user %q method %q", tt.user, tt.method)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("login: got success, want failure")
			}
			if _, ok := s.waitEvent(5*time.Second, "login failed", map[string]string{
				"@module": "sluice.audit", "user": tt.user, "method": tt.method}); !ok {
				t.Errorf("audit log: no \"login failed\" event for user %q method %q", tt.user, tt.method)
			}
		})
	}
	if strings.Contains(s.proc.log.String(), wrong) || strings.Contains(s.proc.log.String(), s.password) {
		t.Errorf("server log contains a password")
	}
}
