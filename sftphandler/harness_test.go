package sftphandler

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// replyTimeout bounds every wait for a reply; a server that stays silent
// (the library's behaviour the guard exists to fix) fails the test instead
// of hanging it.
const replyTimeout = 10 * time.Second

// testEnv is a device tree on temporary directories: /dsk, an exclusive
// /bio, and /mem with a budget.
type testEnv struct {
	dsk, bio string
	mem      *mem.Store
	fs       *vfs.FS
}

func newEnv(t testing.TB, memMax int64) *testEnv {
	t.Helper()
	store, err := mem.New(mem.Config{MaxBytes: memMax})
	if err != nil {
		t.Fatalf("mem.New: %v", err)
	}
	e := &testEnv{dsk: t.TempDir(), bio: t.TempDir(), mem: store}
	e.fs, err = vfs.New(vfs.Config{
		Mounts: []policy.Mount{{Name: "dsk", Path: e.dsk}, {Name: "bio", Path: e.bio, Exclusive: true}},
		Mem:    store,
	})
	if err != nil {
		t.Fatalf("vfs.New: %v", err)
	}
	t.Cleanup(func() { e.fs.Close() })
	return e
}

func supervisor() *vfs.Session {
	return &vfs.Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "s1"}
}

// writeHost puts a file straight into a host directory.
func writeHost(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pipeRWC is the server's end of two io.Pipes. Unlike net.Pipe it lets
// the client half-close (send EOF) and still read the replies.
type pipeRWC struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (p *pipeRWC) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeRWC) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeRWC) Close() error {
	p.r.Close()
	return p.w.Close()
}

// testWriter is an io.Writer onto t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger routes server logs to t.Log (hashicorp/raft testing.go).
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "sftp", Output: testWriter{t}, Level: hclog.Debug})
}

// tconn is the client side of a served session.
type tconn struct {
	t testing.TB
	*served

	frames chan []byte // reply bodies (type byte onward), from readLoop
	rerr   error       // why readLoop stopped; read after frames is closed

	mu     sync.Mutex
	nextID uint32
}

// served is a running Serve on a pipe: the client's two ends.
type served struct {
	r      *io.PipeReader // from the server
	w      *io.PipeWriter // to the server
	done   chan error     // Serve's result
	cancel context.CancelFunc
	abrupt bool // the test ends the session abnormally: Serve may return an error
}

// servePipes starts Serve for sess on a pipe. The cleanup closes the
// client's end and checks that Serve returns nil.
func servePipes(t testing.TB, store Store, sess *vfs.Session, opt Options) *served {
	t.Helper()
	sr, cw := io.Pipe()
	cr, sw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{r: cr, w: cw, done: make(chan error, 1), cancel: cancel}
	if opt.Logger == nil {
		opt.Logger = testLogger(t)
	}
	go func() { s.done <- Serve(ctx, &pipeRWC{r: sr, w: sw}, store, sess, opt) }()
	t.Cleanup(func() {
		s.w.Close()
		err := s.wait()
		switch {
		case err == nil:
		case s.abrupt || t.Failed():
			// A client gone mid-frame or with handles open ends Serve
			// with an error; sshd logs it at Debug level.
			t.Logf("Serve: %v", err)
		default:
			t.Errorf("Serve after a clean EOF: got %v, want nil", err)
		}
	})
	return s
}

// wait waits for Serve to return (after the client has closed its end or
// the context was cancelled).
func (s *served) wait() error {
	select {
	case err := <-s.done:
		s.cancel()
		s.done <- err // later waits see it too
		return err
	case <-time.After(replyTimeout):
		s.cancel()
		return errors.New("Serve did not return after the client closed")
	}
}

// serveConn starts Serve and returns a raw-frame client. It does not send
// INIT; use startConn for that.
func serveConn(t testing.TB, store Store, sess *vfs.Session, opt Options) *tconn {
	t.Helper()
	s := servePipes(t, store, sess, opt)
	c := &tconn{t: t, served: s, frames: make(chan []byte, 4096), nextID: 1}
	go c.readLoop()
	return c
}

// startConn serves and negotiates version 3.
func startConn(t testing.TB, e *testEnv, sess *vfs.Session, opt Options) *tconn {
	t.Helper()
	c := serveConn(t, e.fs, sess, opt)
	c.send(pkt(fxpInit, 3))
	if r := c.recv(); r.typ != fxpVersion || r.id != 3 {
		t.Fatalf("INIT: got %s, want VERSION 3", r)
	}
	return c
}

