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
	srv *Server
	nc  net.Conn
	id  string

	closeOnce sync.Once
	channels  atomic.Int32 // session channels open; 0 means idle for Shutdown
}

// Close closes the connection (netserve.Conn).
func (c *serverConn) Close() { c.closeOnce.Do(func() { c.nc.Close() }) }

// Idle reports whether no session channel is open (netserve.Conn).
func (c *serverConn) Idle() bool { return c.channels.Load() == 0 }

// Serve handles the connection (netserve.Conn).
func (c *serverConn) Serve() {
	s := c.srv
	defer c.Close()

	remote := c.nc.RemoteAddr().String()
	log := s.log.With("conn", c.id, "remote_addr", remote)
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	release, err := s.sessions.Acquire(ip)
	if err != nil {
		// Refuse at once, before the handshake costs anything.
		log.Warn("connection refused", "reason", err)
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c.nc, "SSH-2.0-sluice\r\n")
		return
	}
	defer release()

	lim := s.cfg.Policy.Limits
	dc := &deadlineConn{Conn: c.nc}
	dc.SetDeadline(time.Now().Add(lim.HandshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(dc, s.sshCfg)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			log.Debug("handshake failed", "error", err)
		}
		return
	}
	defer sconn.Close()
	dc.setIdle(lim.IdleTimeout)

	user := s.userOf(sconn.User())
	if user == nil { // removed from the configuration meanwhile
		return
	}
	ext := sconn.Permissions.Extensions
	s.audit.Info("login", "user", user.Name, "remote_addr", remote, "method", ext[extMethod],
		"key_fingerprint", ext[extFingerprint], "client", string(sconn.ClientVersion()))
	start := time.Now()
	s.audit.Info("session start", "user", user.Name, "session", c.id, "remote_addr", remote)
	defer func() {
		s.audit.Info("session end", "user", user.Name, "session", c.id, "remote_addr", remote,
			"duration", time.Since(start))
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess := &vfs.Session{User: user, ID: "ssh-" + c.id, Remote: remote}
	opt := sftphandler.Options{
		WinSCPCompat: winscpCompat(s.cfg.Policy.SSH.WinSCPSetstat, string(sconn.ClientVersion())),
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
				go func() { done <- sftphandler.Serve(ctx, &exitChannel{Channel: ch}, c.srv.cfg.Store, sess, opt) }()
				continue
			}
			// shell, exec, pty-req, env, x11-req, auth-agent-req@openssh.com …
			log.Info("channel request refused", "type", req.Type)
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
type exitChannel struct {
	ssh.Channel
	once sync.Once
}

func (c *exitChannel) Close() error {
	var err error
	c.once.Do(func() {
		c.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
		c.CloseWrite()
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
