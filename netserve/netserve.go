// Package netserve runs the accept loop and connection bookkeeping that
// sluice's front ends (SSH and FTP) share, with net/http's lifecycle:
// Serve(net.Listener), Shutdown(ctx), Close, and ErrServerClosed.
//
// Each connection runs in its own goroutine, owned by the Server and
// waited for by Shutdown and Close; a panic in it is logged with its stack
// and closes only that connection.
//
// An accept error does not stop the server, as in net/http's
// Server.Serve: running out of file descriptors (EMFILE, ENFILE), a
// connection reset before it was accepted (ECONNABORTED) or a kernel short
// of buffers (ENOBUFS) is transient, and a front end whose Serve returned
// would take the process, and the other front end, with it. Serve logs
// the error, waits 5 ms, doubling to 1 s while the errors go on, and
// accepts again.
package netserve

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server closed")

// Conn is a served connection.
type Conn interface {
	// Serve handles the connection until it ends; it must close it.
	Serve()
	// Close closes the connection; it may be called concurrently with
	// Serve and more than once.
	Close()
	// Idle reports whether the connection may be closed at once by
	// Shutdown (no transfer or session in progress).
	Idle() bool
}

// Server tracks listeners and connections. The zero value is not usable;
// use New.
//
// mu guards listeners, conns and closed; it is never held during I/O.
type Server struct {
	newConn func(net.Conn) Conn
	log     hclog.Logger
	// pause waits d after an accept error, or until done is closed, and
	// reports whether d passed. New sets sleep; tests replace it.
	pause func(d time.Duration, done <-chan struct{}) bool

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[Conn]bool
	closed    bool
	done      chan struct{}  // closed with closed: wakes Serve's accept backoff
	wg        sync.WaitGroup // one per connection goroutine
}

// net/http's accept backoff.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// New returns a Server that wraps each accepted connection with newConn.
func New(newConn func(net.Conn) Conn, log hclog.Logger) *Server {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Server{newConn: newConn, log: log, pause: sleep,
		listeners: map[net.Listener]bool{}, conns: map[Conn]bool{}, done: make(chan struct{})}
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed. Accept errors are retried after a growing delay (see
// the package documentation); only a listener closed by someone else
// (net.ErrClosed while the server is open) ends Serve with that error.
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
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			s.log.Warn("accept failed; retrying", "error", err, "delay", delay)
			if !s.pause(delay, s.done) {
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		c := s.newConn(nc)
		if !s.track(c) {
			nc.Close()
			return ErrServerClosed
		}
		go s.run(c)
	}
}

// sleep waits d or until done is closed; it reports whether d passed.
// Close and Shutdown close done, so a Serve in its accept backoff returns
// at once.
func sleep(d time.Duration, done <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func (s *Server) run(c Conn) {
	defer s.untrack(c)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in connection", "panic", r, "stack", string(debug.Stack()))
			c.Close()
		}
	}()
	c.Serve()
}

func (s *Server) track(c Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c Conn) {
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
func (s *Server) closeListeners() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Shutdown stops accepting, closes idle connections, and waits for the
// others to end; when ctx ends first, it closes them and returns ctx's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	s.closeListeners()
	go func() { s.wg.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, c := range s.closeListeners() {
			if c.Idle() {
				c.Close()
			}
		}
		select {
		case <-done:
			return nil
		case <-tick.C:
		case <-ctx.Done():
			for _, c := range s.closeListeners() {
				c.Close()
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
		c.Close()
	}
	s.wg.Wait()
	return nil
}

// Count returns the number of connections being served.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
