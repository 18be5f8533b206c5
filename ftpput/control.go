package ftpput

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
)

// Reply codes this client acts on (RFC 959 §4.2, RFC 2228, RFC 2428).
const (
	codeCommandOK   = 200 // TYPE, PORT, EPRT, PBSZ, PROT
	codeNoPassword  = 202 // USER: logged in, no password needed
	codeReady       = 220 // greeting
	codeClosingData = 226 // STOR done
	codePassive     = 227 // PASV
	codeExtPassive  = 229 // EPSV
	codeLoggedIn    = 230
	codeAuthOK      = 234 // AUTH TLS
	codeFileActOK   = 250 // STOR done (some servers)
	codeNeedPass    = 331
)

// ReplyError is a reply the client did not expect: a refusal, or a
// failed transfer. The text is the server's.
type ReplyError struct {
	Code int
	Msg  string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("%03d %s", e.Code, e.Msg) }

// control is the client's end of the control connection. It is used by
// one goroutine, and while an active-mode transfer waits for the
// server's connection, by one more that only peeks (watch).
type control struct {
	nc net.Conn // the idle-timed TCP connection, or TLS over it
	r  *textproto.Reader
	br *bufio.Reader
	// watching, if not nil, is closed when watch's peek has returned:
	// reply waits for it before it reads.
	watching chan struct{}
	peekErr  error // watch's result, read after watching is closed
}

// watch peeks at the control connection in a goroutine until a byte
// arrives or the read fails (its idle deadline, a close); the returned
// channel is closed then. The bytes stay for reply.
func (c *control) watch() <-chan struct{} {
	done := make(chan struct{})
	c.watching = done
	go func() {
		defer close(done)
		_, c.peekErr = c.br.Peek(1)
	}()
	return done
}

func newControl(nc net.Conn) *control {
	br := bufio.NewReader(nc)
	return &control{nc: nc, br: br, r: textproto.NewReader(br)}
}

// reply reads one reply, single- or multi-line (RFC 959 §4.2).
func (c *control) reply() (int, string, error) {
	if c.watching != nil {
		<-c.watching
		c.watching = nil
	}
	code, msg, err := c.r.ReadResponse(0)
	if err != nil {
		return 0, "", err
	}
	return code, msg, nil
}

// cmd sends one command line and reads its reply. Callers check that no
// argument holds CR or LF (Put checks its Config).
func (c *control) cmd(format string, args ...any) (int, string, error) {
	if _, err := io.WriteString(c.nc, fmt.Sprintf(format, args...)+"\r\n"); err != nil {
		return 0, "", err
	}
	return c.reply()
}

// expect sends a command and wants the reply want; another reply is a
// *ReplyError.
func (c *control) expect(want int, format string, args ...any) error {
	code, msg, err := c.cmd(format, args...)
	if err != nil {
		return err
	}
	if code != want {
		return &ReplyError{Code: code, Msg: msg}
	}
	return nil
}

// greeting reads the server's 220 (RFC 959 §5.4: 120 comes before it
// when the server is not ready yet).
func (c *control) greeting() error {
	for {
		code, msg, err := c.reply()
		if err != nil {
			return err
		}
		switch {
		case code == codeReady:
			return nil
		case code/100 != 1:
			return &ReplyError{Code: code, Msg: msg}
		}
	}
}

