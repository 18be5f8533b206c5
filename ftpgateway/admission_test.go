package ftpgateway

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/policy"
)

// TestREINKeepsFailures: REIN logs out but keeps the count of failed
// passwords, so one connection cannot guess forever.
func TestREINKeepsFailures(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.dial(t)
	for i := range 3 {
		c.want("USER root", "331 User name accepted, password needed.")
		r := c.cmd("PASS wrong")
		if i < 2 {
			c.check("PASS wrong", r, "530 User login refused.")
			c.want("REIN", "220 OK.")
			continue
		}
		c.check("PASS wrong", r, "530 User login refused.")
	}
	c.wantRead("after 3 bad passwords and 2 REINs", "421-Too many failed logins.", "421 Service not available.")
	c.wantEOF("after 3 bad passwords")
}

// TestLoginDeadline: a connection that has not logged in within the login
// grace time is closed, however many commands it sends.
func TestLoginDeadline(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nlogin_grace_time = \"300ms\""})
	c := e.dial(t)
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		r := c.cmd("NOOP")
		if r.code == 421 {
			c.check("NOOP past the login deadline", r, "421-Login time exceeded.", "421 Service not available.")
			c.wantEOF("after the login deadline")
			return
		}
		if r.code != 200 {
			t.Fatalf("NOOP: %q", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("NOOPs kept an unauthenticated connection open past the login deadline")
}

// TestLoginDeadlineEndsAtLogin: a logged-in session is not bound by the
// login deadline.
func TestLoginDeadlineEndsAtLogin(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nlogin_grace_time = \"200ms\""})
	c := e.login(t, "root")
	time.Sleep(400 * time.Millisecond)
	c.want("NOOP", "200 OK.")
}

// TestBannedSource: failed passwords past the threshold ban the source:
// the connection is told and closed, and new connections from the source
// are refused with the reason, before any password is evaluated.
func TestBannedSource(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"", users: "\n[penalties]\nthreshold = 4\n"})
	c := e.dial(t)
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS wrong", "530 User login refused.")
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS wrong", "530 User login refused.")
	c.wantRead("banned", "421-Address temporarily banned after repeated failures.", "421 Service not available.")
	c.wantEOF("banned")
	d := e.dialRaw(t)
	d.wantRead("connection from a banned source", "421-Address temporarily banned after repeated failures.", "421 Service not available.")
	d.wantEOF("connection from a banned source")
	if bans := e.srv.def.Bans(); len(bans) != 1 || bans[0].Source != "127.0.0.1" {
		t.Errorf("bans: %+v", bans)
	}
}

// TestUnknownUserScoresMore: an unknown user costs twice a known one's
// failed password.
func TestUnknownUserScoresMore(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"", users: "\n[penalties]\nthreshold = 4\n"})
	c := e.dial(t)
	c.want("USER nosuch", "331 User name accepted, password needed.")
	c.want("PASS x", "530 User login refused.")
	c.wantRead("banned", "421-Address temporarily banned after repeated failures.", "421 Service not available.")
}

// TestPreAuthPerSource: a source's unauthenticated connections are
// bounded; a login frees its slot; the refusal says why.
func TestPreAuthPerSource(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nmax_startups_per_source = 2"})
	a := e.dial(t)
	e.dial(t)
	c := e.dialRaw(t)
	c.wantRead("third unauthenticated connection", "421-Too many unauthenticated connections from this address.", "421 Service not available.")
	c.wantEOF("third unauthenticated connection")
	a.want("USER root", "331 User name accepted, password needed.")
	a.want("PASS "+testPassword, "230 User login successful.")
	d := e.dial(t) // a's slot is free again
	// REIN takes a pre-authentication slot again: there is none.
	a.want("REIN", "421-Too many unauthenticated connections from this address.", "421 Service not available.")
	d.want("NOOP", "200 OK.")
}

// TestSessionSlotAfterLogin: unauthenticated connections take no session
// slot, so they cannot keep a login out.
func TestSessionSlotAfterLogin(t *testing.T) {
	e := newTestEnv(t, tOpts{limits: "login_fail_delay = \"10ms\"\nmax_sessions = 1\nmax_startups_per_source = 20\nmax_startups = \"100\""})
	for range 10 {
		e.dial(t)
	}
	e.login(t, "root")
}

// TestShutdownSays421: at shutdown a client is told before the close.
func TestShutdownSays421(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.wantRead("at shutdown", "421-The server is shutting down.", "421 Service not available.")
	c.wantEOF("at shutdown")
}

// TestPipelinerThatNeverReads: a client that sends commands and never
// reads the replies is disconnected after the inactivity time (the control
// write deadline), not held forever.
func TestPipelinerThatNeverReads(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "inactivity_timer = \"300ms\""})
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4096)
	// HELP's reply is long: the socket buffers fill within a few thousand.
	go func() {
		cmds := []byte(strings.Repeat("HELP\r\n", 1000))
		for range 200 {
			if _, err := nc.Write(cmds); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(testTimeout)
	for e.srv.clientCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for e.srv.clientCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads still holds its session")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBansShownToSupervisors: SITE WHO and SITE STATS list the banned
// sources for a supervisor, and for no one else.
func TestBansShownToSupervisors(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	ip := net.ParseIP("198.51.100.9")
	for !e.srv.def.Add(ip, policy.EventUnknownUser) {
	}
	until := e.srv.def.Bans()[0].Until.UTC().Format(time.RFC3339)
	want := " Banned: 198.51.100.9 until " + until + " (ban 1, unknown user)"
	root := e.login(t, "root")
	for _, cmd := range []string{"SITE WHO", "SITE STATS"} {
		r := root.cmd(cmd)
		if !strings.Contains(r.String(), want) {
			t.Errorf("%s as supervisor: got %q, want a line %q", cmd, r.lines, want)
		}
	}
	if r := root.cmd("SITE STATS"); !strings.Contains(r.String(), " Banned sources: 1") {
		t.Errorf("SITE STATS: got %q", r.lines)
	}
	guest := e.login(t, "guest")
	if r := guest.cmd("SITE STATS"); strings.Contains(r.String(), "Banned") {
		t.Errorf("SITE STATS as guest shows bans: %q", r.lines)
	}
}
