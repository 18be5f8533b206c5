package ftpgateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/sys/unix"
)

// Deadline tests run with a small data_timeout and wait for its effect
// within stallBound: a generous bound for a loaded -race machine, never a
// measure of speed.
const (
	testDataTimeout = 200 * time.Millisecond
	stallBound      = 30 * time.Second
)

// stallLimits are the default test limits with the small data_timeout.
var stallLimits = defaultLimits + fmt.Sprintf("data_timeout = %q\n", testDataTimeout.String())

// logRecorder keeps the server's log lines for assertions and passes them
// on to t.Log.
type logRecorder struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.b.Write(p)
	r.mu.Unlock()
	r.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

func newLogRecorder(t testing.TB) (*logRecorder, hclog.Logger) {
	r := &logRecorder{t: t}
	return r, hclog.New(&hclog.LoggerOptions{Name: "test", Output: r, Level: hclog.Debug})
}

// sparseFile makes a file of size zero bytes without writing them.
func sparseFile(t testing.TB, dir, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// smallRcvBuf keeps a socket's receive buffer small, set before the
// connection exists, so that a reader that stops fills the path at once
// whatever the system's autotuning allows.
func smallRcvBuf(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 64<<10)
	}); err != nil {
		return err
	}
	return serr
}

var re229 = regexp.MustCompile(`^229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)$`)

