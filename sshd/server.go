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
	"net"
	"strconv"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/netserve"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/sftphandler"
	"golang.org/x/crypto/ssh"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = netserve.ErrServerClosed

// Config configures a Server. Policy, HostKeys and Store are required.
type Config struct {
	Policy   *policy.Config // users and limits
	HostKeys []ssh.Signer
	Store    sftphandler.Store
	// Sessions is shared with the other front ends; nil makes one from
	// Policy.Limits.
	Sessions *policy.SessionLimiter
	// Budget is this front end's pre-authentication budget; nil makes one
	// from Policy.Limits.
	Budget *policy.Budget
	// Defender holds the per-source penalties shared with the other
	// front ends; nil makes one from Policy.Penalties.
	Defender *policy.Defender
	Logger   hclog.Logger // nil discards
	Audit    hclog.Logger // the "audit" logger; nil discards
}

// Algorithm lists (DESIGN §5). Each passes ssh-audit with no [fail].
var (
	kexAlgos = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519}
	ciphers  = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherAES128CTR, ssh.CipherAES256CTR}
	// ETM first; the plain forms too, as OpenSSH's sshd offers them:
	// libssh2 1.10 (curl's sftp://, PHP, device scripts) has no ETM MAC
	// and no GCM. ssh-audit rates them [warn], never [fail].
	macs = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA512}
	// client key signature algorithms accepted for public-key auth
	pubkeyAlgos = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoRSASHA512,
		ssh.KeyAlgoRSASHA256, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256}
)

// Server is an SSH server for the sftp subsystem.
type Server struct {
	cfg Config
	// cur is the policy in force: every new connection and login reads
	// it, Reload replaces it. A session keeps the user it logged in as.
	cur      atomic.Pointer[state]
	log      hclog.Logger
	audit    hclog.Logger
	sessions *policy.SessionLimiter
	budget   *policy.Budget
	def      *policy.Defender
	nextID   atomic.Uint64
	net      *netserve.Server
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
		cfg:      cfg,
		log:      cfg.Logger,
		audit:    cfg.Audit,
		sessions: cfg.Sessions,
		budget:   cfg.Budget,
		def:      cfg.Defender,
	}
	if s.def == nil {
		s.def = policy.NewDefender(cfg.Policy.Penalties)
	}
	if s.budget == nil {
		s.budget = policy.NewBudget(cfg.Policy.Limits, s.def.Allowed)
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.net = netserve.New(func(nc net.Conn) netserve.Conn {
		return &serverConn{srv: s, nc: nc, id: strconv.FormatUint(s.nextID.Add(1), 10)}
	}, s.log)
	if s.audit == nil {
		s.audit = hclog.NewNullLogger()
	}
	if s.sessions == nil {
		s.sessions = policy.NewSessionLimiter(cfg.Policy.Limits)
	}
	st, err := s.newState(cfg.Policy)
	if err != nil {
		return nil, err
	}
	s.cur.Store(st)
	return s, nil
}

func (s *Server) serverConfig(p *policy.Config) *ssh.ServerConfig {
	c := &ssh.ServerConfig{
		MaxAuthTries: p.SSH.MaxAuthTries,
		// The auth callbacks are set per connection (authConfig).
		PublicKeyAuthAlgorithms: pubkeyAlgos,
		ServerVersion:           "SSH-2.0-sluice",
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
func (s *Server) Serve(l net.Listener) error { return s.net.Serve(l) }

// Shutdown stops accepting, closes connections without an open session,
// and waits for the sessions to end; when ctx ends first, it closes them
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.net.Shutdown(ctx) }

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error { return s.net.Close() }
