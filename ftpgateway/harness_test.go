package ftpgateway

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/crypto/bcrypt"
)

// testTimeout bounds every wait for a reply or for data: a server that
// stays silent fails the test instead of hanging it.
const testTimeout = 10 * time.Second

// testPassword is every test user's password.
const testPassword = "s3cret pw"

// fastHash is a bcrypt hash of testPassword at the minimum cost. Logins
// with policy.HashPassword's cost 10 take over a second each under -race;
// the verification path is the same (TestLoginHashPassword covers the
// default cost).
var fastHash = sync.OnceValues(func() (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	return string(h), err
})

// tOpts configures a test server.
type tOpts struct {
	ftp    string // lines of the [ftp] table
	limits string // lines of the [limits] table; "" = defaultLimits
	users  string // extra [[user]] tables
	memMax int64  // staging buffer size; 0 = 64 MiB
	// checks are the vfs image checks; 0 = none. With checks the device
	// identity and trusted key of checkedDevice apply.
	checks      image.Check
	noTLS       bool          // no TLS configuration (AUTH TLS answers 502)
	logger      hclog.Logger  // nil: t.Log at Debug level
	reload      func()        // Config.Reload
	reloadReady func() error  // Config.ReloadReady
	hash        func() string // password hash for the built-in users; nil = fastHash
	listen      string        // listener address; "" = 127.0.0.1:0
}

const defaultLimits = "login_fail_delay = \"10ms\"\nmax_sessions = 64\nmax_sessions_per_ip = 64\n"

// tEnv is a running gateway over a device tree on temporary directories:
// /dsk, an exclusive /bio, /mem, /tst and /ts1.
type tEnv struct {
	dsk, bio string
	mem      *mem.Store
	fs       *vfs.FS
	pol      *policy.Config
	srv      *Server
	addr     string // control address, 127.0.0.1:port
	key      ed25519.PrivateKey
}

// newTestEnv builds the tree like cmd/sluice does and serves FTP on
// 127.0.0.1:0. Users: root (supervisor), guest, viewer; all with
// testPassword.
func newTestEnv(t testing.TB, o tOpts) *tEnv {
	t.Helper()
	if o.memMax == 0 {
		o.memMax = 64 << 20
	}
	if o.limits == "" {
		o.limits = defaultLimits
	}
	hash := ""
	if o.hash != nil {
		hash = o.hash()
	} else {
		h, err := fastHash()
		if err != nil {
			t.Fatal(err)
		}
		hash = h
	}
	tmp := t.TempDir()
	e := &tEnv{dsk: filepath.Join(tmp, "dsk"), bio: filepath.Join(tmp, "bio")}
	for _, d := range []string{e.dsk, e.bio} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	toml := fmt.Sprintf(`data_dir = %q

[limits]
%s
[ftp]
%s

[[mount]]
name = "dsk"
path = %q

[[mount]]
name = "bio"
path = %q
exclusive = true

[[user]]
name = "root"
password_hash = %q
level = "supervisor"

[[user]]
name = "guest"
password_hash = %q
level = "guest"

[[user]]
name = "viewer"
password_hash = %q
level = "viewer"
%s`, filepath.Join(tmp, "data"), o.limits, o.ftp, e.dsk, e.bio, hash, hash, hash, o.users)
	pol, err := policy.Parse(filepath.Join(tmp, "sluice.toml"), []byte(toml))
	if err != nil {
		t.Fatalf("policy.Parse: %v\n%s", err, toml)
	}
	e.pol = pol
	e.mem, err = mem.New(mem.Config{MaxBytes: o.memMax})
	if err != nil {
		t.Fatalf("mem.New: %v", err)
	}
	log := o.logger
	if log == nil {
		log = testLogger(t)
	}
	vc := vfs.Config{Mounts: pol.Mounts, Mem: e.mem, NameMax: pol.Names.MaxLen, MaxFileBytes: pol.Limits.MaxFileBytes,
		Logger: log.Named("vfs"), Checks: o.checks}
	if o.checks != 0 {
		e.key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
		vc.Device = image.Device{SystemID: "T", HardwareID: 0x1a2b, HWLevel: 5, BIOSVersion: image.Version{Major: 2, Minor: 1},
			Profile: "STD", TrustedKeys: []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)}}
	}
	e.fs, err = vfs.New(vc)
	if err != nil {
		t.Fatalf("vfs.New: %v", err)
	}
	t.Cleanup(func() { e.fs.Close() })
	cfg := Config{Policy: pol, Store: e.fs, Logger: log.Named("ftp"), Audit: log.Named("audit"), Reload: o.reload, ReloadReady: o.reloadReady}
	if !o.noTLS {
		cfg.TLS, err = hostkeys.LoadTLS("", "", t.TempDir())
		if err != nil {
			t.Fatalf("LoadTLS: %v", err)
		}
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		t.Skipf("listen %s: %v", o.listen, err)
	}
	e.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l) }()
	t.Cleanup(func() {
		if err := e.srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
	})
	return e
}

