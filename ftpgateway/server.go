// Package ftpgateway is sluice's legacy FTP front end: the device manual's
// classic FTP server (chapter 1.3–1.4 and chapter 3: command set, access
// levels, reply codes and texts, SITE commands, TEST mode, secure and
// direct mode) over the same policy, staging buffer and verified commit as
// SFTP (DESIGN §6). It adds RFC 2577 protections (no bounce, no passive
// hijack, throttled logins) and explicit FTPS (RFC 4217).
//
// Server follows net/http: Serve(net.Listener), Shutdown(ctx), Close.
package ftpgateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/netserve"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = netserve.ErrServerClosed

// Store is what the gateway needs of the device tree.
type Store interface {
	Stat(s *vfs.Session, p string) (vfs.Info, error)
	List(s *vfs.Session, p string) ([]vfs.Info, error)
	OpenRead(s *vfs.Session, p string) (*vfs.Reader, error)
	OpenWrite(s *vfs.Session, p string, mode vfs.WriteMode) (*vfs.Writer, error)
	Remove(s *vfs.Session, p string) error
	Rename(s *vfs.Session, from, to string) (vfs.Result, error)
	// Copy commits like Rename but keeps the source (CHECK DELETE off).
	Copy(s *vfs.Session, from, to string) (vfs.Result, error)
	// Verify runs the image checks on a file without committing it.
	Verify(s *vfs.Session, p string) error
	// Staged is the user's newest staged file (SITE *BUFFER).
	Staged(s *vfs.Session) (vfs.Staged, bool)
	// Discard removes a staged file the server refused.
	Discard(s *vfs.Session, p string, reason error) error
	BufferStats() vfs.BufferStats
	// Permanent reports whether a staged file can be committed to fs.
	Permanent(fs string) bool
	SetModTime(s *vfs.Session, p string, t time.Time) error
	// Backup copies a file system's files into a host directory, each
	// atomically (SITE BACKUP).
	Backup(s *vfs.Session, fs, dir string) error
}

// Config configures a Server. Policy and Store are required.
type Config struct {
	Policy *policy.Config
	Store  Store
	// Sessions is shared with the other front ends; nil makes one.
	Sessions *policy.SessionLimiter
	// Budget is this front end's pre-authentication budget; nil makes one
	// from Policy.Limits.
	Budget *policy.Budget
	// Defender holds the per-source penalties shared with the other
	// front ends; nil makes one from Policy.Penalties.
	Defender *policy.Defender
	// TLS enables AUTH TLS (explicit FTPS); nil refuses it.
	TLS    *tls.Config
	Logger hclog.Logger // nil discards
	Audit  hclog.Logger // the "audit" logger; nil discards
	// Reload runs the configured reload command after the control
	// connection that ordered SITE RELOAD has closed; nil: none, and
	// SITE RELOAD ON answers "504 Feature not present.".
	Reload func()
	// ReloadReady, if set, reports whether the reload command can run
	// (it is executable); SITE RELOAD ON answers "550 Unable to create
	// order." when it cannot.
	ReloadReady func() error
}

// Server is the FTP gateway.
type Server struct {
	cfg Config
	// cur is the policy in force (pol): every new connection, login and
	// command reads it, Reload replaces it. A session keeps the user it
	// logged in as.
	cur      atomic.Pointer[policy.Config]
	log      hclog.Logger
	audit    hclog.Logger
	sessions *policy.SessionLimiter
	budget   *policy.Budget
	def      *policy.Defender
	net      *netserve.Server
	// shutting is set by Shutdown and Close: a session closed then is
	// told 421 first.
	shutting atomic.Bool
	// dataTLS is cfg.TLS for data connections: no session tickets. A TLS
	// 1.3 server sends tickets after the handshake; a client that closes
	// its upload socket without reading them (netkit ftp-ssl) makes its
	// kernel answer with a reset, which would cut the upload.
	dataTLS *tls.Config
	nextID  atomic.Uint64
	started time.Time

	mu      sync.Mutex
	clients map[*session]bool // logged-in or not, for SITE WHO and the banner
	stats   stats
	bufs    sync.Pool // *[]byte of recvBuf bytes, for STOR/APPE
}

// recvBuf is the read size of an upload: large enough that a busy data
// connection is read in few system calls.
const recvBuf = 256 << 10

// receive copies an upload from the data connection to w until EOF with
// a pooled buffer, counting as it goes (STAT during the transfer). It
// returns the data connection's error (rerr) apart from w's (werr): a
// failed read is a cut, a failed write the upload's own failure.
func (s *Server) receive(w io.Writer, conn io.Reader, n *atomic.Int64) (rerr, werr error) {
	bp := s.buf()
	defer s.bufs.Put(bp)
	return copyBuf(w, conn, *bp, n)
}

func (s *Server) buf() *[]byte {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, recvBuf)
		bp = &b
	}
	return bp
}

