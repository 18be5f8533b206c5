package ftpgateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/sys/unix"
)

// session is one control connection. Its Serve goroutine owns all fields
// not under mu and reads the lines (each only after the previous one was
// handled, so AUTH TLS can swap the connection); a transfer goroutine runs
// at most one data transfer.
type session struct {
	srv    *Server
	raw    net.Conn // the TCP control connection, for Close
	nc     net.Conn // what commands are read from: raw, or a *tls.Conn after AUTH TLS
	id     string
	remote string
	peerIP net.IP
	log    hclog.Logger

	r        *bufio.Reader
	partial  []byte // a line's bytes read before a read deadline (readLine)
	skipping bool   // readLine is consuming a line over maxLine

	wmu sync.Mutex // guards w: replies come from Serve and the transfer goroutine
	w   *bufio.Writer

	closeOnce sync.Once
	ending    atomic.Bool // the session is ending: a transfer it stops is a cut, not an ABOR

	// Login state.
	userName string // from USER
	user     *policy.User
	vs       *vfs.Session
	vsEnded  bool // the audit has the session end of vs (QUIT); reset at login
	failures int  // failed passwords on this connection; REIN keeps them
	tlsOn    bool

	// Admission: the pre-authentication slot until the login, then the
	// session slot (Serve's goroutine).
	releasePre  func()
	releaseSess func()
	loginBy     time.Time // the login deadline; zero once logged in
	scored      bool      // a penalty was scored for this connection
	protP       bool      // PROT P: data connections use TLS
	pbsz        bool

	// Navigation and transfer settings.
	cwd      string // current file system; "" is the root (NUL)
	ascii    bool   // TYPE A
	rest     int64
	rnfr     string
	testFS   string // ACCT TEST0/TEST1: "tst" or "ts1"; "" when off
	direct   bool
	reply119 bool
	keepOn   bool
	imm      bool
	reload   bool
	systMode string // "unix" or "msdos" (LIST format and SYST)
	mlstOff  uint8  // OPTS MLST: the facts not selected (mlsx.go); 0: all

	data dataState

	mu       sync.Mutex
	xfer     *transfer // running transfer, or nil
	whoName  string    // the logged-in user's name, for other sessions' SITE WHO
	lastFile string    // path of the last file transferred (XCRC/XMD5 without a name)
	lastCmd  string
	loggedAt time.Time
}

func newSession(s *Server, nc net.Conn, id string) *session {
	c := &session{srv: s, raw: nc, nc: nc, id: id, remote: nc.RemoteAddr().String()}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.peerIP = ta.IP
	}
	// Clients send ABOR's Telnet Synch as urgent data (RFC 959 §4.1.3);
	// keep it in the stream so the line stays whole.
	if tc, ok := nc.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1) })
		}
	}
	c.log = s.log.With("conn", "ftp-"+id, "remote_addr", c.remote)
	c.r = bufio.NewReaderSize(nc, maxLine+2)
	c.w = bufio.NewWriter(nc)
	c.resetSettings()
	return c
}

// resetSettings applies the configured defaults (login and REIN).
func (c *session) resetSettings() {
	f := c.srv.pol().FTP
	c.cwd, c.ascii, c.rest, c.rnfr, c.testFS, c.mlstOff = "", false, 0, "", "", 0
	c.direct, c.reply119, c.keepOn, c.imm, c.systMode = f.Direct, f.Reply, f.Keepalive, true, f.OS
	c.data.reset()
}

// Close closes the control connection (netserve.Conn).
// closing reports that the session is ending (the control connection
// is gone, or the server is shutting down).
func (c *session) closing() bool { return c.ending.Load() }

func (c *session) Close() {
	c.closeOnce.Do(func() {
		if c.srv.shutting.Load() {
			// At shutdown the client is told, not just disconnected.
			c.refuse(whyShutdown)
		}
		c.raw.Close()
	})
}

// refuse sends the reason and the manual's 421, bounded in time.
func (c *session) refuse(why string) {
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.sendLines(line1(replyServiceNAWhy, why), string(replyServiceNA))
}