// openData sets up a data connection the way the case asks and returns a
// function that yields the client's end once the transfer command was
// sent: passive (EPSV, dialled now) or active (PORT to a listener of the
// test, accepted then).
func (c *tCtl) openData(active bool) func() net.Conn {
	c.t.Helper()
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	if active {
		lc := net.ListenConfig{Control: smallRcvBuf}
		l, err := lc.Listen(c.t.Context(), "tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { l.Close() })
		port := l.Addr().(*net.TCPAddr).Port
		c.wantCode(fmt.Sprintf("PORT %s,%d,%d", strings.ReplaceAll(host, ".", ","), port>>8, port&0xff), 200)
		return func() net.Conn {
			c.t.Helper()
			l.(*net.TCPListener).SetDeadline(time.Now().Add(stallBound))
			dc, err := l.Accept()
			if err != nil {
				c.t.Fatalf("accepting the active data connection: %v", err)
			}
			c.t.Cleanup(func() { dc.Close() })
			return dc
		}
	}
	r := c.cmd("EPSV")
	m := re229.FindStringSubmatch(r.lines[0])
	if m == nil {
		c.t.Fatalf("EPSV: got %q", r)
	}
	d := net.Dialer{Timeout: testTimeout, Control: smallRcvBuf}
	dc, err := d.Dial("tcp", net.JoinHostPort(host, m[1]))
	if err != nil {
		c.t.Fatalf("data dial: %v", err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return func() net.Conn { return dc }
}

// tlsData runs the client's TLS handshake on a data connection (PROT P).
func tlsData(t testing.TB, dc net.Conn) net.Conn {
	t.Helper()
	tc := tls.Client(dc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(stallBound))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake of the data connection: %v", err)
	}
	tc.SetDeadline(time.Time{})
	return tc
}

// loginTLS logs root in over AUTH TLS and, with protP, sets PROT P.
func (e *tEnv) loginTLS(t testing.TB, protP bool) *tCtl {
	t.Helper()
	c := e.dial(t)
	c.startTLS()
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
	c.want("PBSZ 0", "200 PBSZ=0")
	if protP {
		c.want("PROT P", "200 PROT is set to PRIVATE.")
	}
	return c
}

// readWithin reads one single-line reply, waiting at most bound (longer
// than the harness's testTimeout).
func (c *tCtl) readWithin(bound time.Duration) string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(bound))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("no reply within %v: %v (got %q)", bound, err, l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// dataCase is one kind of data connection.
type dataCase struct {
	name   string
	tls    bool
	active bool
}

// loginCase logs in as root, over TLS if the case says so, in binary
// mode.
func (e *tEnv) loginCase(t *testing.T, tc dataCase) *tCtl {
	t.Helper()
	var c *tCtl
	if tc.tls {
		c = e.loginTLS(t, true)
	} else {
		c = e.login(t, "root")
	}
	c.want("TYPE I", "200 TYPE is set to IMAGE.")
	return c
}

var dataCases = []dataCase{
	{name: "passive"},
	{name: "active", active: true},
	{name: "passive TLS", tls: true},
	{name: "active TLS", tls: true, active: true},
}

// TestStalledDownload: a client that opens a RETR of a large file and
// never reads is disconnected after data_timeout: the data connection is
// closed, the control connection gets the manual's 426, the log and the
// audit say timeout, and the session goes on. Plain (sendfile) and TLS
// (writes), passive and active.
func TestStalledDownload(t *testing.T) {
	for _, tc := range dataCases {
		t.Run(tc.name, func(t *testing.T) {
			rec, lg := newLogRecorder(t)
			e := newTestEnv(t, tOpts{ftp: "data_port = -1", limits: stallLimits, logger: lg})
			const size = 256 << 20 // far more than any socket buffers hold
			sparseFile(t, e.dsk, "big.bin", size)
			c := e.loginCase(t, tc)
			data := c.openData(tc.active)
			start := time.Now()
			c.want("RETR /dsk/big.bin", "150 Data connection open, file transfer in process...")
			dc := data()
			if tc.tls {
				dc = tlsData(t, dc)
			}
			// Never read: the final reply comes without it.
			if got, want := c.readWithin(stallBound), string(replyDataClosed); got != want {
				t.Fatalf("final reply of a stalled RETR: got %q, want %q", got, want)
			}
			if d := time.Since(start); d < testDataTimeout {
				t.Errorf("stalled RETR ended after %v, before data_timeout %v", d, testDataTimeout)
			}
			dc.SetReadDeadline(time.Now().Add(stallBound))
			n, err := io.Copy(io.Discard, dc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("data connection still open %v after the 426 (%d bytes read)", stallBound, n)
			}
			if n >= size {
				t.Errorf("the client got all %d bytes; want the transfer cut", n)
			}
			c.want("NOOP", "200 OK.")
			logs := rec.String()
			for _, want := range []string{"data connection timed out", "transfer timeout", "verb=RETR"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q", want)
				}
			}
		})
	}
}

// TestStalledUpload: an upload whose sender stops sending is cut after
// data_timeout: 426, and nothing is committed (DIRECT ON: the old file
// stays, no temporary file; secure mode: the staged file is incomplete,
// so SAVEBUFFER refuses it).
func TestStalledUpload(t *testing.T) {
	// 600 kB passes recvBuf: a plain TCP upload into /dsk is then spliced
	// (receiveAt) when it stalls.
	for _, size := range []int{100_000, 600_000} {
		for _, tc := range dataCases {
			for _, direct := range []bool{true, false} {
				name := fmt.Sprintf("%s direct %d", tc.name, size)
				if !direct {
					name = fmt.Sprintf("%s secure %d", tc.name, size)
				}
				t.Run(name, func(t *testing.T) {
					rec, lg := newLogRecorder(t)
					ftpCfg := "data_port = -1"
					if direct {
						ftpCfg += "\ndirect = true"
					}
					e := newTestEnv(t, tOpts{ftp: ftpCfg, limits: stallLimits, logger: lg})
					old := []byte("old contents\n")
					writeHost(t, e.dsk, "up.cfg", old)
					c := e.loginCase(t, tc)
					c.want("CWD /dsk", "250 CWD command successful.")
					data := c.openData(tc.active)
					c.wantCode("STOR up.cfg", 150)
					dc := data()
					if tc.tls {
						dc = tlsData(t, dc)
					}
					dc.SetWriteDeadline(time.Now().Add(stallBound))
					if _, err := dc.Write(testPattern(size, 9)); err != nil {
						t.Fatalf("data write: %v", err)
					}
					// Stall: neither more data nor a close.
					if got, want := c.readWithin(stallBound), string(replyDataClosed); got != want {
						t.Fatalf("final reply of a stalled STOR: got %q, want %q", got, want)
					}
					if got := readHost(t, e.dsk, "up.cfg"); !bytes.Equal(got, old) {
						t.Errorf("/dsk/up.cfg after the cut: %d bytes, want the old %d", len(got), len(old))
					}
					if tmp := tempFiles(t, e.dsk); len(tmp) != 0 {
						t.Errorf("temporary files left: %q", tmp)
					}
					if !direct {
						c.want("SITE SAVEBUFFER", string(replyBufferIncomplete))
						if got := readHost(t, e.dsk, "up.cfg"); !bytes.Equal(got, old) {
							t.Errorf("/dsk/up.cfg after SAVEBUFFER: %d bytes, want the old %d", len(got), len(old))
						}
					}
					c.want("NOOP", "200 OK.")
					logs := rec.String()
					for _, want := range []string{"data connection timed out", "transfer timeout", "verb=STOR", "cut by the connection"} {
						if !strings.Contains(logs, want) {
							t.Errorf("logs lack %q", want)
						}
					}
				})
			}
		}
	}
}

// TestPassiveAcceptDeadline: a PASV port nobody connects to ends the
// transfer with 425 after data_timeout.
func TestPassiveAcceptDeadline(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: stallLimits})
	writeHost(t, e.dsk, "f.cfg", []byte("x"))
	c := e.login(t, "root")
	c.wantCode("EPSV", 229)
	c.want("RETR /dsk/f.cfg", "150 Data connection open, file transfer in process...")
	if got, want := c.readWithin(stallBound), string(replyNoDataConn); got != want {
		t.Fatalf("RETR without a data connection: got %q, want %q", got, want)
	}
	c.want("NOOP", "200 OK.")
}

