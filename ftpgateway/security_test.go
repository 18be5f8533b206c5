package ftpgateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// startTLS sends AUTH TLS and continues over TLS (RFC 4217 §4).
func (c *tCtl) startTLS() {
	c.t.Helper()
	c.wantCode("AUTH TLS", 234)
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(testTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// TestUserAlways331: USER answers 331 whether the user exists or not
// (RFC 2577 §5); the refusal comes at PASS, after the configured delay.
func TestUserAlways331(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"200ms\"\nmax_sessions_per_ip = 64"})
	c := e.dial(t)
	c.want("PASS "+testPassword, "531 User name required.")
	c.want("USER "+strings.Repeat("u", 65), "530 User name too long.")
	c.want("PASS "+testPassword, "531 User name required.")
	for _, u := range []string{"root", "nobody", "ROOT", "anonymous", "ftp", "a b"} {
		c.want("USER "+u, "331 User name accepted, password needed.")
	}
	c.want("USER nobody", "331 User name accepted, password needed.")
	start := time.Now()
	c.want("PASS "+testPassword, "530 User login refused.")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("bad login answered after %v, want at least login_fail_delay (200ms)", d)
	}
	// Anonymous logins exist only when configured.
	c.want("USER anonymous", "331 User name accepted, password needed.")
	c.want("PASS guest@example.com", "530 User login refused.")
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+strings.Repeat("p", 129), "530 Password too long.")
	c.want("PASS "+testPassword, "230 User login successful.")
}

// TestAnonymous: with ftp.anonymous, USER anonymous or ftp logs in at the
// viewer level: it may list but not read or write.
func TestAnonymous(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "anonymous = true\ndirect = true"})
	writeHost(t, e.dsk, "pub.dat", []byte("x"))
	for _, u := range []string{"anonymous", "FTP"} {
		c := e.dial(t)
		c.want("USER "+u, "331 User name accepted, password needed.")
		if r := c.cmd("PASS me@example.com"); r.code != 230 {
			t.Fatalf("%s PASS: got %q, want 230", u, r)
		}
		if got := c.list("NLST", "/dsk"); strings.Join(got, ",") != "pub.dat" {
			t.Errorf("%s NLST: %q", u, got)
		}
		if r := c.store("STOR", "/dsk/w.dat", []byte("w")); r.code/100 != 5 {
			t.Errorf("%s STOR: got %q, want a 5xx refusal", u, r)
		}
		if r := c.cmd("DELE /dsk/pub.dat"); r.code/100 != 5 {
			t.Errorf("%s DELE: got %q, want a 5xx refusal", u, r)
		}
	}
}

// TestLoginFailuresClose: after max_login_failures bad passwords the
// connection closes.
func TestLoginFailuresClose(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.dial(t)
	for i := range 3 {
		c.want("USER root", "331 User name accepted, password needed.")
		c.want(fmt.Sprintf("PASS wrong%d", i), "530 User login refused.")
	}
	// RFC 959 §4.2: a server closing the connection says 421 first.
	c.wantRead("after 3 bad passwords", "421-Too many failed logins.", "421 Service not available.")
	c.wantEOF("after 3 bad passwords")

	// The count is per connection; a good login resets nothing that
	// matters for the next connection.
	c = e.dial(t)
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS wrong", "530 User login refused.")
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
}

