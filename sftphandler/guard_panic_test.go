package sftphandler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/vfs"
)

// panicRWC is a channel whose Read or Write panics on its call number
// readAt or writeAt (1 = the first; 0 = never). The guard calls both
// from next and send, so a panic there stands for one in the guard's own
// parsing: the same recover must catch it.
type panicRWC struct {
	*pipeRWC
	readAt, writeAt int32
	reads, writes   atomic.Int32
}

func (c *panicRWC) Read(b []byte) (int, error) {
	if c.reads.Add(1) == c.readAt {
		panic("test panic reading the channel")
	}
	return c.pipeRWC.Read(b)
}

func (c *panicRWC) Write(b []byte) (int, error) {
	if c.writes.Add(1) == c.writeAt {
		panic("test panic writing the channel")
	}
	return c.pipeRWC.Write(b)
}

// syncBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// recordingLogger is a Debug logger named "sftp" that keeps its output
// for assertions and passes it on to t.Log.
func recordingLogger(t *testing.T) (*syncBuffer, hclog.Logger) {
	logs := &syncBuffer{}
	return logs, hclog.New(&hclog.LoggerOptions{Name: "sftp", Level: hclog.Debug,
		Output: io.MultiWriter(logs, testWriter{t})})
}

// TestGuardPanic: a panic in the wire guard's next (reading a request)
// or send (writing a reply) ends that session with an error and logs the stack at error level; the
// process goes on.
func TestGuardPanic(t *testing.T) {
	tests := []struct {
		name            string
		readAt, writeAt int32
		op              string
	}{
		{"read", 1, 0, "read"},
		{"guard's own reply", 0, 1, "read"}, // the INIT reply, written from Read
		{"library's reply", 0, 2, "write"},  // the REALPATH reply, through Write
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1<<20)
			logs, log := recordingLogger(t)
			sr, cw := io.Pipe()
			cr, sw := io.Pipe()
			ch := &panicRWC{pipeRWC: &pipeRWC{r: sr, w: sw}, readAt: tt.readAt, writeAt: tt.writeAt}
			done := make(chan error, 1)
			go func() { done <- Serve(context.Background(), ch, e.fs, supervisor(), Options{Logger: log}) }()
			go io.Copy(io.Discard, cr) // the client reads whatever comes
			t.Cleanup(func() { cw.Close(); cr.Close() })
			go func() {
				// The client's requests; the pipe fails once the session
				// has ended, which is expected.
				cw.Write(pkt(fxpInit, 3))
				cw.Write(pkt(fxpRealpath, uint32(1), "/"))
			}()

			var err error
			select {
			case err = <-done:
			case <-time.After(replyTimeout):
				t.Fatalf("Serve did not return within %v after the panic", replyTimeout)
			}
			var gp *guardPanic
			if !errors.As(err, &gp) {
				t.Fatalf("Serve: got %v, want the guard's panic", err)
			}
			if gp.op != tt.op {
				t.Errorf("panic in %s, want %s", gp.op, tt.op)
			}
			out := logs.String()
			if !strings.Contains(out, "[ERROR] sftp: panic in the sftp wire guard") {
				t.Errorf("no error-level log of the panic:\n%s", out)
			}
			if !strings.Contains(out, "sftphandler.(*guard).recoverTo") || !strings.Contains(out, "panicRWC") {
				t.Errorf("the log has no stack of the panic:\n%s", out)
			}
		})
	}
}

// TestGuardAfterPanic: once the guard has panicked, next and send fail
// with that panic and touch nothing.
func TestGuardAfterPanic(t *testing.T) {
	sr, _ := io.Pipe()
	_, sw := io.Pipe()
	ch := &panicRWC{pipeRWC: &pipeRWC{r: sr, w: sw}, readAt: 1}
	g := newGuard(ch, testLogger(t))
	f, _, err := g.next()
	var gp *guardPanic
	if f != nil || !errors.As(err, &gp) {
		t.Fatalf("next: got %x, %v, want nothing and the panic", f, err)
	}
	if f, _, err := g.next(); f != nil || !errors.Is(err, gp) {
		t.Errorf("next after the panic: got %x, %v, want nothing, %v", f, err, gp)
	}
	if err := g.send(pkt(fxpStatus, uint32(1), uint32(0), "", "")); !errors.Is(err, gp) {
		t.Errorf("send after the panic: got %v, want %v", err, gp)
	}
	if got := ch.reads.Load(); got != 1 {
		t.Errorf("channel read %d times, want 1", got)
	}
	if got := ch.writes.Load(); got != 0 {
		t.Errorf("channel written %d times, want 0", got)
	}
}

// panicLister stands for a bug reached while serving a request.
type panicLister struct{}

func (panicLister) ListAt([]os.FileInfo, int64) (int, error) { panic("test panic listing") }

// TestServePanic: a panic in the serve loop outside the handlers' own
// recover ends that session with an error and an error-level log with the
// stack, and the session's open upload is cut, not committed: /bio's
// exclusive lock is released and no file or temporary file is left.
func TestServePanic(t *testing.T) {
	e := newEnv(t, 1<<20)
	logs, log := recordingLogger(t)
	sr, cw := io.Pipe()
	cr, sw := io.Pipe()
	t.Cleanup(func() { cw.Close(); cr.Close() })
	g := newGuard(&pipeRWC{r: sr, w: sw}, log)
	h := &handler{store: e.fs, sess: supervisor(), log: log, writers: map[string]*vfs.Writer{}}
	srv := &server{g: g, h: h, files: map[string]*openFile{"p": {path: "/", list: panicLister{}}}}
	g.handles["p"] = modeDir
	done := make(chan error, 1)
	go func() { done <- srv.serve() }()
	go io.Copy(io.Discard, cr)
	for _, f := range [][]byte{
		pkt(fxpInit, uint32(3)),
		pkt(fxpOpen, uint32(1), "/bio/u.bin", uint32(fxfWrite|openCreat|openTrunc), uint32(0)),
		pkt(fxpWrite, uint32(2), "1", uint64(0), []byte("partial")),
		pkt(fxpReaddir, uint32(3), "p"),
	} {
		if _, err := cw.Write(f); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(replyTimeout):
		t.Fatalf("serve did not return within %v after the panic", replyTimeout)
	}
	if err == nil || !strings.Contains(err.Error(), "panic serving a request") {
		t.Fatalf("serve: got %v, want the panic", err)
	}
	out := logs.String()
	if !strings.Contains(out, "[ERROR] sftp: panic serving an sftp request") || !strings.Contains(out, "panicLister") {
		t.Errorf("no error-level log with the stack of the panic:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.bio, "u.bin")); !os.IsNotExist(err) {
		t.Errorf("/bio/u.bin after the panic: %v, want no file", err)
	}
	if tmp := tempFiles(t, e.bio); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
	// The exclusive file system is free again.
	c := startConn(t, e, supervisor(), Options{})
	expectStatus(t, "CLOSE", c.close(c.mustOpen("/bio/v.bin", fxfWrite|openCreat|openTrunc)), fxOK, "File/Dir closed OK")
}