// TestDataTLSHandshakeDeadline: a PROT P data connection whose client
// never starts the TLS handshake ends the transfer with 425 after
// data_timeout; nothing is stored.
func TestDataTLSHandshakeDeadline(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true", limits: stallLimits})
	c := e.loginTLS(t, true)
	dc := c.openData(false)()
	c.wantCode("STOR /dsk/h.cfg", 150)
	if got, want := c.readWithin(stallBound), string(replyNoDataConn); got != want {
		t.Fatalf("STOR without a TLS handshake: got %q, want %q", got, want)
	}
	dc.SetReadDeadline(time.Now().Add(stallBound))
	if n, err := io.Copy(io.Discard, dc); n != 0 || isTimeoutErr(err) {
		t.Errorf("data connection after the handshake deadline: %d bytes, %v; want closed", n, err)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "h.cfg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/dsk/h.cfg: %v, want no file", err)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestRequireTLSData: with require_tls, every command that opens a data
// connection answers 521 before PROT P, and no data connection is
// accepted or made, so no byte goes in clear; after PROT P they work over
// TLS.
func TestRequireTLSData(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "require_tls = true\ndirect = true\ndata_port = -1"})
	secret := []byte("secret contents\n")
	writeHost(t, e.dsk, "s.cfg", secret)
	c := e.loginTLS(t, false)
	c.want("CWD /dsk", "250 CWD command successful.")
	cmds := []string{"LIST", "LIST -la", "NLST", "NLST /dsk", "MLSD", "MLSD /dsk", "RETR s.cfg", "STOR n.cfg", "APPE s.cfg"}
	// One control connection for every case, so no subtests: its t is
	// this test's.
	for _, cmd := range cmds {
		for _, active := range []bool{false, true} {
			if !active {
				dc := c.openData(false)()
				if strings.HasPrefix(cmd, "STOR") || strings.HasPrefix(cmd, "APPE") {
					dc.Write([]byte("clear bytes")) // into a connection nobody accepts
				}
				c.want(cmd, string(replyDataProtNeeded))
				// The listener is closed: the pending connection is
				// reset without a byte.
				dc.SetReadDeadline(time.Now().Add(stallBound))
				if n, err := io.Copy(io.Discard, dc); n != 0 || isTimeoutErr(err) {
					t.Errorf("%s, passive: data connection after 521: %d bytes, %v; want closed, empty", cmd, n, err)
				}
				continue
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			c.wantCode(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff), 200)
			c.want(cmd, string(replyDataProtNeeded))
			// NOOP's reply comes after anything the 521 could have
			// started; then nothing may be waiting on the listener.
			c.want("NOOP", "200 OK.")
			l.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
			if dc, err := l.Accept(); err == nil {
				dc.Close()
				t.Errorf("%s, active, before PROT P: the server connected to the PORT address", cmd)
			}
			l.Close()
		}
	}
	// The refusals opened nothing and wrote nothing.
	if got := readHost(t, e.dsk, "s.cfg"); !bytes.Equal(got, secret) {
		t.Errorf("/dsk/s.cfg changed: %q", got)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "n.cfg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/dsk/n.cfg: %v, want no file", err)
	}
	// STOU is not implemented: 502, no data connection either.
	c.want("STOU", "502 Command not implemented.")
	// PROT C stays refused; after PROT P the same commands work over TLS.
	c.wantCode("PROT C", 521)
	c.want("PROT P", "200 PROT is set to PRIVATE.")
	c.want("TYPE I", "200 TYPE is set to IMAGE.")
	data := c.openData(false)
	c.want("RETR s.cfg", "150 Data connection open, file transfer in process...")
	dc := tlsData(t, data())
	got := readData(t, dc)
	if !bytes.Equal(got, secret) {
		t.Errorf("RETR over TLS: got %q, want %q", got, secret)
	}
	c.wantRead("RETR end", fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(secret)))
	data = c.openData(false)
	c.want("NLST", "150 Data connection open, list transfer in process...")
	if got := string(readData(t, tlsData(t, data()))); got != "s.cfg\r\n" {
		t.Errorf("NLST over TLS: got %q", got)
	}
	c.wantRead("NLST end", "226 List transfer completed, data connection is closed.")
}