// upload is what receiveAt writes to (a *vfs.Writer).
type upload interface {
	io.WriterAt
	ReadFromAt(r io.Reader, off, n int64) (written int64, eof, ok bool, rerr, werr error)
}

// receiveAt is receive of a binary upload into w from offset off. Once
// an upload has brought recvBuf bytes through the buffer, it goes on by
// splice(2) from a plain TCP data connection into a host file
// (vfs.Writer.ReadFromAt), in chunks under their own read deadlines, sized
// as RETR's sendfile chunks: no copy through user space, and two system
// calls per MiB instead of eight. A small file stays on the buffer (a
// splice needs a pipe), and so does anything else: TLS, the staging
// buffer, a test sink.
func (s *Server) receiveAt(w upload, off int64, conn io.Reader, n *atomic.Int64) (rerr, werr error) {
	bp := s.buf()
	defer s.bufs.Put(bp)
	buf := *bp
	var tcp *net.TCPConn
	dc, _ := conn.(*dataConn)
	if dc != nil {
		tcp, _ = dc.Conn.(*net.TCPConn)
	}
	if tcp == nil {
		return copyBuf(io.NewOffsetWriter(w, off), conn, buf, n)
	}
	head := &io.LimitedReader{R: conn, N: recvBuf}
	ow := io.NewOffsetWriter(w, off)
	if rerr, werr := copyBuf(ow, head, buf, n); rerr != nil || werr != nil || head.N > 0 {
		return rerr, werr // an error, or the end before recvBuf bytes
	}
	wrote, _ := ow.Seek(0, io.SeekCurrent)
	off += wrote
	size := int64(sendChunk)
	for {
		start := time.Now()
		tcp.SetReadDeadline(start.Add(dc.timeout))
		m, eof, ok, rerr, werr := w.ReadFromAt(tcp, off, size)
		if !ok {
			break // the size limit: the buffer's WriteAt reports it
		}
		off += m
		n.Add(m)
		if rerr != nil && m > 0 && isTimeout(rerr) {
			// Bytes came, but fewer than the chunk within one deadline:
			// a sender slowed down, not a stall. The rest goes through
			// the buffer, each Read under its own deadline. A deadline
			// stops a splice only while it waits for the socket, with
			// nothing in its pipe, so every byte read is in the file.
			// Any other error may leave bytes in the pipe: it is never
			// followed by more writes.
			break
		}
		dc.note(rerr)
		if rerr != nil || werr != nil || eof {
			return rerr, werr
		}
		size = nextSendChunk(size, time.Since(start), dc.timeout)
	}
	return copyBuf(io.NewOffsetWriter(w, off), conn, buf, n)
}

func copyBuf(w io.Writer, conn io.Reader, buf []byte, n *atomic.Int64) (rerr, werr error) {
	for {
		k, err := conn.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return nil, werr
			}
			n.Add(int64(k))
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// stats are the counters of mTCP's SITE STATS.
type stats struct {
	sessions, refused, logins, failedLogins int64
	filesSent, filesReceived                int64
	bytesSent, bytesReceived                int64
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Policy == nil || cfg.Store == nil {
		return nil, errors.New("ftpgateway: Policy and Store are required")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, audit: cfg.Audit, sessions: cfg.Sessions,
		budget: cfg.Budget, def: cfg.Defender, started: time.Now(), clients: map[*session]bool{}}
	s.cur.Store(cfg.Policy)
	if s.def == nil {
		s.def = policy.NewDefender(cfg.Policy.Penalties)
	}
	if s.budget == nil {
		s.budget = policy.NewBudget(cfg.Policy.Limits, s.def.Allowed)
	}
	if cfg.TLS != nil {
		s.dataTLS = cfg.TLS.Clone()
		s.dataTLS.SessionTicketsDisabled = true
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
	if cfg.Policy.FTP.RequireTLS && cfg.TLS == nil {
		return nil, errors.New("ftpgateway: require_tls without a TLS configuration")
	}
	s.net = netserve.New(func(nc net.Conn) netserve.Conn {
		return newSession(s, nc, strconv.FormatUint(s.nextID.Add(1), 10))
	}, s.log)
	return s, nil
}

// Serve accepts control connections on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error { return s.net.Serve(l) }

// Shutdown stops accepting, closes idle sessions and waits for transfers
// to end; when ctx ends first it closes everything and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	return s.net.Shutdown(ctx)
}

// Close closes everything and waits for the connection goroutines.
func (s *Server) Close() error {
	s.shutting.Store(true)
	return s.net.Close()
}

func (s *Server) addClient(c *session) {
	s.mu.Lock()
	s.clients[c] = true
	s.stats.sessions++
	s.mu.Unlock()
}

func (s *Server) clientCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func (s *Server) removeClient(c *session) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

func (s *Server) count(f func(*stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}
