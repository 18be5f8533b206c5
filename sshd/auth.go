package sshd

import (
	"errors"
	"time"

	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

var (
	errAuth    = errors.New("authentication failed")
	errRefused = errors.New("connection refused by a limit")
)

// Permissions extension keys.
const (
	extMethod      = "sluice-method"
	extFingerprint = "sluice-fingerprint"
)

// authConfig is the server configuration for one connection: its
// callbacks know the connection, so they can score its source, refuse it
// once the source is banned, and take its session slot.
func (c *serverConn) authConfig() *ssh.ServerConfig {
	cfg := *c.srv.cur.Load().sshCfg
	cfg.PasswordCallback = c.passwordAuth
	cfg.KeyboardInteractiveCallback = c.keyboardInteractive
	cfg.PublicKeyCallback = c.publicKeyQuery
	cfg.VerifiedPublicKeyCallback = c.publicKeyVerified
	cfg.PreAuthConnCallback = func(p ssh.ServerPreAuthConn) { c.pre = p }
	return &cfg
}

// tell sends text to the client as an authentication banner (OpenSSH
// prints it), then closes the connection.
func (c *serverConn) tell(msg string) {
	if c.pre != nil {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.pre.SendAuthBanner("sluice: " + msg + "\r\n")
	}
	c.Close()
}

// banned refuses further attempts of a source banned meanwhile (by this
// connection or another one), without evaluating them.
func (c *serverConn) banned() bool {
	if _, ok := c.srv.def.Banned(c.ip); ok {
		c.srv.log.Warn("attempt from a banned source refused", "conn", c.id, "remote_addr", c.remote)
		c.tell(policy.ErrSourceBanned.Error())
		return true
	}
	return false
}

// failed scores a failed guess, then unlocks the source and makes the
// client wait.
func (c *serverConn) failed(conn ssh.ConnMetadata, method, fingerprint string, unlock func()) error {
	s := c.srv
	s.audit.Info("login failed", "user", conn.User(), "remote_addr", c.remote,
		"method", method, "key_fingerprint", fingerprint)
	ev := policy.EventPassword
	if s.pol().User(conn.User()) == nil {
		ev = policy.EventUnknownUser
	}
	c.scored = true
	nowBanned := s.def.Add(c.ip, ev)
	unlock()
	// Throttle: each failed attempt costs the client this long, and
	// MaxAuthTries bounds the attempts per connection.
	time.Sleep(s.pol().Limits.LoginFailDelay)
	if nowBanned {
		c.tell(policy.ErrSourceBanned.Error())
	}
	return errAuth
}

// admit takes the session slot of an authenticated connection; the
// session limit applies only after the login, so connections that never
// log in cannot take it.
func (c *serverConn) admit(p *ssh.Permissions) (*ssh.Permissions, error) {
	release, err := c.srv.sessions.Acquire(c.ip.String())
	if err != nil {
		c.srv.log.Warn("session refused", "conn", c.id, "remote_addr", c.remote, "reason", err)
		c.scored = true
		c.srv.def.Add(c.ip, policy.EventLimit)
		n, max := c.srv.sessions.Active()
		c.tell(err.Error() + " (" + itoa(n) + " of " + itoa(max) + " sessions in use); try again later")
		return nil, errRefused
	}
	c.release = release
	return p, nil
}

func (c *serverConn) passwordAuth(conn ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	return c.checkPassword(conn, "password", string(pw))
}

// checkPassword evaluates one guess, one at a time per source.
func (c *serverConn) checkPassword(conn ssh.ConnMetadata, method, pw string) (*ssh.Permissions, error) {
	unlock := c.srv.def.Serialize(c.ip)
	if c.banned() {
		unlock()
		return nil, errAuth
	}
	u, err := c.srv.pol().CheckPassword(conn.User(), pw)
	if err != nil {
		return nil, c.failed(conn, method, "", unlock)
	}
	unlock()
	p, err := c.admit(perms(method, ""))
	if err == nil {
		c.user = u
	}
	return p, err
}

func (c *serverConn) keyboardInteractive(conn ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	if c.banned() {
		return nil, errAuth
	}
	// Ask even for unknown users, so the prompt reveals nothing.
	answers, err := client("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		answers = []string{""}
	}
	return c.checkPassword(conn, "keyboard-interactive", answers[0])
}

// publicKeyQuery answers whether a key may be used; the client has not yet
// proved it holds the key, so nothing is logged as a login here unless the
// key is refused. A refused key is not scored: clients offer every key
// they hold, and MaxAuthTries bounds them.
func (c *serverConn) publicKeyQuery(conn ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if c.banned() {
		return nil, errAuth
	}
	if !c.srv.cur.Load().keys[conn.User()][string(key.Marshal())] {
		c.srv.audit.Info("login failed", "user", conn.User(), "remote_addr", c.remote,
			"method", "publickey", "key_fingerprint", ssh.FingerprintSHA256(key))
		return nil, errAuth
	}
	return perms("publickey", ssh.FingerprintSHA256(key)), nil
}

// publicKeyVerified runs after the client proved it holds the key.
func (c *serverConn) publicKeyVerified(conn ssh.ConnMetadata, key ssh.PublicKey, p *ssh.Permissions, _ string) (*ssh.Permissions, error) {
	if c.banned() {
		return nil, errAuth
	}
	// The policy in force now: a Reload since the query may have
	// removed the key.
	st := c.srv.cur.Load()
	u := st.pol.User(conn.User())
	if u == nil || !st.keys[u.Name][string(key.Marshal())] {
		return nil, errAuth
	}
	p, err := c.admit(p)
	if err == nil {
		c.user = u
	}
	return p, err
}

func perms(method, fp string) *ssh.Permissions {
	return &ssh.Permissions{Extensions: map[string]string{extMethod: method, extFingerprint: fp}}
}
