package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// listenOn opens a TCP listener on ip (any port) that records every
// connection it accepts; the test checks that none arrives.
func listenOn(t *testing.T, ip string) (port int, accepted func() []string) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	got := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			got <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port, func() []string {
		var out []string
		deadline := time.After(500 * time.Millisecond)
		for {
			select {
			case a := <-got:
				out = append(out, a)
			case <-deadline:
				return out
			}
		}
	}
}

// TestFTPBounceRefused: PORT and EPRT naming an address other than the
// control peer's (127.0.0.2, with a real listener there), or a port below
// 1024, are refused with 5xx at PORT time (RFC 2577 §3), and no
// connection is ever made to the named address, even when a transfer is
// then asked for.
func TestFTPBounceRefused(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	port, accepted := listenOn(t, "127.0.0.2")
	c := s.login(t)
	p1, p2 := port>>8, port&0xff

	refused := func(cmd string) {
		t.Helper()
		r := c.cmd(cmd)
		if len(r) != 1 || r[0][0] != '5' {
			t.Errorf("%s: got %q, want a 5xx refusal", cmd, r)
		}
		// A transfer after the refusal must not use the refused address.
		c.send("RETR /tst/1000")
		first := c.reply()
		if first[0][0] == '1' {
			final := c.reply()
			if final[0][0] == '2' {
				t.Errorf("%s then RETR: transfer completed (%q)", cmd, final)
			}
		}
	}
	refused(fmt.Sprintf("PORT 127,0,0,2,%d,%d", p1, p2))
	refused(fmt.Sprintf("EPRT |1|127.0.0.2|%d|", port))
	refused("PORT 127,0,0,1,0,25")
	refused("EPRT |1|127.0.0.1|25|")
	if a := accepted(); len(a) != 0 {
		t.Errorf("the listener on 127.0.0.2:%d was connected to by %v", port, a)
	}
	// The exact texts of manual §1.4.2 (PORT).
	oneLine(t, "PORT to 127.0.0.2", c.cmd(fmt.Sprintf("PORT 127,0,0,2,%d,%d", p1, p2)), "504 IP Address not allowed.")
	oneLine(t, "PORT to port 25", c.cmd("PORT 127,0,0,1,0,25"), "504 Command not implemented for that parameter.")
	c.cmdLine("NOOP", "200 OK.")
}

// TestFTPPassiveHijackRefused: a connection to the passive port from
// another address (127.0.0.2) gets no data and is closed (RFC 2577 §4);
// the real client's RETR still works afterwards. Passive ports come from
// the configured range.
func TestFTPPassiveHijackRefused(t *testing.T) {
	t.Parallel()
	const lo, hi = 47000, 47199
	s := newFTPServer(t, fmt.Sprintf("[ftp]\npasv_min_port = %d\npasv_max_port = %d\n", lo, hi))
	c := s.login(t)
	c.cmdExpect("TYPE I", 200)
	addr := c.pasv()
	if p, err := net.ResolveTCPAddr("tcp", addr); err != nil || p.Port < lo || p.Port > hi {
		t.Errorf("PASV address %s (%v): want a port in the configured range %d-%d", addr, err, lo, hi)
	}

	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	thief, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2: %v", err)
	}
	defer thief.Close()
	// The thief is queued first: the server accepts it when RETR starts.
	c.send("RETR /tst/100000")
	oneLine(t, "RETR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
	thief.SetReadDeadline(time.Now().Add(10 * time.Second))
	stolen, err := io.ReadAll(thief)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection from 127.0.0.2 was not closed within 10s")
	}
	if len(stolen) != 0 {
		t.Errorf("the connection from 127.0.0.2 got %d bytes, want none", len(stolen))
	}
	// The real client connects now and gets the file.
	dc := c.dialData(addr)
	dc.SetReadDeadline(time.Now().Add(toolTimeout))
	data, err := io.ReadAll(dc)
	if err != nil || len(data) != 100000 {
		t.Errorf("real client's RETR: %d bytes, %v; want 100000", len(data), err)
	}
	oneLine(t, "RETR", c.reply(), "226 RETR completed, 100000 bytes processed, data connection is closed.")
	if _, ok := s.waitEvent(5*time.Second, "passive data connection from another address closed", nil); !ok {
		t.Error("no log line for the refused passive connection")
	}
	// And the next transfer still works.
	data, final := c.retrieve("RETR /tst/1234")
	if len(data) != 1234 {
		t.Errorf("next RETR: %d bytes, want 1234 (%q)", len(data), final)
	}
}

