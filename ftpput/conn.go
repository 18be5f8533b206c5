package ftpput

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// errAborted is what a connection made after the abort gets.
var errAborted = errors.New("aborted")

// tracker makes every connection and listener of one put, so that it can
// reset them all when the put's context is cancelled: abort runs on the
// context's goroutine while the put blocks in a read or write.
//
// The lists are under mu; abort and close may come from any goroutine.
type tracker struct {
	ctx     context.Context
	timeout time.Duration // connect, accept and idle timeout; 0 = none

	mu      sync.Mutex
	conns   []*net.TCPConn
	lns     []*net.TCPListener
	aborted bool
}

// dial connects with the connect timeout and returns the connection with
// the idle timeout.
func (t *tracker) dial(addr string) (*idleConn, error) {
	d := net.Dialer{Timeout: t.timeout}
	c, err := d.DialContext(t.ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("dial %s: not TCP", addr)
	}
	if err := t.track(tc); err != nil {
		return nil, err
	}
	return &idleConn{Conn: tc, tcp: tc, timeout: t.timeout}, nil
}

// listen opens an active-mode data listener on local, the control
// connection's own address: the one the server can reach.
func (t *tracker) listen(local netip.Addr) (*net.TCPListener, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted {
		ln.Close()
		return nil, errAborted
	}
	t.lns = append(t.lns, ln)
	return ln, nil
}

// accept takes the server's active-mode data connection and closes ln
// (one data connection per PORT). Connections from any other address
// than peer, the control connection's server, are closed unread (RFC
// 2577 §3: no data from a third party).
func (t *tracker) accept(ln *net.TCPListener, peer netip.Addr) (*idleConn, error) {
	defer ln.Close()
	if t.timeout > 0 {
		if err := ln.SetDeadline(time.Now().Add(t.timeout)); err != nil {
			return nil, err
		}
	}
	for {
		tc, err := ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(tc.RemoteAddr().String())
		if err != nil || ap.Addr().Unmap() != peer {
			tc.Close()
			continue
		}
		if err := t.track(tc); err != nil {
			return nil, err
		}
		return &idleConn{Conn: tc, tcp: tc, timeout: t.timeout}, nil
	}
}

func (t *tracker) track(c *net.TCPConn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted {
		_ = c.SetLinger(0) // as in abort
		_ = c.Close()
		return errAborted
	}
	t.conns = append(t.conns, c)
	return nil
}

// abort resets every connection (linger 0: RST, not FIN) and closes the
// listeners; blocked reads and writes then fail. A clean close of the
// data connection would tell the server that the file is complete.
func (t *tracker) abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.aborted {
		return
	}
	t.aborted = true
	for _, c := range t.conns {
		// Errors here mean the connection is already gone, which is the goal.
		_ = c.SetLinger(0)
		_ = c.Close()
	}
	for _, ln := range t.lns {
		_ = ln.Close()
	}
}

// close releases whatever is still open when the put returns.
func (t *tracker) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		_ = c.Close() // most are closed already: net.ErrClosed
	}
	for _, ln := range t.lns {
		_ = ln.Close()
	}
	t.conns, t.lns = nil, nil
}

// idleConn puts the idle timeout on every read and write; limit, when
// set, caps the read deadline.
//
// It embeds net.Conn, not *net.TCPConn, so that io.Copy can't take
// TCPConn's ReadFrom or WriteTo around the deadlines.
type idleConn struct {
	net.Conn
	tcp     *net.TCPConn
	timeout time.Duration
	limit   time.Time
}

func (c *idleConn) Read(p []byte) (int, error) {
	if c.timeout > 0 || !c.limit.IsZero() {
		t := c.limit
		if c.timeout > 0 {
			if idle := time.Now().Add(c.timeout); t.IsZero() || idle.Before(t) {
				t = idle
			}
		}
		if err := c.Conn.SetReadDeadline(t); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// tlsDrain bounds the wait for the server's end of a TLS data
// connection.
const tlsDrain = 10 * time.Second

// tlsData is a TLS data connection that ends in order. A TLS 1.3 server
// sends session tickets on the data connection too; closing a socket
// with those unread makes the kernel send RST, and the server then loses
// the file's tail still in its receive buffer (vsftpd answers "426
// Failure reading network stream."). So Close sends close_notify and
// FIN, reads until the server closes, then closes.
type tlsData struct {
	*tls.Conn
	raw *idleConn
}

func (c *tlsData) Close() error {
	if !c.ConnectionState().HandshakeComplete {
		return c.Conn.Close()
	}
	if err := c.Conn.CloseWrite(); err != nil {
		_ = c.Conn.Close()
		return err
	}
	if err := c.raw.tcp.CloseWrite(); err != nil {
		_ = c.Conn.Close()
		return err
	}
	c.raw.limit = time.Now().Add(tlsDrain)
	// What comes back is tickets and close_notify; a read error here is
	// the server's to report, in its reply on the control connection.
	_, _ = io.Copy(io.Discard, c.Conn)
	return c.raw.Close()
}
