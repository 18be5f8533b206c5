package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/jlaffaye/ftp"
	"github.com/sluice/sluice/hostkeys"
	"golang.org/x/term"
)

const putUsage = `usage: sluice put SERVER[:PORT] USER PASS FILE [passive] [--timeout D] [--tls [--cacert PEM | --insecure]]
  SERVER is a host name, an IPv4 address or an IPv6 address ([v6]:PORT with a port);
  PASS "-" reads the password from the first line of standard input;
  without "passive" the transfer uses active mode (PORT/EPRT); see docs/put.md`

// putKind classifies a failed put: it selects the message printed on
// stdout and the exit status (putExitCode).
type putKind int

const (
	putTransferFailed  putKind = iota + 1 // exit 1
	putConnectionError                    // exit 3
	putLoginError                         // exit 4
	putAborted                            // exit 5
)

// putMsgComplete follows "100%" (manual §6.1.1).
const putMsgComplete = "transfer complete"

// info returns the manual's message (§6.1.1) and the exit status.
// "Transfer error" is sluice's own: the manual lists no message for a
// server that refuses the file after a good login.
func (k putKind) info() (string, int) {
	switch k {
	case putConnectionError:
		return "Connection error", 3
	case putLoginError:
		return "Login error", 4
	case putAborted:
		return "Operation aborted or timeout expired", 5
	}
	return "Transfer error", 1
}

// putError is a failed put. Its kind chose the line already printed on
// standard output; Error gives the details for standard error.
type putError struct {
	kind putKind
	op   string // "connect HOST:PORT", "login", "STOR NAME"
	err  error
}

// Error strips control characters: the text may come from the server, and
// goes to a terminal.
func (e *putError) Error() string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, strings.ReplaceAll("put: "+e.op+": "+e.err.Error(), "\n", "; "))
}

func (e *putError) Unwrap() error { return e.err }

// putExitCode maps putCmd's error to the exit status documented on putCmd
// and in docs/put.md: 0 done, 1 transfer failed (or FILE unreadable), 2 bad
// command line, 3 connection error, 4 login error, 5 aborted or timed out.
func putExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var pe *putError
	if errors.As(err, &pe) {
		_, code := pe.kind.info()
		return code
	}
	return 1
}