// TestFTPLoginThrottle: each bad password is answered after
// login_fail_delay with "530 User login refused.", and the connection is
// closed after max_login_failures of them; USER answers 331 for unknown
// users too.
func TestFTPLoginThrottle(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	s := newFTPServer(t, "[limits]\nlogin_fail_delay = \"300ms\"\n\n[ftp]\nmax_login_failures = 3\n")
	c := s.dialCtl(t)
	c.expect(220)
	for i := 1; i <= 3; i++ {
		user := "root"
		if i == 2 {
			user = "nosuchuser"
		}
		c.cmdLine("USER "+user, "331 User name accepted, password needed.")
		start := time.Now()
		c.cmdLine("PASS wrong-password", "530 User login refused.")
		if d := time.Since(start); d < delay {
			t.Errorf("bad password %d: answered after %v, want at least %v", i, d, delay)
		}
		if i < 3 {
			c.cmdLine("NOOP", "200 OK.")
		}
	}
	// The reason, then the manual's only 421 text (PASS), then the close.
	if rest := c.waitClosed(5 * time.Second); strings.Join(rest, "\n") != "421-Too many failed logins.\n421 Service not available." {
		t.Errorf("after the third failure: got %q before the close, want the reason and 421 Service not available.", rest)
	}
	// A good password on a new connection still works.
	s.login(t).cmdLine("NOOP", "200 OK.")
}