// refuseConn is refuse before the session has started: the client's first
// bytes are drained briefly, so that closing does not reset the
// connection before the client has read the reason.
func (c *session) refuseConn(why string) {
	c.refuse(why)
	if tc, ok := c.raw.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.raw.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, 64<<10))
}

// Idle reports whether no transfer runs (netserve.Conn).
func (c *session) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.xfer == nil
}

// send writes one reply line: a replies.go constant, formatted with args.
// Every line starts with the constant's fixed text, never with client
// input (file names come after it).
func (c *session) send(r reply, args ...any) { c.sendLines(line1(r, args...)) }

// line1 formats one reply line.
func line1(r reply, args ...any) string {
	if len(args) == 0 {
		return string(r)
	}
	return fmt.Sprintf(string(r), args...)
}

// sendLines writes reply lines (a multi-line reply, RFC 959 §4.2) in one
// flush.
func (c *session) sendLines(lines ...string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, l := range lines {
		c.w.WriteString(sanitize(l))
		c.w.WriteString("\r\n")
	}
	// A client that sends commands and never reads the replies is
	// disconnected after the inactivity time, not held forever.
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.pol().FTP.InactivityTimer))
	if err := c.w.Flush(); err != nil {
		c.raw.Close()
	}
}

// sanitize keeps a reply on one line whatever a file name holds.
func sanitize(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		s = strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(s)
	}
	return s
}

// line is one control line as readLine read it.
type line struct {
	raw     []byte
	tooLong bool
}

// readLine reads up to CRLF (or a bare LF); a line longer than maxLine is
// consumed and reported as too long. A read that fails (the deadline of
// the inactivity timer) returns the error and keeps the part of a line
// it had: the next call goes on from there.
func (c *session) readLine() ([]byte, bool, error) {
	for {
		b, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			c.skipping, c.partial = true, c.partial[:0]
			continue
		}
		if err != nil {
			if !c.skipping {
				c.partial = append(c.partial, b...)
				if len(c.partial) > maxLine+1 {
					c.skipping, c.partial = true, c.partial[:0]
				}
			}
			return nil, false, err
		}
		if c.skipping {
			c.skipping, c.partial = false, c.partial[:0]
			return nil, true, nil
		}
		l := append(c.partial, b...)
		c.partial = nil
		if len(l) > maxLine+2 {
			return nil, true, nil
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r")), false, nil
	}
}

// Serve runs the control connection (netserve.Conn).
func (c *session) Serve() {
	s := c.srv
	defer func() {
		// SITE RELOAD ON: the reload runs once the control connection
		// has closed (manual §3.10).
		if c.reload && s.cfg.Reload != nil {
			s.log.Info("running the reload command ordered by SITE RELOAD", "user", c.user.Name)
			s.cfg.Reload()
		}
	}()
	defer c.Close()
	if until, ok := s.def.Banned(c.peerIP); ok {
		s.count(func(st *stats) { st.refused++ })
		c.log.Warn("connection refused", "reason", policy.ErrSourceBanned, "until", until)
		c.refuseConn(capital(policy.ErrSourceBanned.Error()) + ".")
		return
	}
	releasePre, err := s.budget.Admit(c.peerIP)
	if err != nil {
		s.count(func(st *stats) { st.refused++ })
		c.log.Warn("connection refused", "reason", err)
		s.def.Add(c.peerIP, policy.EventLimit)
		c.refuseConn(capital(err.Error()) + ".")
		return
	}
	c.releasePre = releasePre
	c.loginBy = time.Now().Add(s.pol().Limits.LoginGraceTime)
	defer func() {
		if c.releasePre != nil {
			c.releasePre()
			if !c.scored {
				s.def.Add(c.peerIP, policy.EventNoAuth)
			}
		}
		if c.releaseSess != nil {
			c.releaseSess()
		}
	}()
	s.addClient(c)
	defer s.removeClient(c)
	// The session end of a session that did not QUIT (runs after
	// abortTransfer, so a cut transfer is audited first).
	how := "dropped"
	defer func() {
		if s.shutting.Load() {
			how = "shutdown"
		}
		c.endSession(how)
	}()
	defer c.data.close()
	defer c.abortTransfer()
	defer c.ending.Store(true) // runs before abortTransfer

	// The manual's "N active clients": the FTP clients connected now, this
	// one included; "of M": the session limit.
	_, max := s.sessions.Active()
	c.sendBanner(s.clientCount(), max)

	// Lines are read here, one after the other (AUTH TLS swaps the
	// connection between two), with the inactivity timer as the read
	// deadline: counted from the reply, not from the command, and before
	// the login never past the login deadline. A transfer runs on its own
	// goroutine; the commands that come meanwhile are read here.
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.untilTimeout()))
		raw, tooLong, err := c.readLine()
		if err != nil {
			if !isTimeout(err) || c.closing() {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					c.log.Debug("control connection ended", "error", err)
				}
				return
			}
			if !c.loginBy.IsZero() && !time.Now().Before(c.loginBy) {
				c.log.Info("login time exceeded")
				c.scored = true
				s.def.Add(c.peerIP, policy.EventNoAuth)
				c.refuse(whyLoginTime)
				return
			}
			if !c.Idle() {
				continue // never during a transfer
			}
			c.send(replyInactivity)
			c.log.Info("inactivity timer expired")
			how = "inactivity"
			return
		}
		if c.handle(line{raw: raw, tooLong: tooLong}) {
			how = "closed by the server" // QUIT has audited its own end
			return
		}
	}
}

