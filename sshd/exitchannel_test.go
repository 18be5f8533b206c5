package sshd

import (
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// recChannel records the calls exitChannel makes. Like x/crypto's
// channel, Write fails once CloseWrite has been called; it can be made
// to block until released, as a Write to a client that stopped reading.
type recChannel struct {
	ssh.Channel // not used: every method exitChannel calls is below

	mu    sync.Mutex
	calls []string
	eof   bool

	entered chan struct{} // closed when a blocking Write has begun
	release chan struct{} // a blocking Write returns when this is closed
}

func (r *recChannel) record(c string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recChannel) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recChannel) Write(p []byte) (int, error) {
	r.mu.Lock()
	eof := r.eof
	r.mu.Unlock()
	if eof {
		return 0, io.EOF
	}
	r.record("write")
	if r.release != nil {
		close(r.entered)
		<-r.release
	}
	return len(p), nil
}

func (r *recChannel) SendRequest(name string, _ bool, _ []byte) (bool, error) {
	r.record(name)
	return true, nil
}

func (r *recChannel) CloseWrite() error {
	r.mu.Lock()
	r.eof = true
	r.mu.Unlock()
	r.record("eof")
	return nil
}

func (r *recChannel) Close() error {
	r.record("close")
	return nil
}

// An idle channel's Close sends exit-status 0, EOF and the close, once.
func TestExitChannelCloseIdle(t *testing.T) {
	rc := &recChannel{}
	c := &exitChannel{Channel: rc, lastIO: new(atomic.Int64)}
	if _, err := c.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	want := []string{"write", "exit-status", "eof", "close"}
	if got := rc.got(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if _, err := c.Write([]byte("late")); err != io.EOF {
		t.Fatalf("Write after Close: %v, want io.EOF", err)
	}
}

// A Close from another goroutine while a Write is in progress (a
// shutdown during a reply) does not wait for the Write and does not call
// CloseWrite concurrently with it (x/crypto's channel keeps its EOF flag
// without a lock): the cut session gets only the channel close.
func TestExitChannelCloseDuringWrite(t *testing.T) {
	rc := &recChannel{entered: make(chan struct{}), release: make(chan struct{})}
	c := &exitChannel{Channel: rc, lastIO: new(atomic.Int64)}
	done := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("reply"))
		done <- err
	}()
	<-rc.entered
	c.Close() // must return although the Write is blocked
	close(rc.release)
	if err := <-done; err != nil {
		t.Fatalf("Write: %v", err)
	}
	want := []string{"write", "close"}
	if got := rc.got(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}
