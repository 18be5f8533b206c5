package sftphandler

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// The serve loop: one goroutine per session reads a request through the
// guard, calls the handler and writes the reply, in the order the requests
// came, as OpenSSH's sftp-server does. It replaces pkg/sftp's
// RequestServer, which ran 11 goroutines per session (a receive loop, a
// packet manager, 8 workers and a dispatcher) with channels between them:
// about 30 KiB of stacks for every idle session and two goroutine handoffs
// for every request (docs/performance.md, "Issue 11"). pkg/sftp's types
// stay: the handlers take a *sftp.Request and the status codes are its
// ErrSSHFx values.

// bufSize holds the largest frame: a WRITE the guard accepts, or a DATA
// reply of maxReadWrite bytes.
const bufSize = 4 + maxFrame

// bufs are the large frame buffers of all sessions: one per session while
// it serves a READ or a WRITE, given back when the reply is written. An
// idle session holds none.
var bufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func getBuf() []byte { return (*bufs.Get().(*[]byte))[:bufSize] }

func putBuf(b []byte) {
	b = b[:cap(b)]
	if len(b) == bufSize {
		bufs.Put(&b)
	}
}

// maxList is how many names one READDIR reply carries (pkg/sftp's and
// OpenSSH's 100).
const maxList = 100

// openFile is what a handle stands for.
type openFile struct {
	path   string
	rd     io.ReaderAt   // READ handle
	wr     io.WriterAt   // WRITE handle
	list   sftp.ListerAt // OPENDIR handle
	listAt int64         // names already sent
}

// server is one session's loop state.
type server struct {
	g     *guard
	h     *handler
	files map[string]*openFile
	seq   int // handles are numbered from 1, as pkg/sftp did
}

// serve runs the loop until the stream ends or fails. At the end every
// handle still open is closed; an upload on one is cut, never committed.
func (s *server) serve() error {
	var err error
	for {
		var frame []byte
		var pooled bool
		frame, pooled, err = s.g.next()
		if err != nil {
			break
		}
		reply, rpooled, serr := s.serveOne(frame[4:])
		if err = serr; err == nil {
			err = s.g.send(reply)
		}
		if pooled {
			putBuf(frame)
		}
		if rpooled {
			putBuf(reply)
		}
		if err != nil {
			break
		}
	}
	cut := err
	if cut == io.EOF || cut == nil {
		cut = io.ErrUnexpectedEOF
	}
	for hd, f := range s.files {
		delete(s.files, hd)
		for _, x := range []any{f.rd, f.wr} {
			if t, ok := x.(interface{ TransferError(error) }); ok {
				t.TransferError(cut)
			}
		}
		closeFile(f)
	}
	return err
}

// serveOne is dispatch with a recover: a panic serving a request (a bug
// reached by a client's input; the handlers recover their own) is logged
// with its stack and ends this session, whose handles are then closed as
// at any end: an upload cut, never committed.
func (s *server) serveOne(b []byte) (reply []byte, rpooled bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.h.log.Error("panic serving an sftp request: closing the session", "type", firstByte(b), "panic", r, "stack", string(debug.Stack()))
			reply, rpooled, err = nil, false, fmt.Errorf("sftp: panic serving a request: %v", r)
		}
	}()
	reply, rpooled = s.dispatch(b)
	return reply, rpooled, nil
}

func closeFile(f *openFile) error {
	for _, c := range []any{f.rd, f.wr, f.list} {
		if c, ok := c.(io.Closer); ok {
			return c.Close()
		}
	}
	return nil
}