// TestMaxSessions: the session limit counts logged-in sessions; when it is
// full, a login reads 421 with the reason and is closed; a freed slot is
// reused. Connections that have not logged in take no session slot.
func TestMaxSessions(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nmax_sessions = 1"})
	first := e.dialRaw(t)
	first.wantRead("banner", "220 FTP server ready, 1 active clients of 1 simultaneous clients allowed.")
	first.want("USER root", "331 User name accepted, password needed.")
	first.want("PASS "+testPassword, "230 User login successful.")
	second := e.dialRaw(t)
	second.wantRead("second connection", "220 FTP server ready, 2 active clients of 1 simultaneous clients allowed.")
	second.want("USER root", "331 User name accepted, password needed.")
	second.want("PASS "+testPassword, "421-Too many sessions (1 of 1 sessions in use); try again later.", "421 Service not available.")
	second.wantEOF("second connection")
	first.want("QUIT", "221 Goodbye.")
	first.wantEOF("QUIT")
	// The slot is released when the first session has ended.
	deadline := time.Now().Add(testTimeout)
	for {
		c := e.dialRaw(t)
		c.read()
		c.want("USER root", "331 User name accepted, password needed.")
		r := c.cmd("PASS " + testPassword)
		if r.code == 230 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %q", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBanner counts the active clients.
func TestBanner(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nmax_sessions = 5\nmax_sessions_per_ip = 5"})
	a := e.dialRaw(t)
	a.wantRead("banner 1", "220 FTP server ready, 1 active clients of 5 simultaneous clients allowed.")
	b := e.dialRaw(t)
	b.wantRead("banner 2", "220 FTP server ready, 2 active clients of 5 simultaneous clients allowed.")
}

// TestPassiveHijack: a passive data connection from another address is
// closed without data (RFC 2577 §4); the control peer's then works.
func TestPassiveHijack(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	data := testPattern(100_000, 2)
	writeHost(t, e.dsk, "secret.dat", data)
	c := e.login(t, "root")
	for _, mode := range []string{"PASV", "EPSV"} {
		t.Run(mode, func(t *testing.T) {
			c.t = t
			defer func() { c.t = t }()
			r := c.cmd(mode)
			var addr string
			if mode == "PASV" {
				var err error
				if addr, err = parse227(r.lines[0]); err != nil {
					t.Fatalf("PASV: %q", r)
				}
			} else {
				var port int
				if _, err := fmt.Sscanf(r.lines[0], "229 Entering Extended Passive Mode (|||%d|)", &port); err != nil {
					t.Fatalf("EPSV: %q", r)
				}
				addr = fmt.Sprintf("127.0.0.1:%d", port)
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: testTimeout}
			thief, err := d.Dial("tcp", addr)
			if err != nil {
				t.Skipf("cannot dial from 127.0.0.2: %v", err)
			}
			defer thief.Close()
			good := c.dialData(addr)
			c.want("RETR /dsk/secret.dat", "150 Data connection open, file transfer in process...")
			thief.SetReadDeadline(time.Now().Add(testTimeout))
			stolen, err := io.ReadAll(thief)
			if len(stolen) != 0 {
				t.Errorf("the connection from 127.0.0.2 got %d bytes", len(stolen))
			}
			if err != nil && !isReset(err) {
				t.Errorf("the connection from 127.0.0.2: %v, want EOF or reset", err)
			}
			if got := readData(t, good); !bytes.Equal(got, data) {
				t.Errorf("the real data connection: %s", firstDiff(got, data))
			}
			c.wantRead("RETR end", fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(data)))
		})
	}
}

// TestBounceRefused: PORT/EPRT naming another address or a port below
// 1024 is refused at PORT time, and no connection is ever attempted.
func TestBounceRefused(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	writeHost(t, e.dsk, "f.dat", []byte("data"))
	victim, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer victim.Close()
	vp := victim.Addr().(*net.TCPAddr).Port
	c := e.login(t, "root")
	for _, cmd := range []string{
		fmt.Sprintf("PORT 127,0,0,2,%d,%d", vp>>8, vp&0xff),
		fmt.Sprintf("EPRT |1|127.0.0.2|%d|", vp),
	} {
		c.want(cmd, "504 IP Address not allowed.")
		c.want("RETR /dsk/f.dat", "150 Data connection open, file transfer in process...")
		c.wantRead("RETR after a refused "+cmd[:4], "425 Unable to open data transport.")
	}
	for _, cmd := range []string{"PORT 127,0,0,1,0,25", "EPRT |1|127.0.0.1|25|"} {
		c.want(cmd, "504 Command not implemented for that parameter.")
	}
	victim.(*net.TCPListener).SetDeadline(time.Now().Add(300 * time.Millisecond))
	if conn, err := victim.Accept(); err == nil {
		conn.Close()
		t.Error("the listener on 127.0.0.2 got a connection")
	}
	// A refused PORT does not cancel an earlier good setup either way; a
	// good PORT after the refusals works.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	c.want(fmt.Sprintf("PORT 127,0,0,1,%d,%d", p>>8, p&0xff), fmt.Sprintf("200 PORT is set to IP ADDR = 127.0.0.1 PORT = %d", p))
	c.want("RETR /dsk/f.dat", "150 Data connection open, file transfer in process...")
	l.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
	dc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := readData(t, dc); string(got) != "data" {
		t.Errorf("active RETR: %q", got)
	}
	c.wantRead("RETR end", "226 RETR completed, 4 bytes processed, data connection is closed.")
}

// TestLongLine: a 10 KiB line answers 500 and the session goes on.
func TestLongLine(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	c.want(strings.Repeat("X", 10<<10), "500 Syntax error, command line too long.")
	c.want("NOOP", "200 OK.")
	// Lines around the limit.
	c.want("NOOP "+strings.Repeat("x", 1000), "200 OK.")
	c.want(strings.Repeat("Y", 1<<20), "500 Syntax error, command line too long.")
	c.want("NOOP", "200 OK.")
}

// TestInactivityTimer: an idle control connection gets "221 Inactivity
// Timer Expired. Goodbye." and is closed, before and after login.
func TestInactivityTimer(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: `inactivity_timer = "300ms"`})
	for _, login := range []bool{false, true} {
		var c *tCtl
		if login {
			c = e.login(t, "root")
		} else {
			c = e.dial(t)
		}
		start := time.Now()
		c.wantRead("idle", "221 Inactivity Timer Expired. Goodbye.")
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("timer fired after %v, want about 300ms", d)
		}
		c.wantEOF("after the inactivity timer")
	}
	// Commands restart the timer.
	c := e.login(t, "root")
	for range 6 {
		time.Sleep(100 * time.Millisecond)
		c.want("NOOP", "200 OK.")
	}
	c.wantRead("idle", "221 Inactivity Timer Expired. Goodbye.")
}

