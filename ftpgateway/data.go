package ftpgateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// defaultDataTimeout is [limits] data_timeout when a Config's policy
// leaves it zero (policy.Parse fills the same default).
const defaultDataTimeout = time.Minute

// dataTimeout bounds every step of a data connection: the passive accept
// or the active connect, the TLS handshake, and each read or write of the
// transfer (dataConn).
func (s *Server) dataTimeout() time.Duration {
	if d := s.pol().Limits.DataTimeout; d > 0 {
		return d
	}
	return defaultDataTimeout
}

// sendChunk is how much of a file the first sendfile call under one
// write deadline may move: small, so that a slow but live reader renews
// the deadline often, and a stalled one is seen within about
// data_timeout. While chunks move in under a sixteenth of data_timeout,
// each next one doubles, up to maxSendChunk: at the same rate it still
// takes under an eighth of the deadline, so only a reader that slows
// down more than eightfold at once could time out while reading. A chunk
// that takes over a quarter of it halves the next. Large chunks cut the
// sendfile calls and deadline renewals of a fast download by 32 (issue
// 11: about 20 % more throughput on loopback).
const (
	sendChunk    = 128 << 10
	maxSendChunk = 4 << 20
)

// dataState is the session's data-connection setup: an active address
// (PORT/EPRT) or a passive listener (PASV/EPSV), used by the next transfer.
type dataState struct {
	active  *net.TCPAddr
	passive net.Listener
	// ready is the passive connection the client had already made when
	// the transfer command came (125 Data connection already open).
	ready   net.Conn
	epsvAll bool
}

func (d *dataState) close() {
	if d.passive != nil {
		d.passive.Close()
		d.passive = nil
	}
	if d.ready != nil {
		d.ready.Close()
		d.ready = nil
	}
	d.active = nil
}

// takeReady accepts the passive data connection if the client has already
// made it (it waits in the listener's queue: poll says readable, so the
// accept does not block), so that the transfer can answer 125 instead of
// 150 (RFC 959 §4.2). A connection from another address is closed, as in
// acceptData, and the transfer then waits for the client's as usual.
func (c *session) takeReady() bool {
	if c.data.ready != nil {
		return true
	}
	l, ok := c.data.passive.(*net.TCPListener)
	if !ok {
		return false
	}
	rc, err := l.SyscallConn()
	if err != nil {
		return false
	}
	pending := false
	rc.Control(func(fd uintptr) {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		pending = err == nil && n > 0
	})
	if !pending {
		return false
	}
	l.SetDeadline(time.Now().Add(c.srv.dataTimeout())) // a bound: the connection is already queued
	conn, err := l.AcceptTCP()
	l.SetDeadline(time.Time{})
	if err != nil {
		return false
	}
	if ra, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || !ra.IP.Equal(c.peerIP) {
		c.log.Warn("passive data connection from another address closed", "from", conn.RemoteAddr().String())
		conn.SetLinger(0)
		conn.Close()
		return false
	}
	c.data.ready = conn
	return true
}

func (d *dataState) reset() {
	d.close()
	d.epsvAll = false
}

// --- PORT and EPRT (RFC 959, 2428; RFC 2577 §3: no bounce) ---

func (c *session) cmdPORT(arg string) bool {
	if c.data.epsvAll {
		c.send(replyOnlyEPSV)
		return false
	}
	a, err := parsePORT(arg)
	if err != nil {
		c.send(portErrReply(err))
		return false
	}
	if !c.allowedTarget(a) {
		return false
	}
	c.data.close()
	c.data.active = a
	v4 := a.IP.To4()
	c.send(replyPortOK, v4[0], v4[1], v4[2], v4[3], a.Port)
	return false
}