// TestFTPServerFull: with max_sessions = 1 a second login gets 421 with
// the reason and is closed; once the first leaves, a new one is served.
// Connections that have not logged in take no session slot.
func TestFTPServerFull(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "[limits]\nmax_sessions = 1\nlogin_fail_delay = \"10ms\"\n")
	first := s.dialCtl(t)
	oneLine(t, "banner", first.reply(), "220 FTP server ready, 1 active clients of 1 simultaneous clients allowed.")
	first.cmdExpect("USER root", 331)
	first.cmdExpect("PASS "+s.password, 230)

	second := s.dialCtl(t)
	oneLine(t, "second banner", second.reply(), "220 FTP server ready, 2 active clients of 1 simultaneous clients allowed.")
	second.cmdExpect("USER root", 331)
	second.send("PASS " + s.password)
	if rest := second.waitClosed(replyTimeout); strings.Join(rest, "\n") != "421-Too many sessions (1 of 1 sessions in use); try again later.\n421 Service not available." {
		t.Errorf("second login: got %q, want the reason, 421 and the close", rest)
	}
	first.cmdLine("QUIT", "221 Goodbye.")
	first.waitClosed(5 * time.Second)

	// The slot is released when the first session ends (asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := s.dialCtl(t)
		c.expect(220)
		c.cmdExpect("USER root", 331)
		c.send("PASS " + s.password)
		l, _ := c.readReply(replyTimeout)
		if len(l) == 1 && strings.HasPrefix(l[0], "230 ") {
			break
		}
		c.conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("after the first session quit: got %q, want 230", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFTPInactivityTimer: an idle control connection gets "221
// Inactivity Timer Expired. Goodbye." and is closed; a slow transfer that
// lasts longer than the timer is not interrupted. (The timer is 2s, not
// less: it runs from the receipt of a command, see
// TestFTPInactivityAfterSlowReply, and a -race server may take a second
// to check a password.)
func TestFTPInactivityTimer(t *testing.T) {
	t.Parallel()
	const timer = 2 * time.Second
	s := newFTPServer(t, "[ftp]\ninactivity_timer = \"2s\"\n")

	t.Run("idle", func(t *testing.T) {
		c := s.login(t)
		start := time.Now()
		c.cmdLine("NOOP", "200 OK.") // the timer restarts at each command
		lines, err := c.readReply(5 * time.Second)
		if err != nil {
			t.Fatalf("idle connection: %v (got %q), want the 221 reply", err, lines)
		}
		oneLine(t, "idle connection", lines, "221 Inactivity Timer Expired. Goodbye.")
		if d := time.Since(start); d < timer-50*time.Millisecond {
			t.Errorf("the timer fired after %v, want about %v", d, timer)
		}
		c.waitClosed(5 * time.Second)
	})

	t.Run("not during a transfer", func(t *testing.T) {
		c := s.login(t)
		c.cmdExpect("TYPE I", 200)
		dc := c.dialData(c.pasv())
		c.send("RETR /tst/100000000")
		oneLine(t, "RETR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
		// Read slowly for twice the timer: the server is blocked on a
		// full window.
		buf := make([]byte, 16<<10)
		var n int
		end := time.Now().Add(2 * timer)
		for time.Now().Before(end) {
			dc.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := dc.Read(buf)
			n += k
			if err != nil {
				t.Fatalf("data connection after %d bytes: %v", n, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Nothing arrived on the control connection meanwhile.
		if lines, err := c.readReply(100 * time.Millisecond); len(lines) != 0 || !isTimeout(err) {
			t.Fatalf("during a %v transfer with a %v timer the control connection got %q (%v)", 2*timer, timer, lines, err)
		}
		c.cmdLine("NOOP", "200 OK.")
		// Still alive after the abort, then the timer runs again.
		c.send("ABOR")
		oneLine(t, "ABOR (first)", c.reply(), "426 Aborting RETR command...")
		oneLine(t, "ABOR (second)", c.reply(), "226 Command ABOR successfully processed.")
		lines, err := c.readReply(5 * time.Second)
		if err != nil {
			t.Fatalf("after the transfer: %v (got %q), want the 221 reply", err, lines)
		}
		oneLine(t, "idle after the transfer", lines, "221 Inactivity Timer Expired. Goodbye.")
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestFTPLongLine: a 10 KiB command line answers "500 Syntax error,
// command line too long." and the session goes on; so does a line with
// only a verb of 10 KiB before login.
func TestFTPLongLine(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	c := s.dialCtl(t)
	c.expect(220)
	c.cmdLine(strings.Repeat("A", 10<<10), "500 Syntax error, command line too long.")
	c.cmdLine("NOOP", "200 OK.")
	c.cmdLine("USER root", "331 User name accepted, password needed.")
	c.cmdLine("PASS "+s.password, "230 User login successful.")
	c.cmdLine("RETR /tst/"+strings.Repeat("1", 10<<10), "500 Syntax error, command line too long.")
	c.cmdLine("NOOP", "200 OK.")
	c.cmdLine("PWD", `257 "/dsk" is the current directory.`)
	// Several long lines in one write, then a command: each gets its reply.
	c.send(strings.Repeat("B", 10<<10) + "\r\n" + strings.Repeat("C", 20<<10) + "\r\nNOOP")
	oneLine(t, "first long line", c.reply(), "500 Syntax error, command line too long.")
	oneLine(t, "second long line", c.reply(), "500 Syntax error, command line too long.")
	oneLine(t, "NOOP after them", c.reply(), "200 OK.")
}

// TestFTPInactivityAfterSlowReply: the inactivity timer measures the time
// since the server last answered, not since the last command arrived. A
// command that takes longer than the timer (here a bad password, answered
// after login_fail_delay = 1.5s with a 1s timer) must leave the client the
// whole timer to send the next one.
func TestFTPInactivityAfterSlowReply(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "[limits]\nlogin_fail_delay = \"1500ms\"\n\n[ftp]\ninactivity_timer = \"1s\"\n")
	c := s.dialCtl(t)
	c.expect(220)
	c.cmdLine("USER root", "331 User name accepted, password needed.")
	c.cmdLine("PASS wrong-password", "530 User login refused.")
	// At once, well within the 1s timer.
	c.cmdLine("NOOP", "200 OK.")
}