// TestInactivityTimerDuringTransfer: the timer never fires while a
// transfer runs, however slowly; it does once the session is idle again.
func TestInactivityTimerDuringTransfer(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: `inactivity_timer = "300ms"`})
	t.Run("slow RETR", func(t *testing.T) {
		c := e.login(t, "root")
		dc := c.epsv()
		c.want("RETR /tst/30000000", "150 Data connection open, file transfer in process...")
		buf := make([]byte, 32<<10)
		start := time.Now()
		n := 0
		for time.Since(start) < 1200*time.Millisecond {
			dc.SetReadDeadline(time.Now().Add(testTimeout))
			k, err := dc.Read(buf)
			n += k
			if err != nil {
				t.Fatalf("data read after %d bytes: %v", n, err)
			}
			time.Sleep(30 * time.Millisecond)
		}
		rest := readData(t, dc)
		if n+len(rest) != 30_000_000 {
			t.Errorf("RETR: %d bytes, want 30000000", n+len(rest))
		}
		c.wantRead("RETR end", "226 RETR completed, 30000000 bytes processed, data connection is closed.")
		c.wantRead("idle after RETR", "221 Inactivity Timer Expired. Goodbye.")
	})
	t.Run("slow STOR", func(t *testing.T) {
		c := e.login(t, "root")
		dc := c.epsv()
		c.want("STOR /mem/slow.dat", "150 Data connection open, file transfer in process...")
		for range 12 {
			if _, err := dc.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		dc.Close()
		c.wantRead("STOR end", "226 STOR completed, 120 bytes processed, data connection is closed.")
		c.wantRead("idle after STOR", "221 Inactivity Timer Expired. Goodbye.")
	})
}