func (c *session) cmdEPRT(arg string) bool {
	if c.data.epsvAll {
		c.send(replyOnlyEPSV)
		return false
	}
	a, err := parseEPRT(arg)
	if err != nil {
		switch {
		case errors.Is(err, errProtocol):
			c.send(replyEprtProto)
		case errors.Is(err, errEPRTDelim):
			var d eprtDelimError
			errors.As(err, &d)
			c.send([...]reply{replyEprtDelim1, replyEprtDelim1, replyEprtDelim2, replyEprtDelim3, replyEprtDelim4}[min(max(int(d), 1), 4)])
		case errors.Is(err, errPort):
			c.send(replyEprtPort)
		case errors.Is(err, errIPDelimiter):
			c.send(replyEprtAddrDelim)
		default:
			c.send(replyEprtAddr)
		}
		return false
	}
	if !c.allowedTarget(a) {
		return false
	}
	c.data.close()
	c.data.active = a
	if v4 := a.IP.To4(); v4 != nil {
		c.send(replyEprtOK4, v4[0], v4[1], v4[2], v4[3])
	} else {
		ip := a.IP.To16()
		c.send(replyEprtOK6, uint16(ip[0])<<8|uint16(ip[1]), uint16(ip[2])<<8|uint16(ip[3]), uint16(ip[4])<<8|uint16(ip[5]),
			uint16(ip[6])<<8|uint16(ip[7]), uint16(ip[8])<<8|uint16(ip[9]), uint16(ip[10])<<8|uint16(ip[11]),
			uint16(ip[12])<<8|uint16(ip[13]), uint16(ip[14])<<8|uint16(ip[15]))
	}
	return false
}

// allowedTarget refuses an active address other than the control peer's,
// or a privileged port: the refusal comes at PORT time, before any
// connection is attempted (RFC 2577 §3, FTP bounce).
func (c *session) allowedTarget(a *net.TCPAddr) bool {
	if c.peerIP == nil || !a.IP.Equal(c.peerIP) {
		c.log.Warn("active data address refused", "target", a.String())
		c.send(replyAddrNotAllowed)
		return false
	}
	if a.Port < 1024 {
		c.log.Warn("active data port refused", "target", a.String())
		c.send(replyNotImplParam)
		return false
	}
	return true
}

func portErrReply(err error) reply {
	switch {
	case errors.Is(err, errIPDelimiter):
		return replyPortAddrDelim
	case errors.Is(err, errPortDelim):
		return replyPortPortDelim
	case errors.Is(err, errPort):
		return replyPortPort
	}
	return replyPortAddr
}

// --- PASV and EPSV (passive; mTCP PASV_BASE/PASV_PORTS, EXT_IPADDR) ---

func (c *session) cmdPASV(string) bool {
	if c.data.epsvAll {
		c.send(replyOnlyEPSV)
		return false
	}
	local, _ := c.raw.LocalAddr().(*net.TCPAddr)
	if local == nil || local.IP.To4() == nil {
		c.send(replyNoPassive) // IPv6 control: EPSV only (RFC 2428)
		return false
	}
	l, err := c.listenPassive(local.IP)
	if err != nil {
		c.log.Warn("passive listen failed", "error", err)
		c.send(replyNoPassive)
		return false
	}
	adv := local.IP
	if ext := c.srv.pol().FTP.PasvAddress; ext != "" && !sameNetwork(c.peerIP, local.IP) {
		adv = net.ParseIP(ext)
	}
	v4, port := adv.To4(), l.Addr().(*net.TCPAddr).Port
	c.send(replyPasvOK, v4[0], v4[1], v4[2], v4[3], port>>8, port&0xff)
	return false
}

func (c *session) cmdEPSV(arg string) bool {
	all, proto, err := parseEPSV(arg)
	if err != nil {
		c.send(replyEpsvProto)
		return false
	}
	if all {
		c.data.close()
		c.data.epsvAll = true
		c.send(replyEpsvAll)
		return false
	}
	local, _ := c.raw.LocalAddr().(*net.TCPAddr)
	isV4 := local != nil && local.IP.To4() != nil
	if local == nil || proto == 1 && !isV4 || proto == 2 && isV4 {
		c.send(replyEpsvProto)
		return false
	}
	l, err := c.listenPassive(local.IP)
	if err != nil {
		c.log.Warn("passive listen failed", "error", err)
		c.send(replyNoExtPassive)
		return false
	}
	c.send(replyEpsvOK, l.Addr().(*net.TCPAddr).Port)
	return false
}