// putCmd runs "sluice put", the FTP client of the manual's chapter 6
// (§6.1.1, "FTP+put <server_ip> <ftp_user> <ftp_pass> <file> {<cr> | passive}"):
//
//	sluice put SERVER[:PORT] USER PASS FILE [passive] [--timeout D] [--tls [--cacert PEM | --insecure]]
//
// It logs in, switches to binary (TYPE I) and STOREs FILE under its base
// name in the server's current directory (on a device: its default file
// system, or the staging buffer in secure mode). The port defaults to 21.
// Without "passive" the data connection is active (PORT, or EPRT for IPv6).
// With --tls the server's certificate must be valid for SERVER (its name
// or address) and chain to the system roots, or with --cacert to one of
// the certificates in that PEM file, on the control and data connections.
//
// Progress goes to stdout: a bar redrawn in place on a terminal, otherwise
// the manual's "2%, 9%, ..., 100% transfer complete" line. A failure ends
// the line and prints the manual's message on a line of its own; the
// details come back as the error for main to print on stderr.
//
// Exit status (putExitCode):
//
//	0  "100% transfer complete"
//	1  "Transfer error" (the server refused or failed the STOR, the data
//	   connection failed), or FILE could not be read (no message)
//	2  bad command line, or a --cacert file without a readable
//	   certificate (no message, nothing sent)
//	3  "Connection error": name lookup, TCP connect (refused, unreachable),
//	   no 220 greeting, AUTH TLS or the TLS handshake failed, or the
//	   connection dropped before login finished
//	4  "Login error": the server refused USER/PASS or the login sequence
//	   (TYPE I, and PBSZ/PROT with --tls)
//	5  "Operation aborted or timeout expired": ctx cancelled (Ctrl-C), or
//	   --timeout passed while connecting or with the connection idle
func putCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "connect and idle timeout; 0 waits forever")
	useTLS := fs.Bool("tls", false, "explicit FTPS: AUTH TLS, then PBSZ 0 and PROT P")
	insecure := fs.Bool("insecure", false, "with --tls: do not verify the server's certificate")
	caFile := fs.String("cacert", "", "with --tls: trust only the PEM certificate(s) in this file")
	every := fs.Duration("progress-every", 0, "least time between progress updates (default 1s, 100ms on a terminal)")
	pos, err := parse(fs, args)
	var ue usageError
	if errors.As(err, &ue) && errors.Is(ue.error, flag.ErrHelp) || err == nil && len(pos) == 1 && pos[0] == "help" {
		fmt.Fprintln(stdout, putUsage)
		return nil
	}
	if err != nil {
		return usageError{fmt.Errorf("put: %v\n%s", err, putUsage)}
	}
	if len(pos) < 4 || len(pos) > 5 || len(pos) == 5 && !strings.EqualFold(pos[4], "passive") {
		return usageError{errors.New(putUsage)}
	}
	host, port, err := splitPutServer(pos[0])
	if err != nil {
		return usageError{fmt.Errorf("put: %w", err)}
	}
	if *timeout < 0 {
		return usageError{errors.New("put: --timeout must not be negative")}
	}
	if *every < 0 {
		return usageError{errors.New("put: --progress-every must not be negative")}
	}
	if (*insecure || *caFile != "") && !*useTLS {
		return usageError{errors.New("put: --insecure and --cacert need --tls")}
	} else if *insecure && *caFile != "" {
		return usageError{errors.New("put: --insecure and --cacert exclude each other")}
	}
	user, pass := pos[1], pos[2]
	if pass == "-" {
		if pass, err = readPutPassword(stdin); err != nil {
			return err
		}
	}
	// FTP commands are lines: these would end them early (RFC 959 §4.1).
	for _, s := range []string{user, pass, filepath.Base(pos[3])} {
		if strings.ContainsAny(s, "\r\n\x00") {
			return usageError{errors.New("put: USER, PASS and the file name must not contain CR, LF or NUL")}
		}
	}
	cfg := putConfig{
		addr:    net.JoinHostPort(host, strconv.Itoa(port)),
		user:    user,
		pass:    pass,
		file:    pos[3],
		passive: len(pos) == 5,
		timeout: *timeout,
		tty:     isTerminal(stdout),
		every:   time.Second,
	}
	if cfg.tty {
		cfg.every = 100 * time.Millisecond
	}
	if *every > 0 {
		cfg.every = *every
	}
	if *useTLS {
		var roots *x509.CertPool // nil: the system's
		if *caFile != "" {
			if roots, err = hostkeys.CertPool(*caFile); err != nil {
				return usageError{fmt.Errorf("put: --cacert: %w", err)}
			}
		}
		name, _, _ := strings.Cut(host, "%") // an IPv6 zone is no part of a certificate
		cfg.tls = &tls.Config{
			RootCAs:            roots,
			ServerName:         name,
			InsecureSkipVerify: *insecure, // opt-in, for self-signed device certificates
			MinVersion:         tls.VersionTLS12,
			// Data connections resume the control connection's session:
			// vsftpd's require_ssl_reuse and others insist on it.
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
		if *insecure {
			fmt.Fprintln(stderr, "sluice: warning: --insecure: the server's certificate is not verified")
		}
	}
	return runPut(ctx, cfg, stdout)
}

// readPutPassword reads PASS "-" from the first line of r.
func readPutPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", usageError{errors.New("put: PASS \"-\": no standard input")}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", usageError{fmt.Errorf("put: PASS \"-\": read standard input: %w", err)}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// splitPutServer splits the SERVER argument: "host", "host:port", "[v6]",
// "[v6]:port", or a bare IPv6 address (the manual's <server_ip>). The
// port defaults to 21 (RFC 959 §3.2).
func splitPutServer(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	switch {
	case err == nil && ps == "":
		return "", 0, fmt.Errorf("server %q: empty port", s)
	case err != nil && len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
		host, ps = s[1:len(s)-1], "21"
	case err != nil:
		host, ps = s, "21" // no port, or a bare IPv6 address
	}
	if strings.Contains(host, ":") && !validPutIPv6(host) || !strings.Contains(host, ":") && !validPutHost(host) {
		return "", 0, fmt.Errorf("server %q: not a host name or address (write [v6]:port for an IPv6 address with a port)", s)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("server %q: port must be 1-65535", s)
	}
	return host, int(port), nil
}