func (c *tconn) readLoop() {
	defer close(c.frames)
	for {
		var lb [4]byte
		if _, err := io.ReadFull(c.r, lb[:]); err != nil {
			c.rerr = err
			return
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > 1<<20 {
			c.rerr = fmt.Errorf("reply frame of %d bytes", n)
			c.r.CloseWithError(c.rerr)
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c.r, b); err != nil {
			c.rerr = fmt.Errorf("reply body: %w", err)
			return
		}
		c.frames <- b
	}
}

func (c *tconn) id() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return c.nextID
}

func (c *tconn) send(b []byte) {
	c.t.Helper()
	if _, err := c.w.Write(b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next reply frame.
func (c *tconn) recv() reply {
	c.t.Helper()
	select {
	case b, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection closed while waiting for a reply: %v", c.rerr)
		}
		r, err := parseReply(b)
		if err != nil {
			c.t.Fatalf("malformed reply %x: %v", b, err)
		}
		return r
	case <-time.After(replyTimeout):
		c.t.Fatalf("no reply within %v", replyTimeout)
	}
	panic("unreachable")
}

// do sends one request with a fresh id and returns its reply.
func (c *tconn) do(typ byte, fields ...any) reply {
	c.t.Helper()
	id := c.id()
	c.send(pkt(typ, append([]any{id}, fields...)...))
	r := c.recv()
	if r.id != id {
		c.t.Fatalf("reply %s to request %d (type %d)", r, id, typ)
	}
	return r
}

// Request helpers. Each returns the raw reply.

func (c *tconn) open(p string, pflags uint32) reply {
	c.t.Helper()
	return c.do(fxpOpen, p, pflags, uint32(0))
}

func (c *tconn) mustOpen(p string, pflags uint32) string {
	c.t.Helper()
	r := c.open(p, pflags)
	if r.typ != fxpHandle {
		c.t.Fatalf("OPEN %s: got %s, want HANDLE", p, r)
	}
	return r.handle
}

func (c *tconn) mustOpendir(p string) string {
	c.t.Helper()
	r := c.do(fxpOpendir, p)
	if r.typ != fxpHandle {
		c.t.Fatalf("OPENDIR %s: got %s, want HANDLE", p, r)
	}
	return r.handle
}

func (c *tconn) close(h string) reply {
	c.t.Helper()
	return c.do(fxpClose, h)
}

func (c *tconn) write(h string, off uint64, data []byte) reply {
	c.t.Helper()
	return c.do(fxpWrite, h, off, data)
}

func (c *tconn) read(h string, off uint64, n uint32) reply {
	c.t.Helper()
	return c.do(fxpRead, h, off, n)
}

// put uploads data to p with OPEN WRITE|CREAT|TRUNC, WRITEs and CLOSE,
// checking the manual's texts.
func (c *tconn) put(p string, data []byte) {
	c.t.Helper()
	h := c.mustOpen(p, fxfWrite|openCreat|openTrunc)
	const chunk = 32 << 10
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		expectStatus(c.t, "WRITE "+p, c.write(h, uint64(off), data[off:end]), fxOK, "Write file OK")
	}
	expectStatus(c.t, "CLOSE "+p, c.close(h), fxOK, "File/Dir closed OK")
}

// get downloads p with OPEN READ, READs until EOF and CLOSE.
func (c *tconn) get(p string) []byte {
	c.t.Helper()
	h := c.mustOpen(p, fxfRead)
	var out []byte
	for {
		r := c.read(h, uint64(len(out)), 64<<10)
		if r.typ == fxpStatus {
			expectStatus(c.t, "READ "+p, r, fxEOF, "Read end of file")
			break
		}
		if r.typ != fxpData {
			c.t.Fatalf("READ %s: got %s, want DATA", p, r)
		}
		out = append(out, r.data...)
	}
	expectStatus(c.t, "CLOSE "+p, c.close(h), fxOK, "File/Dir closed OK")
	return out
}

// Extra open flags the tests send (draft-ietf-secsh-filexfer-02 §6.3).
const (
	openAppend = 0x04
	openCreat  = 0x08
	openTrunc  = 0x10
	openExcl   = 0x20
)

// rawBytes marks bytes to append to a frame as they are (no length word).
type rawBytes []byte

