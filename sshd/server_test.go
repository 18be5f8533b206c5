package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkg/sftp"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/crypto/ssh"
)

type fixture struct {
	srv    *Server
	addr   string
	signer ssh.Signer
	pw     string
}

func start(t *testing.T, mutate func(*policy.Config)) *fixture {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, _ := ssh.NewSignerFromKey(priv)
	_, cpriv, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(cpriv)
	hash, err := policy.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfgText := "[limits]\nlogin_fail_delay = \"50ms\"\n"
	cfg, err := policy.Parse(t.TempDir()+"/sluice.toml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mounts = []policy.Mount{{Name: "dsk", Path: t.TempDir()}}
	cfg.Users = []policy.User{{Name: "root", Level: policy.Supervisor, PasswordHash: hash,
		AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(client.PublicKey()))}}}
	if mutate != nil {
		mutate(cfg)
	}
	store, _ := mem.New(mem.Config{MaxBytes: 1 << 20})
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store})
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Debug})
	srv, err := New(Config{Policy: cfg, HostKeys: []ssh.Signer{hostKey}, Store: tree, Logger: log, Audit: log.Named("audit")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		tree.Close()
	})
	return &fixture{srv: srv, addr: l.Addr().String(), signer: client, pw: "pw"}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func (f *fixture) dial(t *testing.T, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	if len(auth) == 0 {
		auth = []ssh.AuthMethod{ssh.PublicKeys(f.signer)}
	}
	c, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{User: "root", Auth: auth,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestAuthMethods(t *testing.T) {
	f := start(t, nil)
	kbd := func(answer string) ssh.AuthMethod {
		return ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			return []string{answer}, nil
		})
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	tests := []struct {
		name string
		auth ssh.AuthMethod
		ok   bool
	}{
		{"public key", ssh.PublicKeys(f.signer), true},
		{"unknown key", ssh.PublicKeys(otherSigner), false},
		{"password", ssh.Password("pw"), true},
		{"wrong password", ssh.Password("nope"), false},
		{"keyboard-interactive", kbd("pw"), true},
		{"wrong keyboard-interactive", kbd("nope"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := f.dial(t, tt.auth)
			if (err == nil) != tt.ok {
				t.Fatalf("got err %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && tt.name != "unknown key" && time.Since(start) < 50*time.Millisecond {
				t.Errorf("failure answered in %v, want the 50ms delay", time.Since(start))
			}
		})
	}
}

func TestMaxAuthTries(t *testing.T) {
	f := start(t, func(c *policy.Config) { c.SSH.MaxAuthTries = 2; c.Limits.LoginFailDelay = time.Millisecond })
	tries := 0
	cb := ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) { tries++; return "bad", nil }), 10)
	if _, err := f.dial(t, cb); err == nil {
		t.Fatal("login succeeded with a bad password")
	}
	if tries > 2 {
		t.Errorf("got %d password attempts on one connection, want at most 2", tries)
	}
}

func TestOnlySFTPSubsystem(t *testing.T) {
	f := start(t, nil)
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct {
		typ     string
		payload []byte
	}{
		{"shell", nil},
		{"exec", ssh.Marshal(struct{ Cmd string }{"id"})},
		{"pty-req", ssh.Marshal(struct {
			Term       string
			W, H, X, Y uint32
			Modes      string
		}{"xterm", 80, 24, 0, 0, ""})},
		{"env", ssh.Marshal(struct{ K, V string }{"LANG", "C"})},
		{"x11-req", ssh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0})},
		{"auth-agent-req@openssh.com", nil},
		{"subsystem", ssh.Marshal(struct{ Name string }{"scp"})},
	} {
		ch, _, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := ch.SendRequest(req.typ, true, req.payload)
		if err != nil || ok {
			t.Errorf("%s: got ok=%v err=%v, want refused", req.typ, ok, err)
		}
		ch.Close()
	}
	if _, _, err := c.OpenChannel("direct-tcpip", ssh.Marshal(struct {
		Host  string
		Port  uint32
		OHost string
		OPort uint32
	}{"127.0.0.1", 22, "127.0.0.1", 1})); err == nil {
		t.Error("direct-tcpip channel accepted")
	} else {
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
			t.Errorf("direct-tcpip: got %v, want Prohibited", err)
		}
	}
	if ok, _, _ := c.SendRequest("tcpip-forward", true, ssh.Marshal(struct {
		Addr string
		Port uint32
	}{"127.0.0.1", 0})); ok {
		t.Error("tcpip-forward accepted")
	}
	// The sftp subsystem works, and ends with exit-status 0.
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{"sftp"})); !ok || err != nil {
		t.Fatalf("sftp subsystem: ok=%v err=%v", ok, err)
	}
	cl, err := sftp.NewClientPipe(ch, ch)
	if err != nil {
		t.Fatal(err)
	}
	if fis, err := cl.ReadDir("/"); err != nil || len(fis) != 6 {
		t.Errorf("ReadDir(/): got %d entries, %v; want 6 (dsk mem state.txt ts1 tst verdicts.txt)", len(fis), err)
	}
	ch.CloseWrite()
	status := -1
	for r := range reqs {
		if r.Type == "exit-status" && len(r.Payload) == 4 {
			status = int(r.Payload[3])
		}
	}
	if status != 0 {
		t.Errorf("exit-status: got %d, want 0", status)
	}
}

func TestHandshakeAndIdleDeadlines(t *testing.T) {
	f := start(t, func(c *policy.Config) {
		c.Limits.LoginGraceTime = 200 * time.Millisecond
		c.Limits.IdleTimeout = 300 * time.Millisecond
	})
	// A peer that never speaks is cut off after the handshake deadline.
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Errorf("silent peer: got %v, want the server to close (EOF)", err)
	}
	// An authenticated but idle connection is closed too.
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("idle connection still open after 5s")
	}
}

func TestSessionLimitsAnswerQuickly(t *testing.T) {
	f := start(t, func(c *policy.Config) { c.Limits.MaxSessionsPerIP = 1 })
	if _, err := f.dial(t); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if _, err := f.dial(t); err == nil {
		t.Fatal("second session from the same address accepted")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("refusal took %v", d)
	}
}

func TestShutdownAndClose(t *testing.T) {
	f := start(t, nil)
	idle, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sftp.NewClient(c); err != nil { // an open session
		t.Fatal(err)
	}
	idleDone := make(chan error, 1)
	go func() { idleDone <- idle.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with an open session: got %v, want DeadlineExceeded", err)
	}
	if err := c.Wait(); err == nil {
		t.Error("session survived Shutdown's deadline")
	}
	select {
	case <-idleDone:
	case <-time.After(time.Second):
		t.Error("connection without a session not closed by Shutdown")
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	if err := f.srv.Serve(nil); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: got %v", err)
	}
}