// dispatch serves one request the guard let through (b: type byte onward;
// the guard has checked every field's presence, and the handle's mode).
// A DATA reply is in a pooled buffer (rpooled), for the caller to give
// back once it is written.
func (s *server) dispatch(b []byte) (reply []byte, rpooled bool) {
	typ, id := b[0], binary.BigEndian.Uint32(b[1:5])
	d := decoder{b: b[5:]}
	switch typ {
	case fxpOpen:
		p := d.str()
		pflags := d.u32()
		d.u32() // the attributes' flags; nothing reads an OPEN's attributes
		return s.open(id, p, pflags, d.b), false
	case fxpOpendir:
		r := &sftp.Request{Method: "List", Filepath: cleanPath(d.str())}
		l, err := s.h.Filelist(r)
		if err != nil {
			return errorFrame(id, err), false
		}
		return s.newHandle(id, &openFile{path: r.Filepath, list: l}), false
	case fxpClose:
		hd := d.str()
		f := s.files[hd]
		if f == nil {
			return errorFrame(id, errBadHandle), false
		}
		delete(s.files, hd)
		return errorFrame(id, closeFile(f)), false
	case fxpRead:
		f := s.files[d.str()]
		off, n := d.u64(), d.u32()
		if f == nil || f.rd == nil {
			return errorFrame(id, errBadHandle), false
		}
		return s.read(id, f, off, n)
	case fxpWrite:
		f := s.files[d.str()]
		off := d.u64()
		data := d.data()
		if f == nil || f.wr == nil {
			return errorFrame(id, errBadHandle), false
		}
		// An offset of 2^63 or more arrives negative, as it did through
		// pkg/sftp: the upload refuses it and fails for good, so that
		// CLOSE cannot commit what came before.
		_, err := f.wr.WriteAt(data, int64(off))
		return errorFrame(id, err), false
	case fxpReaddir:
		f := s.files[d.str()]
		if f == nil || f.list == nil {
			return errorFrame(id, errBadHandle), false
		}
		return s.readdir(id, f), false
	case fxpFstat:
		f := s.files[d.str()]
		if f == nil {
			return errorFrame(id, errBadHandle), false
		}
		return s.stat(id, &sftp.Request{Method: "Stat", Filepath: f.path}), false
	case fxpStat:
		return s.stat(id, &sftp.Request{Method: "Stat", Filepath: cleanPath(d.str())}), false
	case fxpLstat:
		return s.stat(id, &sftp.Request{Method: "Lstat", Filepath: cleanPath(d.str())}), false
	case fxpSetstat, fxpFsetstat:
		var p string
		if typ == fxpSetstat {
			p = cleanPath(d.str())
		} else {
			f := s.files[d.str()]
			if f == nil {
				return errorFrame(id, errBadHandle), false
			}
			p = f.path
		}
		flags := d.u32()
		r := &sftp.Request{Method: "Setstat", Filepath: p, Flags: flags, Attrs: d.b}
		return errorFrame(id, s.h.Filecmd(r)), false
	case fxpRemove:
		r := &sftp.Request{Method: "Remove", Filepath: cleanPath(d.str())}
		return errorFrame(id, s.h.Filecmd(r)), false
	case fxpRename:
		from := cleanPath(d.str())
		to := cleanPath(d.str())
		r := &sftp.Request{Method: "Rename", Filepath: from, Target: to}
		return errorFrame(id, s.h.Filecmd(r)), false
	case fxpRealpath:
		p, err := s.h.RealPath(d.str())
		if err != nil {
			return errorFrame(id, err), false
		}
		e := newFrame(fxpName, id).u32(1).str(p).str(p).u32(0)
		return e.bytes(), false
	}
	// The guard answers every other type; this is the second line.
	return errorFrame(id, status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, nil)), false
}

// errBadHandle answers a request on a handle the loop does not know (the
// guard refuses those first): the text the guard's table fixes.
var errBadHandle = errors.New("bad file descriptor")

// cleanPath makes a client's path absolute and clean, as pkg/sftp did.
func cleanPath(p string) string {
	return path.Clean("/" + p)
}

func (s *server) newHandle(id uint32, f *openFile) []byte {
	s.seq++
	hd := strconv.Itoa(s.seq)
	s.files[hd] = f
	return newFrame(fxpHandle, id).str(hd).bytes()
}

// open serves OPEN: a write handle when the flags ask to write (the guard
// has refused READ with WRITE except for a fresh file), else a read
// handle, as the guard recorded it. CREAT, TRUNC and APPEND without WRITE
// are ignored: such an OPEN creates and empties nothing (pkg/sftp made it
// a write handle, whose CLOSE committed an empty file over the old one).
func (s *server) open(id uint32, p string, pflags uint32, attrs []byte) []byte {
	r := &sftp.Request{Filepath: cleanPath(p), Flags: pflags, Attrs: attrs}
	f := &openFile{path: r.Filepath}
	if pflags&fxfWrite != 0 {
		r.Method = "Put"
		w, err := s.h.Filewrite(r)
		if err != nil {
			return errorFrame(id, err)
		}
		f.wr = w
	} else {
		r.Method = "Get"
		rd, err := s.h.Fileread(r)
		if err != nil {
			return errorFrame(id, err)
		}
		f.rd = rd
	}
	return s.newHandle(id, f)
}

// read serves READ into a pooled buffer: the DATA frame's header, then the
// bytes, written with one Write.
func (s *server) read(id uint32, f *openFile, off uint64, n uint32) ([]byte, bool) {
	n = min(n, maxReadWrite)
	const hdr = 4 + 1 + 4 + 4
	buf := getBuf()
	got, err := f.rd.ReadAt(buf[hdr:hdr+int(n)], int64(off)) // 2^63 and more: negative, refused
	if err != nil && (err != io.EOF || got == 0) {
		putBuf(buf)
		return errorFrame(id, err), false
	}
	binary.BigEndian.PutUint32(buf[0:], uint32(hdr-4+got))
	buf[4] = fxpData
	binary.BigEndian.PutUint32(buf[5:], id)
	binary.BigEndian.PutUint32(buf[9:], uint32(got))
	return buf[:hdr+got], true
}