// startTLS does explicit FTPS (RFC 4217 §4): AUTH TLS, then the handshake,
// and returns the control connection over TLS.
func (c *control) startTLS(ctx context.Context, cfg *tls.Config) (*control, error) {
	if err := c.expect(codeAuthOK, "AUTH TLS"); err != nil {
		return nil, fmt.Errorf("AUTH TLS: %w", err)
	}
	if c.br.Buffered() > 0 {
		return nil, errors.New("AUTH TLS: server sent data before the handshake")
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return newControl(tc), nil
}

// login sends USER and PASS (RFC 959 §4.1.1), then TYPE I, and with TLS
// PBSZ 0 and PROT P (RFC 4217 §8-9), so that data connections are
// encrypted too.
func (c *control) login(user, pass string, withTLS bool) error {
	code, msg, err := c.cmd("USER %s", user)
	if err != nil {
		return err
	}
	if code == codeNeedPass {
		if code, msg, err = c.cmd("PASS %s", pass); err != nil {
			return err
		}
	}
	if code != codeLoggedIn && code != codeNoPassword {
		return &ReplyError{Code: code, Msg: msg}
	}
	if err := c.expect(codeCommandOK, "TYPE I"); err != nil {
		return err
	}
	if withTLS {
		if err := c.expect(codeCommandOK, "PBSZ 0"); err != nil {
			return err
		}
		if err := c.expect(codeCommandOK, "PROT P"); err != nil {
			return err
		}
	}
	return nil
}

// passive asks for a passive data port: EPSV (RFC 2428 §3), or PASV when
// the server does not know EPSV. The server's address in a 227 is
// ignored: the data connection goes to the control connection's server
// (RFC 2577 §5, and NATs rewrite that address wrongly).
func (c *control) passive() (int, error) {
	code, msg, err := c.cmd("EPSV")
	if err != nil {
		return 0, err
	}
	if code == codeExtPassive {
		return parseEPSV(msg)
	}
	if code/100 != 5 {
		return 0, &ReplyError{Code: code, Msg: msg}
	}
	if code, msg, err = c.cmd("PASV"); err != nil {
		return 0, err
	}
	if code != codePassive {
		return 0, &ReplyError{Code: code, Msg: msg}
	}
	return parsePASV(msg)
}

// active names the listener's address: PORT for IPv4 (RFC 959 §4.1.2),
// EPRT for IPv6 (RFC 2428 §2).
func (c *control) active(ap netip.AddrPort) error {
	a, p := ap.Addr(), ap.Port()
	if a.Is4() {
		b := a.As4()
		return c.expect(codeCommandOK, "PORT %d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], p>>8, p&0xff)
	}
	return c.expect(codeCommandOK, "EPRT |2|%s|%d|", a.WithZone(""), p)
}

// parseEPSV takes the port from "Entering Extended Passive Mode (|||6446|)".
func parseEPSV(msg string) (int, error) {
	i, j := strings.Index(msg, "("), strings.LastIndex(msg, ")")
	if i < 0 || j < i+5 {
		return 0, fmt.Errorf("EPSV: bad reply %q", msg)
	}
	f := msg[i+1 : j]
	d := f[:1] // the delimiter, usually '|'
	parts := strings.Split(f, d)
	if len(parts) != 5 || parts[1] != "" || parts[2] != "" || parts[4] != "" {
		return 0, fmt.Errorf("EPSV: bad reply %q", msg)
	}
	return parsePort(parts[3], msg)
}

// parsePASV takes the port from "Entering Passive Mode (h1,h2,h3,h4,p1,p2)".
func parsePASV(msg string) (int, error) {
	i := strings.IndexAny(msg, "0123456789")
	if i < 0 {
		return 0, fmt.Errorf("PASV: bad reply %q", msg)
	}
	f := strings.FieldsFunc(msg[i:], func(r rune) bool { return r == ',' || r == ')' || r == ' ' || r == '.' })
	if len(f) < 6 {
		return 0, fmt.Errorf("PASV: bad reply %q", msg)
	}
	var n [2]int
	for k, s := range f[4:6] {
		v, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("PASV: bad reply %q", msg)
		}
		n[k] = int(v)
	}
	if p := n[0]<<8 | n[1]; p > 0 {
		return p, nil
	}
	return 0, fmt.Errorf("PASV: bad reply %q", msg)
}

func parsePort(s, msg string) (int, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("EPSV: bad reply %q", msg)
	}
	return int(p), nil
}
