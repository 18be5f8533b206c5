// Package netserve runs the accept loop and connection bookkeeping that
// sluice's front ends (SSH and FTP) share, with net/http's lifecycle:
// Serve(net.Listener), Shutdown(ctx), Close, and ErrServerClosed.
//
// Each connection runs in its own goroutine, owned by the Server and
// waited for by Shutdown and Close; a panic in it is logged with its stack
// and closes only that connection.
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

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[Conn]bool
	closed    bool
	wg        sync.WaitGroup // one per connection goroutine
}

// New returns a Server that wraps each accepted connection with newConn.
func New(newConn func(net.Conn) Conn, log hclog.Logger) *Server {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Server{newConn: newConn, log: log, listeners: map[net.Listener]bool{}, conns: map[Conn]bool{}}
}

// Serve accepts connections on l until Shutdown or Close.
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
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "error", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
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
	s.closed = true
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