// readdir serves READDIR: up to maxList names with OpenSSH's long names,
// EOF once all were sent.
func (s *server) readdir(id uint32, f *openFile) []byte {
	infos := make([]os.FileInfo, maxList)
	n, err := f.list.ListAt(infos, f.listAt)
	f.listAt += int64(n)
	if err != nil && (err != io.EOF || n == 0) {
		return errorFrame(id, err)
	}
	now := time.Now()
	e := newFrame(fxpName, id).u32(uint32(n))
	for _, fi := range infos[:n] {
		e.str(fi.Name()).str(longName(fi, now))
		putAttrs(e, fi)
	}
	return e.bytes()
}

// stat serves STAT, LSTAT and FSTAT.
func (s *server) stat(id uint32, r *sftp.Request) []byte {
	l, err := s.h.Filelist(r)
	if err != nil {
		return errorFrame(id, err)
	}
	infos := make([]os.FileInfo, 1)
	n, err := l.ListAt(infos, 0)
	if err != nil && err != io.EOF {
		return errorFrame(id, err)
	}
	if n == 0 {
		return errorFrame(id, status(sftp.ErrSSHFxNoSuchFile, msgNotFound, nil))
	}
	e := newFrame(fxpAttrs, id)
	putAttrs(e, infos[0])
	return e.bytes()
}

// putAttrs appends a file's attributes: size, permissions and times (no
// owner: the device has none).
func putAttrs(e *encoder, fi os.FileInfo) {
	mt := uint32(fi.ModTime().Unix())
	e.u32(attrSize | attrPermissions | attrACModTime).u64(uint64(fi.Size())).
		u32(posixMode(fi.Mode())).u32(mt).u32(mt)
}

// posixMode is the SFTP (POSIX) mode of the modes the device reports.
func posixMode(m os.FileMode) uint32 {
	v := uint32(m.Perm())
	if m.IsDir() {
		return v | 0o040000
	}
	return v | 0o100000
}

// longName is the ls -l line of READDIR (the format of OpenSSH's
// sftp-server and pkg/sftp): owner and group 0, one link.
func longName(fi os.FileInfo, now time.Time) string {
	var perm [10]byte
	perm[0] = '-'
	if fi.IsDir() {
		perm[0] = 'd'
	}
	m := fi.Mode().Perm()
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		perm[1+i] = '-'
		if m&(1<<uint(8-i)) != 0 {
			perm[1+i] = rwx[i]
		}
	}
	mt := fi.ModTime()
	yearOrTime := mt.Format("15:04")
	if mt.Before(now.AddDate(0, -6, 0)) {
		yearOrTime = mt.Format("2006")
	}
	return fmt.Sprintf("%s %4d %-8s %-8s %8d %s %5s %s", perm[:], 1, "0", "0", fi.Size(), mt.Format("Jan 2"), yearOrTime, fi.Name())
}

// codes are pkg/sftp's status errors, which the handlers' statusErrors
// unwrap to, with their numbers.
var codes = []struct {
	err  error
	code uint32
}{
	{sftp.ErrSSHFxOk, fxOK},
	{sftp.ErrSSHFxEOF, fxEOF},
	{sftp.ErrSSHFxNoSuchFile, fxNoSuchFile},
	{sftp.ErrSSHFxPermissionDenied, fxPermDenied},
	{sftp.ErrSSHFxFailure, fxFailure},
	{sftp.ErrSSHFxBadMessage, fxBadMessage},
	{sftp.ErrSSHFxNoConnection, 6},
	{sftp.ErrSSHFxConnectionLost, 7},
	{sftp.ErrSSHFxOpUnsupported, fxOpUnsupported},
}

// errorFrame is the STATUS reply for err: OK for nil, else the error's
// text with the code a statusError carries, EOF for io.EOF, NO_SUCH_FILE
// for a missing file, or FAILURE (the guard's table replaces generic
// texts).
func errorFrame(id uint32, err error) []byte {
	if err == nil {
		return statusFrame(id, fxOK, "")
	}
	return statusFrame(id, codeOf(err), err.Error())
}

func codeOf(err error) uint32 {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return fxEOF
	case errors.Is(err, os.ErrNotExist):
		return fxNoSuchFile
	}
	return fxFailure
}
