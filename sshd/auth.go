package sshd

import (
	"errors"
	"time"

	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

var errAuth = errors.New("authentication failed")

// Permissions extension keys.
const (
	extMethod      = "sluice-method"
	extFingerprint = "sluice-fingerprint"
)

func (s *Server) failed(conn ssh.ConnMetadata, method, fingerprint string) error {
	s.audit.Info("login failed", "user", conn.User(), "remote_addr", conn.RemoteAddr().String(),
		"method", method, "key_fingerprint", fingerprint)
	// Throttle: each failed attempt costs the client this long, and
	// MaxAuthTries bounds the attempts per connection.
	time.Sleep(s.cfg.Policy.Limits.LoginFailDelay)
	return errAuth
}

func (s *Server) passwordAuth(conn ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	if _, err := s.cfg.Policy.CheckPassword(conn.User(), string(pw)); err != nil {
		return nil, s.failed(conn, "password", "")
	}
	return perms("password", ""), nil
}

func (s *Server) keyboardInteractive(conn ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	// Ask even for unknown users, so the prompt reveals nothing.
	answers, err := client("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, s.failed(conn, "keyboard-interactive", "")
	}
	if _, err := s.cfg.Policy.CheckPassword(conn.User(), answers[0]); err != nil {
		return nil, s.failed(conn, "keyboard-interactive", "")
	}
	return perms("keyboard-interactive", ""), nil
}

// publicKeyQuery answers whether a key may be used; the client has not yet
// proved it holds the key, so nothing is logged as a login here unless the
// key is refused.
func (s *Server) publicKeyQuery(conn ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if !s.keys[conn.User()][string(key.Marshal())] {
		s.audit.Info("login failed", "user", conn.User(), "remote_addr", conn.RemoteAddr().String(),
			"method", "publickey", "key_fingerprint", ssh.FingerprintSHA256(key))
		return nil, errAuth
	}
	return perms("publickey", ssh.FingerprintSHA256(key)), nil
}

// publicKeyVerified runs after the client proved it holds the key.
func (s *Server) publicKeyVerified(conn ssh.ConnMetadata, key ssh.PublicKey, p *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	return p, nil
}

func perms(method, fp string) *ssh.Permissions {
	return &ssh.Permissions{Extensions: map[string]string{extMethod: method, extFingerprint: fp}}
}

// userOf returns the policy user of an authenticated connection.
func (s *Server) userOf(name string) *policy.User { return s.cfg.Policy.User(name) }