// pkt builds a client frame: length word, type, then fields. uint32 and
// uint64 are big-endian; string and []byte are SSH strings; rawBytes is copied;
// byte is one byte.
func pkt(typ byte, fields ...any) []byte {
	b := []byte{0, 0, 0, 0, typ}
	for _, f := range fields {
		switch v := f.(type) {
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case int:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case rawBytes:
			b = append(b, v...)
		case byte:
			b = append(b, v)
		default:
			panic(fmt.Sprintf("frame: field of type %T", f))
		}
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// reply is a decoded server frame.
type reply struct {
	typ byte
	id  uint32 // the version for VERSION

	code uint32 // STATUS
	msg  string
	lang string

	handle string      // HANDLE
	data   []byte      // DATA; EXTENDED_REPLY payload
	names  []nameEntry // NAME
	attrs  fileAttrs   // ATTRS
	exts   [][2]string // VERSION extensions
}

type nameEntry struct {
	name, long string
	attrs      fileAttrs
}

type fileAttrs struct {
	flags uint32
	size  uint64
	perm  uint32
}

func (a fileAttrs) isDir() bool { return a.flags&attrPermissions != 0 && a.perm&0o170000 == 0o040000 }

func (r reply) String() string {
	switch r.typ {
	case fxpStatus:
		return fmt.Sprintf("STATUS{id %d, code %d, %q}", r.id, r.code, r.msg)
	case fxpHandle:
		return fmt.Sprintf("HANDLE{id %d, %q}", r.id, r.handle)
	case fxpData:
		return fmt.Sprintf("DATA{id %d, %d bytes}", r.id, len(r.data))
	case fxpName:
		return fmt.Sprintf("NAME{id %d, %d names}", r.id, len(r.names))
	case fxpAttrs:
		return fmt.Sprintf("ATTRS{id %d, %+v}", r.id, r.attrs)
	case fxpVersion:
		return fmt.Sprintf("VERSION{%d, %q}", r.id, r.exts)
	case fxpExtendedReply:
		return fmt.Sprintf("EXTENDED_REPLY{id %d, %x}", r.id, r.data)
	}
	return fmt.Sprintf("frame{type %d, id %d}", r.typ, r.id)
}

// parseReply decodes a reply body strictly: every field present and no
// bytes left over.
func parseReply(b []byte) (reply, error) {
	var r reply
	d := &decoder{b: b}
	t := d.take(1)
	if t == nil {
		return r, errShort
	}
	r.typ = t[0]
	r.id = d.u32()
	switch r.typ {
	case fxpVersion:
		for len(d.b) > 0 && d.err == nil {
			name, data := d.data(), d.data()
			r.exts = append(r.exts, [2]string{string(name), string(data)})
		}
	case fxpStatus:
		r.code = d.u32()
		r.msg = string(d.data())
		r.lang = string(d.data())
	case fxpHandle:
		r.handle = string(d.data())
	case fxpData:
		r.data = d.data()
	case fxpName:
		n := d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			var e nameEntry
			e.name = string(d.data())
			e.long = string(d.data())
			e.attrs = parseAttrs(d)
			r.names = append(r.names, e)
		}
	case fxpAttrs:
		r.attrs = parseAttrs(d)
	case fxpExtendedReply:
		r.data = d.take(len(d.b))
	default:
		return r, fmt.Errorf("reply type %d", r.typ)
	}
	if d.err != nil {
		return r, d.err
	}
	if len(d.b) != 0 {
		return r, fmt.Errorf("%d bytes after the reply's fields", len(d.b))
	}
	return r, nil
}

func parseAttrs(d *decoder) fileAttrs {
	var a fileAttrs
	a.flags = d.u32()
	if a.flags&attrSize != 0 {
		a.size = d.u64()
	}
	if a.flags&attrUIDGID != 0 {
		d.u64()
	}
	if a.flags&attrPermissions != 0 {
		a.perm = d.u32()
	}
	if a.flags&attrACModTime != 0 {
		d.u64()
	}
	if a.flags&attrExtended != 0 {
		n := d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			d.data()
			d.data()
		}
	}
	return a
}

// expectStatus checks a STATUS reply's code and text.
func expectStatus(t testing.TB, what string, r reply, code uint32, msg string) {
	t.Helper()
	if r.typ != fxpStatus || r.code != code || r.msg != msg {
		t.Errorf("%s: got %s, want STATUS{code %d, %q}", what, r, code, msg)
	}
}

// tempFiles lists the names in dir that start with the temporary prefix.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".sluice-tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// pattern returns n deterministic, position-dependent bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

func firstDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: got %#x, want %#x", i, got[i], want[i])
		}
	}
	if !bytes.Equal(got, want) {
		return "differ"
	}
	return ""
}
