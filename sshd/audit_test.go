package sshd

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/crypto/ssh"
)

// jsonLog collects a JSON logger's lines.
type jsonLog struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *jsonLog) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			l.mu.Lock()
			l.lines = append(l.lines, e)
			l.mu.Unlock()
		}
	}
	return len(p), nil
}

// find returns the events of logger name (the hclog @module) with message msg.
func (l *jsonLog) find(module, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, e := range l.lines {
		if e["@module"] == module && e["@message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// startJSON is a server whose sshd and audit logs are JSON lines in log.
func startJSON(t *testing.T) (addr string, client ssh.Signer, log *jsonLog, srv *Server) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, _ := ssh.NewSignerFromKey(priv)
	_, cpriv, _ := ed25519.GenerateKey(rand.Reader)
	client, _ = ssh.NewSignerFromKey(cpriv)
	cfg, err := policy.Parse(t.TempDir()+"/sluice.toml", []byte("[limits]\nlogin_fail_delay = \"50ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mounts = []policy.Mount{{Name: "dsk", Path: t.TempDir()}}
	cfg.Users = []policy.User{{Name: "root", Level: policy.Supervisor,
		AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(client.PublicKey()))}}}
	store, _ := mem.New(mem.Config{MaxBytes: 1 << 20})
	log = &jsonLog{}
	root := hclog.New(&hclog.LoggerOptions{Output: log, JSONFormat: true, Level: hclog.Debug})
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store, Audit: root.Named("audit")})
	if err != nil {
		t.Fatal(err)
	}
	srv, err = New(Config{Policy: cfg, HostKeys: []ssh.Signer{hostKey}, Store: tree,
		Logger: root.Named("sshd"), Audit: root.Named("audit")})
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
	return l.Addr().String(), client, log, srv
}

// TestAuditHandshakeFailed: a key exchange with no common algorithm is
// audited at info with the remote address and both algorithm lists.
func TestAuditHandshakeFailed(t *testing.T) {
	addr, client, log, srv := startJSON(t)
	_, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(client)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
		Config: ssh.Config{KeyExchanges: []string{ssh.KeyExchangeDH14SHA256}}})
	if err == nil {
		t.Fatal("dial with diffie-hellman-group14-sha256 only: got a connection, want a failed key exchange")
	}
	// The client gives up as soon as it sees the server's list; the
	// server's event follows.
	var ev []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(ev) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		ev = log.find("audit", "handshake failed")
	}
	srv.Close()
	if len(ev) != 1 {
		t.Fatalf("got %d handshake failed events, want 1", len(ev))
	}
	e := ev[0]
	if e["@level"] != "info" || e["negotiating"] != "key exchange" ||
		!strings.HasPrefix(e["client_offered"].(string), ssh.KeyExchangeDH14SHA256) ||
		!strings.Contains(e["server_offered"].(string), ssh.KeyExchangeCurve25519) ||
		!strings.HasPrefix(e["remote_addr"].(string), "127.0.0.1:") {
		t.Errorf("handshake failed event: got %v", e)
	}
}

// TestAuditSessionEvents: login, session start and session end name the
// session "ssh-N", as the vfs events do; session end has duration_ms; an
// env request (OpenSSH sends LANG) is refused at debug, a shell at info.
func TestAuditSessionEvents(t *testing.T) {
	addr, client, log, srv := startJSON(t)
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(client)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Setenv("LANG", "C"); err == nil {
		t.Error("env request: accepted, want refused")
	}
	if err := sess.Shell(); err == nil {
		t.Error("shell request: accepted, want refused")
	}
	c.Close()
	srv.Close() // waits for the connection: session end is written

	var id string
	for _, msg := range []string{"login", "session start", "session end"} {
		ev := log.find("audit", msg)
		if len(ev) != 1 {
			t.Fatalf("got %d %q events, want 1", len(ev), msg)
		}
		s, _ := ev[0]["session"].(string)
		if !strings.HasPrefix(s, "ssh-") || (id != "" && s != id) {
			t.Errorf("%s: got session %q, want ssh-N (%q)", msg, s, id)
		}
		id = s
	}
	if _, ok := log.find("audit", "session end")[0]["duration_ms"].(float64); !ok {
		t.Errorf("session end: got %v, want a number duration_ms", log.find("audit", "session end")[0])
	}
	levels := map[string]string{}
	for _, e := range log.find("sshd", "channel request refused") {
		levels[e["type"].(string)] = e["@level"].(string)
	}
	if levels["env"] != "debug" || levels["shell"] != "info" {
		t.Errorf("channel request refused levels: got %v, want env debug, shell info", levels)
	}
}
