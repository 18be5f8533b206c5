// Package ftpput is the FTP client of the device manual's chapter 6
// (§6.1.1, "FTP+put <server_ip> <ftp_user> <ftp_pass> <file> {<cr> |
// passive}"), behind `sluice put`: it logs in, stores one file in binary
// mode under its base name, and prints the manual's progress and
// messages.
//
// The client speaks the few commands it needs on a control connection of
// its own (net/textproto): USER, PASS, TYPE I, AUTH TLS, PBSZ, PROT, EPSV,
// PASV, PORT, EPRT, STOR and QUIT. It makes and owns every connection,
// active (PORT/EPRT to a listener of its own) or passive, so that it can
// time each of them out and reset all of them when the context is
// cancelled.
//
// Progress (progress.go) is the manual's percent line, or on a terminal a
// bar from github.com/schollz/progressbar sized to the terminal, with the
// rate and the time left.
package ftpput

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is one put.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// User and Pass are the FTP login.
	User, Pass string
	// File is the local file; it is stored under its base name in the
	// server's current directory.
	File string
	// Passive selects a passive data connection (EPSV, or PASV). The zero
	// value is active mode, as on the device (PORT, or EPRT for IPv6).
	Passive bool
	// Timeout is the connect timeout and the idle timeout on every read
	// and write of the control and data connections; 0 waits forever.
	Timeout time.Duration
	// TLS, if set, makes the put explicit FTPS (RFC 4217): AUTH TLS before
	// the login, PBSZ 0 and PROT P after it, data connections in TLS. Give
	// it a ClientSessionCache: servers such as vsftpd (require_ssl_reuse)
	// want data connections to resume the control connection's session.
	TLS *tls.Config
	// Progress says how progress is shown.
	Progress Progress
}

// Put stores cfg.File on the server and prints progress and the manual's
// messages on stdout: the progress line, then "100% transfer complete",
// or the Kind's message on a line of its own. A failure after the file
// was opened is an *Error; its Kind gives the exit status (ExitCode).
// Cancelling ctx resets the connections and ends the put with Aborted.
func Put(ctx context.Context, cfg Config, stdout io.Writer) error {
	name := filepath.Base(cfg.File)
	for _, s := range []string{cfg.User, cfg.Pass, name} {
		// FTP commands are lines: these would end them early (RFC 959 §4.1).
		if strings.ContainsAny(s, "\r\n\x00") {
			return errors.New("put: USER, PASS and the file name must not contain CR, LF or NUL")
		}
	}
	f, err := os.Open(cfg.File)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	defer f.Close() // read-only: Close reports nothing useful
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("put: %s is not a regular file", cfg.File)
	}

	t := &tracker{ctx: ctx, timeout: cfg.Timeout}
	defer t.close()
	stop := context.AfterFunc(ctx, t.abort)
	defer stop()

	prog := newProgress(stdout, st.Size(), cfg.Progress)
	fail := func(kind Kind, op string, err error) error {
		if ctx.Err() != nil {
			// The errors are then only those of the reset connections.
			kind, err = Aborted, fmt.Errorf("interrupted (%w)", ctx.Err())
		} else if isTimeout(err) {
			kind = Aborted
		}
		prog.fail()
		fmt.Fprintln(stdout, kind.Message())
		return &Error{Kind: kind, Op: op, Err: err}
	}

	s := &session{cfg: &cfg, t: t}
	if err := s.connect(ctx); err != nil {
		return fail(ConnectionError, "connect "+cfg.Addr, err)
	}
	if err := s.c.login(cfg.User, cfg.Pass, cfg.TLS != nil); err != nil {
		kind := LoginError
		if isNetError(err) {
			kind = ConnectionError
		}
		return fail(kind, "login", err)
	}
	if err := s.store(ctx, name, f, prog); err != nil {
		return fail(TransferFailed, "STOR "+name, err)
	}
	prog.done()
	// 226 has come: the file is stored, and a failed QUIT changes nothing.
	_, _, _ = s.c.cmd("QUIT")
	return nil
}

// session is one put's control connection and the addresses its data
// connections use.
type session struct {
	cfg   *Config
	t     *tracker
	c     *control
	peer  netip.Addr // the server's address: passive dials it, active accepts only it
	local netip.Addr // ours on the control connection: active listens there
}

