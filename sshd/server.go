// Package sshd is sluice's SSH listener: modern algorithms only, password,
// keyboard-interactive and public-key authentication against policy,
// throttled failures, session limits, handshake and idle deadlines, and
// nothing but the "sftp" subsystem on "session" channels (DESIGN §5).
//
// Server follows net/http: Serve(net.Listener), Shutdown(ctx), Close, and
// ErrServerClosed.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/sftphandler"
	"golang.org/x/crypto/ssh"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("sshd: server closed")

// Config configures a Server. Policy, HostKeys and Store are required.
type Config struct {
	Policy   *policy.Config // users and limits
	HostKeys []ssh.Signer
	Store    sftphandler.Store
	// Sessions is shared with the other front ends; nil makes one from
	// Policy.Limits.
	Sessions *policy.SessionLimiter
	Logger   hclog.Logger // nil discards
	Audit    hclog.Logger // the "audit" logger; nil discards
}

// Algorithm lists (DESIGN §5). Each passes ssh-audit with no [fail].
var (
	kexAlgos = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519}
	ciphers  = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherAES128CTR, ssh.CipherAES256CTR}
	macs     = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM}
	// client key signature algorithms accepted for public-key auth
	pubkeyAlgos = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoRSASHA512,
		ssh.KeyAlgoRSASHA256, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256}
)

// Server is an SSH server for the sftp subsystem.
//
// mu guards listeners, conns and closed; it is never held during I/O.
type Server struct {
	cfg      Config
	sshCfg   *ssh.ServerConfig
	keys     map[string]map[string]bool // user → marshalled authorized keys
	log      hclog.Logger
	audit    hclog.Logger
	sessions *policy.SessionLimiter
	nextID   atomic.Uint64

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[*serverConn]bool
	closed    bool
	wg        sync.WaitGroup // one per connection goroutine
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Policy == nil || cfg.Store == nil {
		return nil, errors.New("sshd: Policy and Store are required")
	}
	if len(cfg.HostKeys) == 0 {
		return nil, errors.New("sshd: no host key")
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		audit:     cfg.Audit,
		sessions:  cfg.Sessions,
		keys:      map[string]map[string]bool{},
		listeners: map[net.Listener]bool{},
		conns:     map[*serverConn]bool{},
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.audit == nil {
		s.audit = hclog.NewNullLogger()
	}
	if s.sessions == nil {
		s.sessions = policy.NewSessionLimiter(cfg.Policy.Limits)
	}
	for _, u := range cfg.Policy.Users {
		set := map[string]bool{}
		for i, line := range u.AuthorizedKeys {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("sshd: user %q: authorized key %d: %w", u.Name, i+1, err)
			}
			set[string(k.Marshal())] = true
		}
		s.keys[u.Name] = set
	}
	s.sshCfg = s.serverConfig()
	return s, nil
}

func (s *Server) serverConfig() *ssh.ServerConfig {
	p := s.cfg.Policy
	c := &ssh.ServerConfig{
		MaxAuthTries:                p.SSH.MaxAuthTries,
		PasswordCallback:            s.passwordAuth,
		PublicKeyCallback:           s.publicKeyQuery,
		VerifiedPublicKeyCallback:   s.publicKeyVerified,
		KeyboardInteractiveCallback: s.keyboardInteractive,
		PublicKeyAuthAlgorithms:     pubkeyAlgos,
		ServerVersion:               "SSH-2.0-sluice",
	}
	c.KeyExchanges = kexAlgos
	c.Ciphers = append([]string(nil), ciphers...)
	if p.SSH.ChaCha20 {
		c.Ciphers = append(c.Ciphers, ssh.CipherChaCha20Poly1305)
	}
	c.MACs = macs
	for _, k := range s.cfg.HostKeys {
		c.AddHostKey(k)
	}
	return c
}

// Serve accepts connections on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := &serverConn{srv: s, nc: nc, id: strconv.FormatUint(s.nextID.Add(1), 10)}
		if !s.track(c) {
			nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) track(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeListeners stops accepting; it returns the open connections.
func (s *Server) closeListeners() []*serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Shutdown stops accepting, closes connections without an open session,
// and waits for the sessions to end; when ctx ends first, it closes them
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Like net/http: connections with no session open are idle and
		// closed at once; the others may finish their transfers.
		for _, c := range s.closeListeners() {
			if c.channels.Load() == 0 {
				c.close()
			}
		}
		select {
		case <-done:
			return nil
		case <-tick.C:
		case <-ctx.Done():
			for _, c := range s.closeListeners() {
				c.close()
			}
			<-done
			return ctx.Err()
		}
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	for _, c := range s.closeListeners() {
		c.close()
	}
	s.wg.Wait()
	return nil
}

// recoverConn logs a panic in a connection goroutine and closes only that
// connection.
func (s *Server) recoverConn(c *serverConn) {
	if r := recover(); r != nil {
		s.log.Error("panic in connection", "conn", c.id, "panic", r, "stack", string(debug.Stack()))
		c.close()
	}
}
