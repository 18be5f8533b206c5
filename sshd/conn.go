package sshd

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/sftphandler"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/crypto/ssh"
)

// maxChannels bounds concurrent session channels per connection.
const maxChannels = 4

// deadlineConn enforces the handshake deadline until authentication ends,
// then an idle deadline renewed by every read and write.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	idle time.Duration // 0 while in the handshake
}

func (c *deadlineConn) setIdle(d time.Duration) {
	c.mu.Lock()
	c.idle = d
	c.mu.Unlock()
	c.Conn.SetDeadline(time.Now().Add(d))
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	c.extend()
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.extend()
	return c.Conn.Write(p)
}

func (c *deadlineConn) extend() {
	c.mu.Lock()
	d := c.idle
	c.mu.Unlock()
	if d > 0 {
		c.Conn.SetDeadline(time.Now().Add(d))
	}
}

// serverConn is one SSH connection. It is owned by its serve goroutine;
// channel goroutines are owned by it and waited for before it returns.
type serverConn struct {
	srv    *Server
	nc     net.Conn
	id     string
	remote string
	ip     net.IP

	// Set during the handshake by the auth callbacks (the serve goroutine).
	pre     ssh.ServerPreAuthConn
	scored  bool   // a penalty was scored for this connection
	release func() // the session slot, once authenticated
	// user is the policy user the login was checked against: a Reload
	// after it does not change who the session is.
	user *policy.User

	closeOnce sync.Once
	channels  atomic.Int32 // session channels open
	lastIO    atomic.Int64 // unix nanos of the last channel traffic, for Idle
}

// Close closes the connection (netserve.Conn).
func (c *serverConn) Close() { c.closeOnce.Do(func() { c.nc.Close() }) }

// idleAfter is how long a session must have moved no SFTP bytes to count
// as idle for Shutdown.
const idleAfter = time.Second

// Idle reports whether the connection may be closed at once (netserve.Conn):
// no session channel, or none has moved a byte for idleAfter. An upload cut
// that way is kept incomplete, never committed.
func (c *serverConn) Idle() bool {
	return c.channels.Load() == 0 || time.Since(time.Unix(0, c.lastIO.Load())) >= idleAfter
}

// Serve handles the connection (netserve.Conn).
func (c *serverConn) Serve() {
	s := c.srv
	defer c.Close()

	_, c.ip = policy.SourceOf(c.nc.RemoteAddr())
	c.remote = c.nc.RemoteAddr().String()
	log := s.log.With("conn", c.id, "remote_addr", c.remote)
	if until, ok := s.def.Banned(c.ip); ok {
		log.Warn("connection refused", "reason", policy.ErrSourceBanned, "until", until)
		refuse(c.nc, disconnectNotAllowed, policy.ErrSourceBanned.Error())
		return
	}
	releasePre, err := s.budget.Admit(c.ip)
	if err != nil {
		// Refuse at once, before the key exchange costs anything.
		log.Warn("connection refused", "reason", err)
		s.def.Add(c.ip, policy.EventLimit)
		refuse(c.nc, disconnectTooMany, err.Error())
		return
	}
	defer releasePre()
	defer func() {
		if c.release != nil {
			c.release()
		}
	}()

	lim := s.pol().Limits
	dc := &deadlineConn{Conn: c.nc}
	dc.SetDeadline(time.Now().Add(lim.LoginGraceTime))
	sconn, chans, reqs, err := ssh.NewServerConn(dc, c.authConfig())
	if err != nil {
		if !c.scored {
			s.def.Add(c.ip, policy.EventNoAuth)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			// A scanner or a probe that hung up, or Shutdown: nothing
			// to audit.
			log.Debug("handshake ended", "error", err)
			return
		}
		args := []any{"remote_addr", c.remote, "error", err}
		var ne *ssh.AlgorithmNegotiationError
		if errors.As(err, &ne) {
			// What the client offered and what sluice offers: an old
			// client or a scanner probing for weak algorithms.
			args = append(args, "negotiating", ne.What, "client_offered", strings.Join(ne.RequestedAlgorithms, ","),
				"server_offered", strings.Join(ne.SupportedAlgorithms, ","))
		}
		s.audit.Info("handshake failed", args...)
		return
	}
	releasePre()
	defer sconn.Close()
	dc.setIdle(lim.IdleTimeout)

	user := c.user
	if user == nil { // not set by an auth callback: never logged in
		return
	}
	ext := sconn.Permissions.Extensions
	sid := "ssh-" + c.id // the session id of every audit event of this connection
	s.audit.Info("login", "user", user.Name, "session", sid, "remote_addr", c.remote, "method", ext[extMethod],
		"key_fingerprint", ext[extFingerprint], "client", string(sconn.ClientVersion()))
	start := time.Now()
	s.audit.Info("session start", "user", user.Name, "session", sid, "remote_addr", c.remote)
	defer func() {
		s.audit.Info("session end", "user", user.Name, "session", sid, "remote_addr", c.remote,
			"duration_ms", time.Since(start).Milliseconds())
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess := &vfs.Session{User: user, ID: sid, Remote: c.remote, Text: sftphandler.AuditText}
	opt := sftphandler.Options{
		WinSCPCompat: winscpCompat(s.pol().SSH.WinSCPSetstat, string(sconn.ClientVersion())),
		Logger:       s.log.Named("sftp").With("conn", c.id, "user", user.Name),
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sem := make(chan struct{}, maxChannels)
	// One loop serves new channels and global requests (tcpip-forward and
	// the like, all refused): no goroutine of its own for the latter, which
	// keeps idle sessions small.
	for {
		var nch ssh.NewChannel
		select {
		case req, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			log.Info("global request refused", "type", req.Type)
			if req.WantReply {
				req.Reply(false, nil)
			}
			continue
		case n, ok := <-chans:
			if !ok {
				return
			}
			nch = n
		}
		if nch.ChannelType() != "session" {
			log.Warn("channel refused", "type", nch.ChannelType())
			nch.Reject(ssh.Prohibited, "only sftp sessions are served")
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			nch.Reject(ssh.ResourceShortage, "too many channels")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			<-sem
			continue
		}
		wg.Add(1)
		c.lastIO.Store(time.Now().UnixNano())
		c.channels.Add(1)
		go func() {
			defer wg.Done()
			defer c.channels.Add(-1)
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					log.Error("panic in session", "panic", r, "stack", string(debug.Stack()))
					c.Close()
				}
			}()
			c.session(ctx, ch, creqs, sess, opt, log)
		}()
	}
}