// listenPassive opens the passive listener on a random port of the
// configured range (or any port).
func (c *session) listenPassive(ip net.IP) (net.Listener, error) {
	c.data.close()
	f := c.srv.pol().FTP
	// KeepAlive -1: no TCP keepalive on the accepted data connection
	// unless SITE KEEPALIVE is ON (dataOptions); Go's default would turn
	// it on with three setsockopt calls per transfer.
	lc := net.ListenConfig{KeepAlive: -1}
	// Plain TCP: Go (1.24+) makes every listener MPTCP by default, which
	// on Linux creates an MPTCP socket and its TCP subflow for each
	// passive transfer (issue 11: about a fifth of a small file's CPU).
	lc.SetMultipathTCP(false)
	if f.PasvMin == 0 {
		l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(ip.String(), "0"))
		if err == nil {
			c.data.passive = l
		}
		return l, err
	}
	n := f.PasvMax - f.PasvMin + 1
	start := rand.IntN(n)
	var err error
	for i := range min(n, 64) {
		port := f.PasvMin + (start+i*7919)%n // a random walk over the range
		var l net.Listener
		l, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		if err == nil {
			c.data.passive = l
			return l, nil
		}
	}
	return nil, err
}

// sameNetwork reports whether the client is on the server's own network,
// where the advertised external address (NAT) must not be used.
func sameNetwork(peer, local net.IP) bool {
	if peer == nil {
		return true
	}
	if peer.IsLoopback() || peer.IsPrivate() || peer.IsLinkLocalUnicast() {
		return true
	}
	return peer.Equal(local)
}

// openData establishes the data connection for a transfer: accept on the
// passive listener (only from the control peer; others are closed without
// data, RFC 2577 §4 passive hijack) or connect to the active address from
// the configured data port. PROT P wraps it in TLS.
func (c *session) openData(ctx context.Context) (net.Conn, error) {
	var conn net.Conn
	var err error
	switch {
	case c.data.passive != nil:
		conn, err = c.acceptData(ctx)
	case c.data.active != nil:
		conn, err = c.dialData(ctx)
	default:
		return nil, errors.New("no data connection set up")
	}
	if err != nil {
		return nil, err
	}
	c.dataOptions(conn)
	if c.protP {
		// A peer that connects and never finishes the handshake is
		// dropped after data_timeout, like one that never connects.
		tc := tls.Server(conn, c.srv.dataTLS)
		tc.SetDeadline(time.Now().Add(c.srv.dataTimeout()))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake of the data connection: %w", err)
		}
		tc.SetDeadline(time.Time{})
		return tc, nil
	}
	return conn, nil
}

func (c *session) acceptData(ctx context.Context) (net.Conn, error) {
	if conn := c.data.ready; conn != nil {
		c.data.ready = nil
		c.data.close() // one connection per PASV
		return conn, nil
	}
	l := c.data.passive.(*net.TCPListener)
	defer c.data.close()                            // one connection per PASV
	deadline := time.Now().Add(c.srv.dataTimeout()) // connections from other addresses do not extend it
	stop := context.AfterFunc(ctx, func() { l.SetDeadline(time.Now()) })
	defer stop()
	for {
		l.SetDeadline(deadline)
		conn, err := l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if ra, ok := conn.RemoteAddr().(*net.TCPAddr); ok && ra.IP.Equal(c.peerIP) {
			return conn, nil
		}
		c.log.Warn("passive data connection from another address closed", "from", conn.RemoteAddr().String())
		conn.SetLinger(0)
		conn.Close()
	}
}