// validPutHost accepts host names and IPv4 addresses (RFC 1123 §2.1
// letters, digits, '-' and '.'; '_' too, as resolvers allow it).
func validPutHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// validPutIPv6 accepts an IPv6 address with an optional zone made of
// host name characters (an interface name or index).
func validPutIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return false
	}
	return a.Zone() == "" || validPutHost(a.Zone())
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// putConfig is one put, with the command line checked.
type putConfig struct {
	addr       string // host:port to dial
	user, pass string
	file       string
	passive    bool
	timeout    time.Duration // connect and idle timeout; 0 = none
	tls        *tls.Config   // nil: plain FTP
	tty        bool          // draw a bar instead of the manual's lines
	every      time.Duration // least time between progress updates
}

// runPut does the transfer and prints progress and the manual's messages
// on stdout.
func runPut(ctx context.Context, cfg putConfig, stdout io.Writer) error {
	f, err := os.Open(cfg.file)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	defer f.Close() // read-only: Close reports nothing useful
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("put: %s is not a regular file", cfg.file)
	}
	name := filepath.Base(cfg.file)

	d := &putDialer{ctx: ctx, cfg: &cfg}
	defer d.close()
	stop := context.AfterFunc(ctx, d.abort)
	defer stop()

	prog := newPutProgress(stdout, st.Size(), cfg.tty, cfg.every)
	fail := func(kind putKind, op string, err error) error {
		if ctx.Err() != nil {
			// The library's errors are then only the reset connections.
			kind, err = putAborted, fmt.Errorf("interrupted (%w)", ctx.Err())
		} else if isPutTimeout(err) {
			kind = putAborted
		}
		prog.fail()
		msg, _ := kind.info()
		fmt.Fprintln(stdout, msg)
		return &putError{kind: kind, op: op, err: err}
	}

	opts := []ftp.DialOption{
		ftp.DialWithDialFunc(d.dial),
		// Active mode rewrites PASV (see putActiveConn); keep the library
		// off EPSV so that PASV is what it asks for.
		ftp.DialWithDisabledEPSV(!cfg.passive),
	}
	if cfg.tls != nil {
		// The dial function hands over connections already in TLS (AUTH
		// TLS is done in putDialer.startTLS): the library documents that
		// DialWithTLS with DialWithDialFunc trusts them as TLS, and sends
		// PBSZ 0 and PROT P after login (RFC 4217 §8-9).
		opts = append(opts, ftp.DialWithTLS(cfg.tls))
	}
	c, err := ftp.Dial(cfg.addr, opts...)
	if err != nil {
		return fail(putConnectionError, "connect "+cfg.addr, err)
	}
	if err := c.Login(cfg.user, cfg.pass); err != nil {
		kind := putLoginError
		if isPutNetError(err) {
			kind = putConnectionError
		}
		return fail(kind, "login", err)
	}
	r := &putReader{ctx: ctx, f: f, prog: prog, abort: d.abort}
	if err := c.Stor(name, r); err != nil {
		return fail(putTransferFailed, "STOR "+name, err)
	}
	prog.done()
	// 226 has come: the file is stored, and a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// isPutTimeout reports a connect timeout or an idle deadline.
func isPutTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// isPutNetError tells a lost connection from a refusal in a reply.
func isPutNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}

// putReader feeds the file to the data connection, counting progress. It
// stops at the first chunk after ctx is cancelled, resetting the
// connections first so that the server never takes the cut file for a
// complete one (a clean close of the data connection ends a STOR).
type putReader struct {
	ctx   context.Context
	f     *os.File
	prog  *putProgress
	abort func()
}

