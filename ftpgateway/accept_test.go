package ftpgateway

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// emfileListener fails its first fails Accepts with EMFILE, as a process
// out of file descriptors does (the connection stays in the kernel's
// queue), then accepts.
type emfileListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.fails > 0
	if fail {
		l.fails--
	}
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func (l *emfileListener) left() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fails
}

// TestServeAfterEMFILE: accept failing with EMFILE does not stop the FTP
// front end: a client waiting in the queue gets its banner once the
// errors pass, logs in and downloads, and Serve returns only at Close.
func TestServeAfterEMFILE(t *testing.T) {
	const fails = 4
	e := newTestEnv(t, tOpts{})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &emfileListener{Listener: inner, fails: fails}
	// The client connects first: its connection waits in the queue while
	// Serve's Accepts fail.
	nc, err := net.DialTimeout("tcp", l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l) }()
	t.Cleanup(func() {
		e.srv.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
	})

	c := &tCtl{t: t, conn: nc, r: bufio.NewReader(nc)}
	if r := c.read(); r.code != 220 {
		t.Fatalf("banner after %d EMFILEs: got %q, want 220", fails, r)
	}
	if n := l.left(); n != 0 {
		t.Errorf("got %d EMFILEs not returned, want 0", n)
	}
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230 User login successful.")
	data := testPattern(5000, 3)
	writeHost(t, e.dsk, "after.txt", data)
	if got := c.retr("/dsk/after.txt"); !bytes.Equal(got, data) {
		t.Errorf("RETR after EMFILE: %s", firstDiff(got, data))
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v after EMFILE", err)
	default:
	}
	// A second connection, after the errors, is served too.
	e2 := *e
	e2.addr = l.Addr().String()
	e2.login(t, "guest")
}