// session serves one "session" channel: only the sftp subsystem.
func (c *serverConn) session(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, sess *vfs.Session,
	opt sftphandler.Options, log hclog.Logger) {
	defer ch.Close()
	started := false
	done := make(chan error, 1)
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				if started {
					<-done
				}
				return
			}
			if req.Type == "subsystem" && !started && subsystemName(req.Payload) == "sftp" {
				started = true
				req.Reply(true, nil)
				go func() {
					done <- sftphandler.Serve(ctx, &exitChannel{Channel: ch, lastIO: &c.lastIO}, c.srv.cfg.Store, sess, opt)
				}()
				continue
			}
			// shell, exec, pty-req, env, x11-req, auth-agent-req@openssh.com …
			// OpenSSH sends env (LANG, LC_*) on every login: not news.
			if req.Type == "env" {
				log.Debug("channel request refused", "type", req.Type)
			} else {
				log.Info("channel request refused", "type", req.Type)
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		case err := <-done:
			if err != nil && !errors.Is(err, io.EOF) {
				log.Debug("sftp session ended", "error", err)
			}
			return
		}
	}
}

// exitChannel sends exit-status 0 before closing: OpenSSH scp reports
// failure without one.
// It also records when it last moved bytes (Idle).
//
// Close may come from another goroutine than Write (a shutdown cancels
// the session's context while its loop writes a reply). x/crypto's
// channel reads its end-of-file flag in Write and sets it in CloseWrite
// without a lock, so the two must not overlap: Write holds wmu, and
// Close sends exit-status and EOF only when it can take wmu at once.
// When a Write is in progress (it may be blocked on a client that stopped
// reading) Close does not wait for it: the session is being cut, so it
// sends no exit status and no EOF, only the channel close.
type exitChannel struct {
	ssh.Channel
	lastIO *atomic.Int64
	once   sync.Once
	wmu    sync.Mutex
}

func (c *exitChannel) Read(p []byte) (int, error) {
	n, err := c.Channel.Read(p)
	c.lastIO.Store(time.Now().UnixNano())
	return n, err
}

func (c *exitChannel) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.lastIO.Store(time.Now().UnixNano())
	return c.Channel.Write(p)
}

func (c *exitChannel) Close() error {
	var err error
	c.once.Do(func() {
		if c.wmu.TryLock() {
			c.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			c.CloseWrite()
			c.wmu.Unlock()
		}
		err = c.Channel.Close()
	})
	return err
}

func subsystemName(payload []byte) string {
	var m struct{ Name string }
	if err := ssh.Unmarshal(payload, &m); err != nil {
		return ""
	}
	return m.Name
}

func winscpCompat(setting, clientVersion string) bool {
	switch setting {
	case "on":
		return true
	case "off":
		return false
	}
	return strings.Contains(clientVersion, "WinSCP")
}