func (r *putReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		r.abort()
		return 0, err
	}
	n, err := r.f.Read(p)
	r.prog.add(n)
	return n, err
}

// WriteTo lets io.Copy in the library send large chunks.
func (r *putReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		if err := r.ctx.Err(); err != nil {
			r.abort()
			return total, err
		}
		n, err := r.f.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			r.prog.add(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// putDialer makes every connection of one put, so that it can time them
// out and reset them all when ctx is cancelled: the library has no
// context after Dial. jlaffaye/ftp calls dial first for the control
// connection, then once per data connection.
//
// Only the command goroutine calls dial; abort comes from another one, so
// the connection list is under mu.
type putDialer struct {
	ctx     context.Context
	cfg     *putConfig
	control net.Conn         // set by the first dial
	peer    netip.Addr       // the control connection's server address
	pending *net.TCPListener // active mode: the listener named in the last PORT

	mu      sync.Mutex
	conns   []*net.TCPConn
	lns     []*net.TCPListener
	aborted bool
}

var errPutAborted = errors.New("aborted")

func (d *putDialer) dial(network, addr string) (net.Conn, error) {
	if d.control == nil {
		return d.dialControl(network, addr)
	}
	if !d.cfg.passive {
		if d.pending == nil {
			return nil, errors.New("active mode: data connection without PORT")
		}
		ln := d.pending
		d.pending = nil
		return &putAcceptConn{d: d, ln: ln}, nil
	}
	c, err := d.dialTCP(network, addr)
	if err != nil {
		return nil, err
	}
	return d.wrapData(c), nil
}

func (d *putDialer) dialControl(network, addr string) (net.Conn, error) {
	raw, err := d.dialTCP(network, addr)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(raw.RemoteAddr().String())
	if err != nil {
		return nil, err
	}
	d.peer = ap.Addr().Unmap()
	var c net.Conn = raw
	if d.cfg.tls != nil {
		if c, err = d.startTLS(c); err != nil {
			return nil, err
		}
	}
	if !d.cfg.passive {
		c = newPutActiveConn(c, d)
	}
	d.control = c
	return c, nil
}

// dialTCP dials with the connect timeout and returns the connection with
// the idle timeout.
func (d *putDialer) dialTCP(network, addr string) (*putIdleConn, error) {
	nd := net.Dialer{Timeout: d.cfg.timeout}
	c, err := nd.DialContext(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("dial %s: not TCP", addr)
	}
	if err := d.track(tc); err != nil {
		return nil, err
	}
	return &putIdleConn{Conn: tc, tcp: tc, timeout: d.cfg.timeout}, nil
}

func (d *putDialer) wrapData(c *putIdleConn) net.Conn {
	if d.cfg.tls != nil {
		// The client is the TLS client on data connections too, active
		// or passive (RFC 4217 §7). The handshake waits for the first
		// Write, or for the library's Handshake call on an empty file.
		return &putTLSData{Conn: tls.Client(c, d.cfg.tls), raw: c}
	}
	return c
}

// startTLS does explicit FTPS on the control connection (RFC 4217 §4):
// read the 220 greeting, AUTH TLS, then the handshake, here and not in
// the library, so that certificate failures are connection errors and
// active mode can read the plain text above TLS. The library then reads
// a stand-in greeting.
func (d *putDialer) startTLS(c net.Conn) (net.Conn, error) {
	br := bufio.NewReader(c)
	tr := textproto.NewReader(br)
	if _, _, err := tr.ReadResponse(ftp.StatusReady); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "AUTH TLS\r\n"); err != nil {
		return nil, err
	}
	if _, _, err := tr.ReadResponse(ftp.StatusAuthOK); err != nil {
		return nil, fmt.Errorf("AUTH TLS: %w", err)
	}
	if br.Buffered() > 0 {
		return nil, errors.New("AUTH TLS: server sent data before the handshake")
	}
	tc := tls.Client(c, d.cfg.tls)
	if err := tc.HandshakeContext(d.ctx); err != nil {
		return nil, err
	}
	return &putGreetingConn{Conn: tc, greeting: []byte("220 Ready (TLS)\r\n")}, nil
}

// listen opens the active-mode data listener on the control connection's
// local address.
func (d *putDialer) listen(local netip.Addr) (*net.TCPListener, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		ln.Close()
		return nil, errPutAborted
	}
	d.lns = append(d.lns, ln)
	return ln, nil
}

