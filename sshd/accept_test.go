package sshd

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
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

// TestServeAfterEMFILE: accept failing with EMFILE does not stop the SSH
// front end: a client waiting in the queue is served once the errors
// pass, logs in and uses SFTP, and Serve returns only at Close.
func TestServeAfterEMFILE(t *testing.T) {
	const fails = 4
	f := start(t, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &emfileListener{Listener: inner, fails: fails}
	// The client connects first: its connection waits in the queue while
	// Serve's Accepts fail.
	nc, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(l) }()
	t.Cleanup(func() {
		f.srv.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})

	nc.SetDeadline(time.Now().Add(10 * time.Second)) // generous: only a hang fails
	cc, chans, reqs, err := ssh.NewClientConn(nc, l.Addr().String(), &ssh.ClientConfig{User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatalf("login after %d EMFILEs: %v", fails, err)
	}
	nc.SetDeadline(time.Time{})
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	if n := l.left(); n != 0 {
		t.Errorf("got %d EMFILEs not returned, want 0", n)
	}
	cl, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp after EMFILE: %v", err)
	}
	defer cl.Close()
	if _, err := cl.ReadDir("/"); err != nil {
		t.Errorf("ReadDir(/): %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v after EMFILE", err)
	default:
	}
	// A second connection, after the errors, is served too.
	if _, err := (&fixture{srv: f.srv, addr: l.Addr().String(), signer: f.signer}).dial(t); err != nil {
		t.Errorf("second login: %v", err)
	}
}