func (c *session) dialData(ctx context.Context) (net.Conn, error) {
	target := c.data.active
	c.data.active = nil
	local, _ := c.raw.LocalAddr().(*net.TCPAddr)
	port := c.srv.pol().FTP.DataPort
	if port == 0 && local != nil {
		port = local.Port - 1
	}
	if port > 0 && local != nil {
		d := net.Dialer{Timeout: c.srv.dataTimeout(), KeepAlive: -1, LocalAddr: &net.TCPAddr{IP: local.IP, Port: port},
			Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				})
				return serr
			}}
		conn, err := d.DialContext(ctx, "tcp", target.String())
		if err == nil {
			return conn, nil
		}
		// The data port is taken (another transfer to the same client):
		// fall back to any port rather than fail the transfer.
		c.log.Debug("dial from the data port failed; using any port", "port", port, "error", err)
	}
	d := net.Dialer{Timeout: c.srv.dataTimeout(), KeepAlive: -1} // as listenPassive
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local.IP}
	}
	return d.DialContext(ctx, "tcp", target.String())
}

// dataOptions applies KEEPALIVE, MSS, RX-BUFF and TX-BUFF (manual chapter
// 2) to a data connection.
func (c *session) dataOptions(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	f := c.srv.pol().FTP
	if c.keepOn {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(30 * time.Second)
	}
	if f.RxBuff > 0 {
		tc.SetReadBuffer(f.RxBuff)
	}
	if f.TxBuff > 0 {
		tc.SetWriteBuffer(f.TxBuff)
	}
	if f.MSS > 0 {
		if rc, err := tc.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, f.MSS) })
		}
	}
}

// dataConn is an open data connection under per-chunk deadlines: every
// Read (an upload) and every Write (a download or a listing) gets a fresh
// deadline of data_timeout, so a transfer may last any time while bytes
// move, but a peer that stops sending or stops reading is disconnected.
// It remembers a timeout for the transfer's log and audit, and closes a
// timed-out connection abortively.
type dataConn struct {
	net.Conn               // the data connection: TCP, or TLS over it
	timeout  time.Duration // data_timeout
	timedOut atomic.Bool
}

func newDataConn(conn net.Conn, timeout time.Duration) *dataConn {
	return &dataConn{Conn: conn, timeout: timeout}
}

func (c *dataConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Read(p)
	c.note(err)
	return n, err
}

func (c *dataConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Write(p)
	c.note(err)
	return n, err
}

// ReadFrom keeps sendfile for a file (an *io.LimitedReader of an
// *os.File, as countingWriter passes it) on a plain TCP connection,
// in sendChunk pieces, each under its own write deadline. Anything else
// goes through Write.
func (c *dataConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	lr, isLimited := r.(*io.LimitedReader)
	if isLimited {
		_, isLimited = lr.R.(*os.File)
	}
	if !ok || !isLimited {
		return io.Copy(writerOnly{c}, r)
	}
	var total int64
	size := int64(sendChunk)
	for lr.N > 0 {
		start := time.Now()
		c.Conn.SetWriteDeadline(start.Add(c.timeout))
		chunk := &io.LimitedReader{R: lr.R, N: min(lr.N, size)}
		n, err := rf.ReadFrom(chunk)
		lr.N -= n
		total += n
		c.note(err)
		if err != nil || n == 0 {
			return total, err
		}
		size = nextSendChunk(size, time.Since(start), c.timeout)
	}
	return total, nil
}

// nextSendChunk is the size of the next sendfile chunk after one of size
// took took, under deadlines of timeout (sendChunk).
func nextSendChunk(size int64, took, timeout time.Duration) int64 {
	switch {
	case took < timeout/16:
		return min(size*2, maxSendChunk)
	case took > timeout/4:
		return max(size/2, sendChunk)
	}
	return size
}

// writerOnly hides ReadFrom, so io.Copy uses Write.
type writerOnly struct{ io.Writer }

func (c *dataConn) note(err error) {
	if err != nil && isTimeout(err) {
		c.timedOut.Store(true)
	}
}

// Close closes the connection. After a timeout it resets the TCP
// connection at once: a TLS close_notify would wait for a peer that does
// not read, and the unsent bytes would keep kernel memory for a peer that
// has gone.
func (c *dataConn) Close() error {
	if !c.timedOut.Load() {
		return c.Conn.Close()
	}
	raw := c.Conn
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	return raw.Close()
}

// isTimeout reports whether err is a deadline's, also through TLS.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