// accept takes the server's active-mode data connection. Connections from
// any other address than the control connection's server are closed
// unread (RFC 2577 §3: no data from a third party).
func (d *putDialer) accept(ln *net.TCPListener) (net.Conn, error) {
	defer ln.Close() // one data connection per PORT
	if d.cfg.timeout > 0 {
		if err := ln.SetDeadline(time.Now().Add(d.cfg.timeout)); err != nil {
			return nil, err
		}
	}
	for {
		tc, err := ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(tc.RemoteAddr().String())
		if err != nil || ap.Addr().Unmap() != d.peer {
			tc.Close()
			continue
		}
		if err := d.track(tc); err != nil {
			return nil, err
		}
		return d.wrapData(&putIdleConn{Conn: tc, tcp: tc, timeout: d.cfg.timeout}), nil
	}
}

func (d *putDialer) track(c *net.TCPConn) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		_ = c.SetLinger(0) // as in abort
		_ = c.Close()
		return errPutAborted
	}
	d.conns = append(d.conns, c)
	return nil
}

// abort resets every connection (linger 0: RST, not FIN) and closes the
// listeners. The library's blocked reads and writes then fail.
func (d *putDialer) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		return
	}
	d.aborted = true
	for _, c := range d.conns {
		// Errors here mean the connection is already gone, which is the goal.
		_ = c.SetLinger(0)
		_ = c.Close()
	}
	for _, ln := range d.lns {
		_ = ln.Close()
	}
}

// close releases whatever the library left open after a failure.
func (d *putDialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close() // most are closed already: net.ErrClosed
	}
	for _, ln := range d.lns {
		_ = ln.Close()
	}
	d.conns, d.lns = nil, nil
}

// putIdleConn puts the idle timeout on every read and write; limit, when
// set, caps the read deadline.
//
// It embeds net.Conn, not *net.TCPConn, so that io.Copy can't take
// TCPConn's ReadFrom or WriteTo around the deadlines.
type putIdleConn struct {
	net.Conn
	tcp     *net.TCPConn
	timeout time.Duration
	limit   time.Time
}

