package netserve

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testTimeout bounds every wait: a server that hangs fails the test
// instead of hanging it. No test depends on how fast anything runs.
const testTimeout = 10 * time.Second

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger routes server logs to t.Log (hashicorp/raft testing.go).
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "netserve", Output: testWriter{t}, Level: hclog.Debug})
}

// acceptErr is what Accept returns when the kernel refuses: the syscall
// error in a *net.OpError, as the net package returns it.
func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// scriptListener returns the errors of its script, in order, from Accept;
// a nil entry accepts a real connection from the inner listener. Past the
// end of the script it fails with fail, or accepts if fail is nil.
type scriptListener struct {
	net.Listener
	mu     sync.Mutex
	script []error
	fail   error
	calls  int
	closed bool
}

func (l *scriptListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls++
	var err error
	switch {
	case l.closed:
		err = net.ErrClosed
	case len(l.script) > 0:
		err, l.script = l.script[0], l.script[1:]
	default:
		err = l.fail
	}
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return l.Listener.Accept()
}

func (l *scriptListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return l.Listener.Close()
}

func (l *scriptListener) left() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.script)
}

func listen(t *testing.T, script []error, fail error) *scriptListener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	return &scriptListener{Listener: inner, script: script, fail: fail}
}

// greetConn writes a greeting and closes.
type greetConn struct{ nc net.Conn }

func (c *greetConn) Serve() {
	defer c.nc.Close()
	io.WriteString(c.nc, "hello\n")
}
func (c *greetConn) Close()     { c.nc.Close() }
func (c *greetConn) Idle() bool { return true }

func newGreeter(t *testing.T) *Server {
	return New(func(nc net.Conn) Conn { return &greetConn{nc: nc} }, testLogger(t))
}

// serve runs s.Serve(l) and returns its result channel.
func serve(s *Server, l net.Listener) chan error {
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	return done
}

// greet dials l and reads the greeting.
func greet(t *testing.T, l net.Listener) {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("greeting: got %q, %v, want %q", b, err, "hello\n")
	}
}

// waitServe waits for Serve's result.
func waitServe(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(testTimeout):
		t.Fatalf("Serve did not return within %v", testTimeout)
		return nil
	}
}

// TestAcceptErrorsRetried: transient accept errors are retried with
// net/http's backoff (5 ms doubling to 1 s, reset by a successful accept)
// and the server goes on serving.
func TestAcceptErrorsRetried(t *testing.T) {
	timeout := &net.OpError{Op: "accept", Net: "tcp", Err: os.ErrDeadlineExceeded}
	var script []error
	for range 10 {
		script = append(script, acceptErr(syscall.EMFILE))
	}
	script = append(script, acceptErr(syscall.ENFILE), acceptErr(syscall.ECONNABORTED),
		acceptErr(syscall.ENOBUFS), timeout,
		nil, // a real connection: the delay starts again at 5 ms
		acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE),
		nil)
	l := listen(t, script, nil)
	s := newGreeter(t)
	var mu sync.Mutex
	var delays []time.Duration
	s.pause = func(d time.Duration, done <-chan struct{}) bool {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		return true // no wall clock: the next Accept follows at once
	}
	done := serve(s, l)
	greet(t, l)
	greet(t, l)
	greet(t, l) // past the script
	if n := l.left(); n != 0 {
		t.Errorf("got %d scripted accepts left, want 0", n)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while accept errors were transient", err)
	default:
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := waitServe(t, done); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: got %v, want ErrServerClosed", err)
	}

	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms,
		time.Second, time.Second, time.Second, time.Second, time.Second, time.Second,
		5 * ms, 10 * ms}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != len(want) {
		t.Fatalf("got delays %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delay %d: got %v, want %v", i, delays[i], want[i])
		}
	}
}

// TestStopDuringBackoff: Close and Shutdown wake a Serve that is waiting
// after an accept error; it returns ErrServerClosed at once, not after
// the delay.
func TestStopDuringBackoff(t *testing.T) {
	tests := []struct {
		name string
		stop func(*Server) error
	}{
		{"close", (*Server).Close},
		{"shutdown", func(s *Server) error { return s.Shutdown(context.Background()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t, nil, acceptErr(syscall.EMFILE))
			s := newGreeter(t)
			waiting := make(chan struct{}, 1)
			s.pause = func(d time.Duration, done <-chan struct{}) bool {
				select {
				case waiting <- struct{}{}:
				default:
				}
				// The real wait, made far longer than the test's bound:
				// only done can end it in time.
				return sleep(time.Hour, done)
			}
			done := serve(s, l)
			select {
			case <-waiting:
			case <-time.After(testTimeout):
				t.Fatal("Serve did not back off after EMFILE")
			}
			stopped := make(chan error, 1)
			go func() { stopped <- tt.stop(s) }()
			if err := waitServe(t, done); !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: got %v, want ErrServerClosed", err)
			}
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("%s: %v", tt.name, err)
				}
			case <-time.After(testTimeout):
				t.Fatalf("%s did not return within %v", tt.name, testTimeout)
			}
		})
	}
}

// TestListenerClosedElsewhere: a listener closed by someone other than
// the server ends Serve with the listener's error, as in net/http.
func TestListenerClosedElsewhere(t *testing.T) {
	l := listen(t, nil, nil)
	s := newGreeter(t)
	t.Cleanup(func() { s.Close() })
	done := serve(s, l)
	greet(t, l)
	l.Close()
	if err := waitServe(t, done); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve: got %v, want net.ErrClosed", err)
	}
}

// TestServeAfterClose: Serve on a closed server returns at once.
func TestServeAfterClose(t *testing.T) {
	s := newGreeter(t)
	s.Close()
	l := listen(t, nil, nil)
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: got %v, want ErrServerClosed", err)
	}
}

// panicConn panics in Serve.
type panicConn struct{ nc net.Conn }

func (c *panicConn) Serve()     { panic("test panic in a connection") }
func (c *panicConn) Close()     { c.nc.Close() }
func (c *panicConn) Idle() bool { return true }

// TestPanicClosesOnlyThatConnection: a connection whose Serve panics is
// closed; the server goes on serving the next.
func TestPanicClosesOnlyThatConnection(t *testing.T) {
	l := listen(t, nil, nil)
	first := true // newConn runs on Serve's goroutine only
	s := New(func(nc net.Conn) Conn {
		if first {
			first = false
			return &panicConn{nc: nc}
		}
		return &greetConn{nc: nc}
	}, testLogger(t))
	done := serve(s, l)
	c, err := net.DialTimeout("tcp", l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
		t.Errorf("panicking connection: got %q, %v, want EOF", b, err)
	}
	greet(t, l)
	s.Close()
	if err := waitServe(t, done); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: got %v, want ErrServerClosed", err)
	}
}