// TestLineAcrossTimer: a command line whose two halves come on either
// side of the inactivity timer's expiry during a transfer (the control
// read's deadline passes, and the transfer keeps the session) is read
// whole, and the session stays in step.
func TestLineAcrossTimer(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: `inactivity_timer = "200ms"`})
	c := e.login(t, "root")
	dc := c.epsv()
	c.want("STOR /mem/slow.dat", "150 Data connection open, file transfer in process...")
	c.sendRaw([]byte("NO"))
	// The timer's deadline passes while the transfer runs; time.Sleep is
	// a lower bound, so the test cannot pass by being fast.
	time.Sleep(500 * time.Millisecond)
	c.sendRaw([]byte("OP\r\n"))
	c.wantRead("NOOP during STOR", "200 OK.")
	if _, err := dc.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	c.wantRead("STOR end", "226 STOR completed, 10 bytes processed, data connection is closed.")
	c.want("NOOP", "200 OK.")
}

// TestRequireTLS: with require_tls, USER before AUTH TLS is refused
// (RFC 2228 §3: 530 or 534), and so is PROT C; over TLS the login works.
func TestRequireTLS(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "require_tls = true"})
	c := e.dial(t)
	// RFC 2228/4217 allow 530 or 534 for a USER the policy refuses.
	if r := c.cmd("USER root"); r.code != 534 && r.code != 530 {
		t.Errorf("USER without TLS: got %q, want 534 or 530", r)
	}
	c.want("PASS "+testPassword, "531 User name required.")
	c.startTLS()
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
	c.wantCode("PBSZ 0", 200)
	if r := c.cmd("PROT C"); r.code/100 != 5 {
		t.Errorf("PROT C with require_tls: got %q, want a 5xx refusal", r)
	}
	c.wantCode("PROT P", 200)
	c.want("NOOP", "200 OK.")
}

// TestAuthTLSStates: AUTH without a TLS configuration, PBSZ and PROT out
// of sequence, and a second AUTH.
func TestAuthTLSStates(t *testing.T) {
	e := newTestEnv(t, tOpts{noTLS: true})
	c := e.dial(t)
	c.wantCode("AUTH TLS", 502)
	r := c.cmd("FEAT")
	if strings.Contains(r.String(), "AUTH TLS") {
		t.Errorf("FEAT without TLS lists AUTH TLS: %q", r)
	}

	e = newTestEnv(t, tOpts{})
	c = e.dial(t)
	if r := c.cmd("FEAT"); !strings.Contains(r.String(), "\n AUTH TLS\n") {
		t.Errorf("FEAT with TLS: %q, want AUTH TLS listed", r)
	}
	c.wantCode("PBSZ 0", 503)
	c.wantCode("PROT P", 503)
	c.wantCode("AUTH KERBEROS", 504)
	c.startTLS()
	c.wantCode("PROT P", 503) // before PBSZ
	c.wantCode("AUTH TLS", 503)
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
	c.wantCode("PBSZ 0", 200)
	for _, level := range []string{"S", "E", "X"} {
		if r := c.cmd("PROT " + level); r.code/100 != 5 {
			t.Errorf("PROT %s: got %q, want a 5xx refusal", level, r)
		}
	}
	c.wantCode("PROT C", 200)
	// PROT C: data in clear over a TLS control connection.
	writeHost(t, e.dsk, "clear.dat", []byte("clear"))
	if got := c.retr("/dsk/clear.dat"); string(got) != "clear" {
		t.Errorf("PROT C RETR: %q", got)
	}
}

// TestShutdown: Shutdown closes idle sessions and returns.
func TestShutdown(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(t.Context()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Shutdown did not return with only an idle session")
	}
	c.conn.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := io.ReadAll(c.r); err != nil && !isReset(err) {
		t.Errorf("idle session after Shutdown: %v", err)
	}
}