func (c *putIdleConn) Read(p []byte) (int, error) {
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

func (c *putIdleConn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// putTLSDrain bounds the wait for the server's end of a TLS data
// connection.
const putTLSDrain = 10 * time.Second

// putTLSData is a TLS data connection that ends in order. A TLS 1.3 server
// sends session tickets on the data connection too; closing a socket
// with those unread makes the kernel send RST, and the server then loses
// the file's tail still in its receive buffer (vsftpd answers "426 Failure
// reading network stream."). So Close sends close_notify and FIN, reads
// until the server closes, then closes.
type putTLSData struct {
	*tls.Conn
	raw *putIdleConn
}

func (c *putTLSData) Close() error {
	if !c.ConnectionState().HandshakeComplete {
		return c.Conn.Close() // nothing sent: STOR refused, or aborted
	}
	if err := c.Conn.CloseWrite(); err != nil {
		_ = c.Conn.Close()
		return err
	}
	if err := c.raw.tcp.CloseWrite(); err != nil {
		_ = c.Conn.Close()
		return err
	}
	c.raw.limit = time.Now().Add(putTLSDrain)
	// What comes back is tickets and close_notify; a read error here is
	// the server's to report, in its reply on the control connection.
	_, _ = io.Copy(io.Discard, c.Conn)
	return c.raw.Close()
}

// putGreetingConn replays a greeting before the connection's own data.
type putGreetingConn struct {
	net.Conn
	greeting []byte
}

func (c *putGreetingConn) Read(p []byte) (int, error) {
	if len(c.greeting) > 0 {
		n := copy(p, c.greeting)
		c.greeting = c.greeting[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// putActiveConn gives jlaffaye/ftp active mode, which it lacks (v0.2.4
// only sends EPSV and PASV). It sits on the control connection, above
// TLS, and turns each PASV the library sends into PORT (EPRT for IPv6,
// RFC 2428 §2) naming a new listener; on 200 it answers the library with
// a 227 whose port the library then "dials", getting the listener's
// accepted connection (putDialer.dial). The 227's address is ignored by
// the library (it uses the control connection's). A refused PORT is given
// to the library as the server's reply.
type putActiveConn struct {
	net.Conn
	d     *putDialer
	br    *bufio.Reader
	line  []byte // a command from the library not yet ended by CRLF
	reply []byte // a made-up reply the library has not read yet
}

func newPutActiveConn(c net.Conn, d *putDialer) *putActiveConn {
	return &putActiveConn{Conn: c, d: d, br: bufio.NewReader(c)}
}

func (a *putActiveConn) Read(p []byte) (int, error) {
	if len(a.reply) > 0 {
		n := copy(p, a.reply)
		a.reply = a.reply[n:]
		return n, nil
	}
	return a.br.Read(p)
}

func (a *putActiveConn) Write(p []byte) (int, error) {
	a.line = append(a.line, p...)
	for {
		i := bytes.Index(a.line, []byte("\r\n"))
		if i < 0 {
			return len(p), nil
		}
		if strings.EqualFold(string(bytes.TrimSpace(a.line[:i])), "PASV") {
			reply, err := a.port()
			if err != nil {
				return 0, err
			}
			a.reply = append(a.reply, reply...)
		} else if _, err := a.Conn.Write(a.line[:i+2]); err != nil {
			return 0, err
		}
		a.line = append(a.line[:0], a.line[i+2:]...)
	}
}

// port sends PORT or EPRT for a new listener and returns the reply for
// the library.
func (a *putActiveConn) port() ([]byte, error) {
	ap, err := netip.ParseAddrPort(a.Conn.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	local := ap.Addr().Unmap()
	ln, err := a.d.listen(local)
	if err != nil {
		return nil, err
	}
	p := ln.Addr().(*net.TCPAddr).Port
	var cmd string
	if local.Is4() {
		b := local.As4()
		cmd = fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d\r\n", b[0], b[1], b[2], b[3], p>>8, p&0xff)
	} else {
		cmd = fmt.Sprintf("EPRT |2|%s|%d|\r\n", local.WithZone(""), p)
	}
	if _, err := io.WriteString(a.Conn, cmd); err != nil {
		ln.Close()
		return nil, err
	}
	code, msg, err := textproto.NewReader(a.br).ReadResponse(ftp.StatusCommandOK)
	var te *textproto.Error
	if errors.As(err, &te) {
		ln.Close()
		return fmt.Appendf(nil, "%03d %s\r\n", code, strings.ReplaceAll(msg, "\n", " ")), nil
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	a.d.pending = ln
	return fmt.Appendf(nil, "227 Entering Passive Mode (0,0,0,0,%d,%d)\r\n", p>>8, p&0xff), nil
}

// putAcceptConn is the active-mode data connection as the library sees
// it: the server connects only after STOR, which the library sends after
// "dialing", so the accept waits for the first use.
type putAcceptConn struct {
	d    *putDialer
	ln   *net.TCPListener
	conn net.Conn
	err  error
}

func (a *putAcceptConn) get() (net.Conn, error) {
	if a.conn == nil && a.err == nil {
		a.conn, a.err = a.d.accept(a.ln)
	}
	return a.conn, a.err
}

func (a *putAcceptConn) Read(p []byte) (int, error) {
	c, err := a.get()
	if err != nil {
		return 0, err
	}
	return c.Read(p)
}

func (a *putAcceptConn) Write(p []byte) (int, error) {
	c, err := a.get()
	if err != nil {
		return 0, err
	}
	return c.Write(p)
}

// Handshake is what the library calls for an empty file, where nothing is
// written: accept (and do the TLS handshake) so the server's connection
// ends cleanly.
func (a *putAcceptConn) Handshake() error {
	c, err := a.get()
	if err != nil {
		return err
	}
	if h, ok := c.(interface{ Handshake() error }); ok {
		return h.Handshake()
	}
	return nil
}

func (a *putAcceptConn) Close() error {
	if a.conn != nil {
		return a.conn.Close()
	}
	return a.ln.Close()
}

func (a *putAcceptConn) LocalAddr() net.Addr {
	if a.conn != nil {
		return a.conn.LocalAddr()
	}
	return a.ln.Addr()
}

func (a *putAcceptConn) RemoteAddr() net.Addr {
	if a.conn != nil {
		return a.conn.RemoteAddr()
	}
	return a.ln.Addr()
}

func (a *putAcceptConn) SetDeadline(t time.Time) error {
	if a.conn != nil {
		return a.conn.SetDeadline(t)
	}
	return a.ln.SetDeadline(t)
}

func (a *putAcceptConn) SetReadDeadline(t time.Time) error {
	if a.conn != nil {
		return a.conn.SetReadDeadline(t)
	}
	return nil
}

func (a *putAcceptConn) SetWriteDeadline(t time.Time) error {
	if a.conn != nil {
		return a.conn.SetWriteDeadline(t)
	}
	return nil
}

// putProgress prints the percentage of the file's bytes sent: on a
// terminal a bar redrawn in place, otherwise the manual's line
// "2%, 9%, 15%, ..., 100% transfer complete" (§6.1.1), at most one step
// per interval, as the device does. Before the server's 226 it shows at
// most 99%: "100%" means stored.
//
// Write errors on stdout are ignored: progress is advisory and must not
// stop a transfer.
type putProgress struct {
	w     io.Writer
	size  int64
	sent  int64
	tty   bool
	every time.Duration
	last  time.Time // of the last update, or the start
	shown int       // last percent printed; -1 for none
}

const putBarWidth = 30

func newPutProgress(w io.Writer, size int64, tty bool, every time.Duration) *putProgress {
	return &putProgress{w: w, size: size, tty: tty, every: every, last: time.Now(), shown: -1}
}

func (p *putProgress) percent() int {
	if p.size <= 0 {
		return 0
	}
	return int(min(p.sent*100/p.size, 99))
}

func (p *putProgress) add(n int) {
	p.sent += int64(n)
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	pct := p.percent()
	if p.tty {
		p.last = now
		p.shown = pct
		fmt.Fprintf(p.w, "\r%s %3d%%  %s of %s\x1b[K", p.bar(), pct, putBytes(p.sent), putBytes(p.size))
		return
	}
	if pct == p.shown {
		return
	}
	p.last = now
	if p.shown >= 0 {
		fmt.Fprint(p.w, " ")
	}
	p.shown = pct
	fmt.Fprintf(p.w, "%d%%,", pct)
}

func (p *putProgress) bar() string {
	fill := putBarWidth
	if p.size > 0 {
		fill = int(min(p.sent*putBarWidth/p.size, putBarWidth))
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat(".", putBarWidth-fill) + "]"
}

// done ends the line with the manual's success text.
func (p *putProgress) done() {
	switch {
	case p.tty:
		p.sent = max(p.sent, p.size)
		fmt.Fprintf(p.w, "\r%s 100%% %s\x1b[K\n", p.bar(), putMsgComplete)
	case p.shown >= 0:
		fmt.Fprintf(p.w, " 100%% %s\n", putMsgComplete)
	default:
		fmt.Fprintf(p.w, "100%% %s\n", putMsgComplete)
	}
}

// fail ends a started line, so that the message gets its own (manual:
// "2%,", then "Operation aborted or timeout expired").
func (p *putProgress) fail() {
	if p.shown >= 0 {
		fmt.Fprintln(p.w)
	}
}

// putBytes formats a byte count for the bar: 512 B, 1.5 KiB, 4.0 MiB.
func putBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