// testWriter is an io.Writer onto t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger routes server logs to t.Log (hashicorp/raft testing.go).
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: testWriter{t}, Level: hclog.Debug})
}

// writeHost puts a file straight into a host directory.
func writeHost(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readHost(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tempFiles lists the names in dir that start with the vfs temporary
// prefix.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".sluice-tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// pattern returns n deterministic, position-dependent bytes.
func testPattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

func firstDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: got %#x, want %#x", i, got[i], want[i])
		}
	}
	return ""
}

// --- A raw-text control client: exact reply lines ---

// tReply is one FTP reply: its code and its lines without CRLF.
type tReply struct {
	code  int
	lines []string
}

// text is the last line's text after the code.
func (r tReply) text() string {
	if len(r.lines) == 0 {
		return ""
	}
	return r.lines[len(r.lines)-1][4:]
}

func (r tReply) String() string { return strings.Join(r.lines, "\n") }

// tCtl is a raw control connection.
type tCtl struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	// rec, if set, records the exchange ("> cmd", "< reply line").
	rec *[]string
}

// dialRaw connects without reading the banner.
func (e *tEnv) dialRaw(t testing.TB) *tCtl {
	t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr, testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &tCtl{t: t, conn: nc, r: bufio.NewReader(nc)}
}

// dial connects and checks the banner.
func (e *tEnv) dial(t testing.TB) *tCtl {
	t.Helper()
	c := e.dialRaw(t)
	if r := c.read(); r.code != 220 {
		t.Fatalf("banner: got %q, want 220", r)
	}
	return c
}

// login connects and logs in as user.
func (e *tEnv) login(t testing.TB, user string) *tCtl {
	t.Helper()
	c := e.dial(t)
	c.want("USER "+user, "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
	return c
}

// send writes one command line with CRLF.
func (c *tCtl) send(line string) {
	c.t.Helper()
	c.record("> " + redactPass(line))
	c.sendRaw([]byte(line + "\r\n"))
}

func (c *tCtl) sendRaw(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("send %q: %v", truncBytes(b), err)
	}
}

func (c *tCtl) record(s string) {
	if c.rec != nil {
		*c.rec = append(*c.rec, s)
	}
}

func redactPass(line string) string {
	if len(line) >= 5 && strings.EqualFold(line[:5], "PASS ") {
		return line[:5] + "****"
	}
	if len(line) > 120 {
		return fmt.Sprintf("%s... (%d bytes)", line[:40], len(line))
	}
	return line
}

func truncBytes(b []byte) []byte {
	if len(b) > 60 {
		return b[:60]
	}
	return b
}

var reCodeLine = regexp.MustCompile(`^\d{3}[ -]`)

// readLine reads one CRLF-terminated line.
func (c *tCtl) readLine() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(testTimeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		return s, err
	}
	if !strings.HasSuffix(s, "\r\n") {
		return s, fmt.Errorf("reply line %q does not end in CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n"), nil
}

// tryRead reads one whole reply (RFC 959 §4.2: "ddd-" … "ddd ").
func (c *tCtl) tryRead() (tReply, error) {
	first, err := c.readLine()
	if err != nil {
		return tReply{}, err
	}
	if !reCodeLine.MatchString(first) {
		return tReply{}, fmt.Errorf("malformed reply line %q", first)
	}
	code, _ := strconv.Atoi(first[:3])
	r := tReply{code: code, lines: []string{first}}
	c.record("< " + first)
	if first[3] == '-' {
		for {
			l, err := c.readLine()
			if err != nil {
				return r, err
			}
			r.lines = append(r.lines, l)
			c.record("< " + l)
			if strings.HasPrefix(l, first[:3]+" ") {
				break
			}
			if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, first[:3]+"-") {
				return r, fmt.Errorf("continuation line %q starts with neither a space nor the code", l)
			}
		}
	}
	return r, nil
}

// read reads one whole reply.
func (c *tCtl) read() tReply {
	c.t.Helper()
	r, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("reading a reply: %v (so far %q)", err, r)
	}
	return r
}

// cmd sends line and reads its reply.
func (c *tCtl) cmd(line string) tReply {
	c.t.Helper()
	c.send(line)
	return c.read()
}

// want sends line and checks the exact reply lines.
func (c *tCtl) want(line string, want ...string) tReply {
	c.t.Helper()
	r := c.cmd(line)
	c.check(redactPass(line), r, want...)
	return r
}

// wantRead checks the exact lines of the next reply.
func (c *tCtl) wantRead(what string, want ...string) tReply {
	c.t.Helper()
	r := c.read()
	c.check(what, r, want...)
	return r
}