// TestTransferPanic: a panic in the transfer goroutine is logged at error
// level with its stack, the transfer ends with a failure reply, the
// session it belongs to is closed and released, and other sessions go
// on.
func TestTransferPanic(t *testing.T) {
	rec, lg := newLogRecorder(t)
	e := newTestEnv(t, tOpts{logger: lg})
	other := e.login(t, "root")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newSession(e.srv, server, "panic")
	u := &policy.User{Name: "root", Level: policy.Supervisor}
	c.user, c.vs = u, &vfs.Session{User: u, ID: "ftp-panic", Remote: c.remote}
	ctl := &tCtl{t: t, conn: client, r: bufio.NewReader(client)}

	c.cmdEPSV("")
	m := re229.FindStringSubmatch(ctl.read().lines[0])
	if m == nil {
		t.Fatal("no 229 reply")
	}
	dc := ctl.dialData(net.JoinHostPort("127.0.0.1", m[1]))
	cleaned := make(chan struct{})
	c.run("RETR", "/dsk/x", -1, replyFileOpening, func(*transfer, net.Conn) string {
		panic("test panic in a transfer body")
	}, func() { close(cleaned) })
	ctl.wantRead("preliminary", string(replyFileOpening))
	ctl.wantRead("final after the panic", string(replyDataClosed))
	ctl.wantRead("closing", string(replyServiceNA))
	ctl.wantEOF("after the panic")
	select {
	case <-cleaned:
	case <-time.After(stallBound):
		t.Error("cleanup did not run after the panic")
	}
	if !c.Idle() {
		t.Error("session still has a transfer after the panic")
	}
	dc.SetReadDeadline(time.Now().Add(stallBound))
	if n, err := io.Copy(io.Discard, dc); n != 0 || isTimeoutErr(err) {
		t.Errorf("data connection after the panic: %d bytes, %v; want closed", n, err)
	}
	logs := rec.String()
	for _, want := range []string{"[ERROR]", "panic in a data transfer", "test panic in a transfer body", "runtime/debug.Stack"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	other.want("NOOP", "200 OK.")
}

// TestNextSendChunk: sendfile chunks double while they move in under a
// sixteenth of the data timeout, up to maxSendChunk, halve when one takes
// over a quarter, down to sendChunk, and otherwise stay.
func TestNextSendChunk(t *testing.T) {
	const timeout = 16 * time.Second
	for _, tt := range []struct {
		size int64
		took time.Duration
		want int64
	}{
		{sendChunk, 10 * time.Millisecond, 2 * sendChunk},
		{maxSendChunk, time.Millisecond, maxSendChunk},
		{maxSendChunk / 2, time.Millisecond, maxSendChunk},
		{4 * sendChunk, 999 * time.Millisecond, 8 * sendChunk},
		{4 * sendChunk, time.Second, 4 * sendChunk},
		{4 * sendChunk, 4 * time.Second, 4 * sendChunk},
		{4 * sendChunk, 4*time.Second + 1, 2 * sendChunk},
		{sendChunk, 10 * time.Second, sendChunk},
	} {
		if got := nextSendChunk(tt.size, tt.took, timeout); got != tt.want {
			t.Errorf("nextSendChunk(%d, %v, %v) = %d, want %d", tt.size, tt.took, timeout, got, tt.want)
		}
	}
}

// TestSlowUploadAfterSplice: an upload that slows down once it is spliced
// (past recvBuf) is not cut while bytes keep coming: a splice chunk that
// a deadline ends with bytes read hands over to the buffered path, whose
// reads each renew the deadline. The gaps are a tenth of data_timeout.
func TestSlowUploadAfterSplice(t *testing.T) {
	const timeout = time.Second
	e := newTestEnv(t, tOpts{ftp: "direct = true",
		limits: defaultLimits + fmt.Sprintf("data_timeout = %q\n", timeout.String())})
	c := e.login(t, "root")
	c.want("TYPE I", "200 TYPE is set to IMAGE.")
	c.want("CWD /dsk", "250 CWD command successful.")
	dc := c.epsv()
	if r := c.cmd("STOR slow.bin"); r.code != 150 && r.code != 125 {
		t.Fatalf("STOR: got %q", r)
	}
	data := testPattern(recvBuf+200_000+30*1000, 4)
	dc.SetWriteDeadline(time.Now().Add(stallBound))
	if _, err := dc.Write(data[:recvBuf+200_000]); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		time.Sleep(timeout / 10)
		at := recvBuf + 200_000 + i*1000
		if _, err := dc.Write(data[at : at+1000]); err != nil {
			t.Fatalf("slow write %d: %v", i, err)
		}
	}
	dc.Close()
	c.wantRead("STOR end", fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(data)))
	if got := readHost(t, e.dsk, "slow.bin"); !bytes.Equal(got, data) {
		t.Errorf("slow.bin: %d bytes, not the %d sent", len(got), len(data))
	}
}