// endSession audits the end of the logged-in session, once: how is
// "quit", "rein", "dropped" (the client went away without QUIT),
// "inactivity", "shutdown" or "closed by the server" (a 421).
func (c *session) endSession(how string) {
	if c.vs == nil || c.vsEnded {
		return
	}
	c.vsEnded = true
	c.srv.audit.Info("session end", "user", c.vs.User.Name, "session", c.vs.ID, "remote_addr", c.remote,
		"how", how, "duration_ms", time.Since(c.loggedAt).Milliseconds())
}

// sendBanner sends the configured banner as 220- lines, then the manual's
// 220 greeting (§1.4: "220-<Banner configured> (If the banner is
// configured)").
func (c *session) sendBanner(n, max int) {
	var lines []string
	for _, l := range c.srv.pol().FTP.BannerLines {
		lines = append(lines, fmt.Sprintf(string(replyBannerLine), l))
	}
	c.sendLines(append(lines, fmt.Sprintf(string(replyBanner), n, max))...)
}

// untilTimeout is the time to the inactivity timeout, or to the login
// deadline if that comes first.
func (c *session) untilTimeout() time.Duration {
	d := c.srv.pol().FTP.InactivityTimer
	if !c.loginBy.IsZero() {
		d = min(d, max(time.Until(c.loginBy), 0))
	}
	return d
}

// capital starts an error text with a capital letter.
func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// handle runs one line; it reports whether the session ends.
func (c *session) handle(l line) bool {
	if l.tooLong {
		c.send(replyLineTooLong)
		return false
	}
	cmd, err := parseLine(l.raw)
	switch {
	case errors.Is(err, errEmpty):
		c.send(replyUnrecognized)
		return false
	case err != nil:
		c.send(replyDelimiter)
		return false
	}
	if cmd.verb == "PASS" {
		c.log.Debug("command", "verb", cmd.verb) // never the password
	} else {
		c.log.Debug("command", "verb", cmd.verb, "arg", cmd.arg)
	}
	c.mu.Lock()
	busy := c.xfer != nil
	c.lastCmd = cmd.verb
	c.mu.Unlock()
	if busy {
		return c.duringTransfer(cmd)
	}
	return c.dispatch(cmd)
}

// upgradeTLS turns the control connection into TLS after "234".
func (c *session) upgradeTLS() error {
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	c.nc = tc
	c.r = bufio.NewReaderSize(tc, maxLine+2)
	c.wmu.Lock()
	c.w = bufio.NewWriter(tc)
	c.wmu.Unlock()
	c.tlsOn = true
	return nil
}