// connect dials, reads the greeting and, with TLS, upgrades the control
// connection.
func (s *session) connect(ctx context.Context) error {
	nc, err := s.t.dial(s.cfg.Addr)
	if err != nil {
		return err
	}
	remote, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return err
	}
	local, err := netip.ParseAddrPort(nc.LocalAddr().String())
	if err != nil {
		return err
	}
	s.peer, s.local = remote.Addr().Unmap(), local.Addr().Unmap()
	s.c = newControl(nc)
	if err := s.c.greeting(); err != nil {
		return err
	}
	if s.cfg.TLS != nil {
		if s.c, err = s.c.startTLS(ctx, s.cfg.TLS); err != nil {
			return err
		}
	}
	return nil
}

// store sends STOR name with f on a new data connection and waits for
// the server's verdict on the control connection.
func (s *session) store(ctx context.Context, name string, f io.Reader, prog progress) error {
	var dc *idleConn
	var ln *net.TCPListener
	if s.cfg.Passive {
		port, err := s.c.passive()
		if err != nil {
			return err
		}
		if dc, err = s.t.dial(netip.AddrPortFrom(s.peer, uint16(port)).String()); err != nil {
			return err
		}
		defer dc.Close() // after a failure; a success has closed it already
	} else {
		var err error
		if ln, err = s.t.listen(s.local); err != nil {
			return err
		}
		defer ln.Close()
		if err := s.c.active(netip.AddrPortFrom(s.local, uint16(ln.Addr().(*net.TCPAddr).Port))); err != nil {
			return err
		}
	}
	code, msg, err := s.c.cmd("STOR %s", name)
	if err != nil {
		return err
	}
	if code/100 != 1 { // 125 or 150: the transfer starts (RFC 959 §5.4)
		return &ReplyError{Code: code, Msg: msg}
	}
	if ln != nil {
		if dc, err = s.acceptActive(ln); err != nil {
			return err
		}
		defer dc.Close()
	}
	var data net.Conn = dc
	if s.cfg.TLS != nil {
		// The client is the TLS client on data connections too, active or
		// passive (RFC 4217 §7).
		tc := &tlsData{Conn: tls.Client(dc, s.cfg.TLS), raw: dc}
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		data = tc
	}
	if err := s.send(ctx, data, f, prog); err != nil {
		if isTimeout(err) || ctx.Err() != nil {
			return err
		}
		// The server may have said why it cut the connection.
		_ = data.Close()
		if code, msg, rerr := s.c.reply(); rerr == nil && code/100 != 2 {
			return &ReplyError{Code: code, Msg: msg}
		}
		return err
	}
	// A clean close is the end of the file (RFC 959 §3.4, stream mode).
	if err := data.Close(); err != nil {
		return err
	}
	if code, msg, err = s.c.reply(); err != nil {
		return err
	}
	if code != codeClosingData && code != codeFileActOK {
		return &ReplyError{Code: code, Msg: msg}
	}
	return nil
}

// acceptActive waits for the server's connection to the active-mode
// listener. A server that cannot connect says so on the control
// connection after its 150 (sluice and the device answer 425 then), so
// the control connection is watched meanwhile: a reply there ends the
// wait with that reply instead of the timeout.
func (s *session) acceptActive(ln *net.TCPListener) (*idleConn, error) {
	type accepted struct {
		c   *idleConn
		err error
	}
	acc := make(chan accepted, 1)
	go func() {
		c, err := s.t.accept(ln, s.peer)
		acc <- accepted{c, err}
	}()
	watched := s.c.watch()
	select {
	case a := <-acc:
		return a.c, a.err // the watch goes on; reply waits for it
	case <-watched:
	}
	if s.c.peekErr != nil {
		// The control connection's idle deadline or its end: the
		// accept decides, as without the watch.
		a := <-acc
		return a.c, a.err
	}
	ln.Close() // ends the accept
	if a := <-acc; a.c != nil {
		a.c.Close()
	}
	code, msg, err := s.c.reply()
	if err != nil {
		return nil, err
	}
	return nil, &ReplyError{Code: code, Msg: msg}
}

// chunk is the size of one read of the file and one write to the data
// connection; progress moves by at most this much.
const chunk = 256 << 10

// send copies f to the data connection, counting progress. It stops at
// the first chunk after ctx is cancelled, resetting the connections
// first so that the server never takes the cut file for a complete one.
func (s *session) send(ctx context.Context, w io.Writer, f io.Reader, prog progress) error {
	buf := make([]byte, chunk)
	for {
		if err := ctx.Err(); err != nil {
			s.t.abort()
			return err
		}
		n, err := f.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			prog.add(m)
			if werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isTimeout reports a connect timeout or an idle deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// isNetError tells a lost connection from a refusal in a reply.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}