func (c *tCtl) check(what string, r tReply, want ...string) {
	c.t.Helper()
	if len(r.lines) == 1 && len(want) == 1 && samePrelim(r.lines[0], want[0]) {
		return
	}
	if strings.Join(r.lines, "\n") != strings.Join(want, "\n") {
		c.t.Errorf("%s:\n got %q\nwant %q", what, r.lines, want)
	}
}

// samePrelim reports whether got is the wanted 150, or its 125 form: a
// test that connects before the command (epsv) usually gets "125 Data
// connection already open", but the server may not have the connection
// queued yet when the command arrives. TestAlreadyOpen checks 125 itself.
func samePrelim(got, want string) bool {
	rest, ok := strings.CutPrefix(want, "150 Data connection open, ")
	return ok && (got == want || got == "125 Data connection already open, "+rest)
}

// wantCode sends line and checks the reply code; 150 also matches 125
// (samePrelim).
func (c *tCtl) wantCode(line string, code int) tReply {
	c.t.Helper()
	r := c.cmd(line)
	if r.code != code && !(code == 150 && r.code == 125) {
		c.t.Errorf("%s: got %q, want code %d", redactPass(line), r, code)
	}
	return r
}

// wantEOF checks that the server closes the connection without more
// replies.
func (c *tCtl) wantEOF(what string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(c.r)
	if len(b) > 0 {
		c.t.Errorf("%s: got %q before the close, want nothing", what, b)
	}
	if err != nil && !isReset(err) {
		c.t.Errorf("%s: got %v, want EOF", what, err)
	}
}

func isReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// --- Data connections ---

// epsv sends EPSV and dials the data port.
func (c *tCtl) epsv() net.Conn {
	c.t.Helper()
	r := c.cmd("EPSV")
	m := regexp.MustCompile(`^229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)$`).FindStringSubmatch(r.lines[0])
	if m == nil {
		c.t.Fatalf("EPSV: got %q", r)
	}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	return c.dialData(net.JoinHostPort(host, m[1]))
}

// pasv sends PASV and dials the advertised address.
func (c *tCtl) pasv() net.Conn {
	c.t.Helper()
	r := c.cmd("PASV")
	addr, err := parse227(r.lines[0])
	if err != nil {
		c.t.Fatalf("PASV: got %q: %v", r, err)
	}
	return c.dialData(addr)
}

var re227 = regexp.MustCompile(`^227 Entering Passive Mode\. \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)$`)

func parse227(line string) (string, error) {
	m := re227.FindStringSubmatch(line)
	if m == nil {
		return "", errors.New("not a 227 reply")
	}
	var n [6]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return net.JoinHostPort(fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], n[3]), strconv.Itoa(n[4]<<8|n[5])), nil
}

func (c *tCtl) dialData(addr string) net.Conn {
	c.t.Helper()
	dc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		c.t.Fatalf("data dial %s: %v", addr, err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc
}

// readAll reads a data connection to its end.
func readData(t testing.TB, dc net.Conn) []byte {
	t.Helper()
	dc.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(dc)
	if err != nil {
		t.Fatalf("data read: %v", err)
	}
	dc.Close()
	return b
}

// retr downloads p over EPSV and checks the replies.
func (c *tCtl) retr(p string) []byte {
	c.t.Helper()
	dc := c.epsv()
	c.want("RETR "+p, "150 Data connection open, file transfer in process...")
	b := readData(c.t, dc)
	c.wantRead("RETR "+p+" end", fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(b)))
	return b
}

// store uploads data with verb (STOR or APPE) over EPSV and returns the
// final reply.
func (c *tCtl) store(verb, p string, data []byte) tReply {
	c.t.Helper()
	dc := c.epsv()
	r := c.cmd(verb + " " + p)
	if r.code != 150 && r.code != 125 {
		dc.Close()
		return r
	}
	dc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := dc.Write(data); err != nil {
		// The server may refuse the data part way (no space) and close.
		c.t.Logf("%s %s: data write: %v", verb, p, err)
	}
	dc.Close()
	return c.read()
}

// stor uploads data and checks the 226.
func (c *tCtl) stor(p string, data []byte) {
	c.t.Helper()
	r := c.store("STOR", p, data)
	want := fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(data))
	if r.String() != want {
		c.t.Fatalf("STOR %s: got %q, want %q", p, r, want)
	}
}

// list runs LIST or NLST with arg over EPSV and returns the lines.
func (c *tCtl) list(verb, arg string) []string {
	c.t.Helper()
	dc := c.epsv()
	line := verb
	if arg != "" {
		line += " " + arg
	}
	c.want(line, "150 Data connection open, list transfer in process...")
	b := readData(c.t, dc)
	c.wantRead(line+" end", "226 List transfer completed, data connection is closed.")
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\r\n") {
		if l == "" {
			continue
		}
		if !strings.HasSuffix(l, "\r\n") {
			c.t.Errorf("%s: line %q does not end in CRLF", line, l)
		}
		out = append(out, strings.TrimSuffix(l, "\r\n"))
	}
	return out
}
