package vfs

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// WriteMode says what an upload keeps of the file it replaces (POSIX
// open(2) semantics, DESIGN §5).
type WriteMode int

// The write modes.
const (
	// WriteTrunc starts from an empty file (SFTP OPEN with TRUNC, FTP STOR).
	WriteTrunc WriteMode = iota
	// WriteKeep keeps the existing bytes where they are not rewritten
	// (SFTP OPEN without TRUNC, as OpenSSH scp sends; FTP REST + STOR
	// after Truncate). Nothing is copied up front: at Close the bytes the
	// client did not rewrite are filled in from the old file, so a client
	// that rewrites from offset 0 costs what a fresh upload costs.
	WriteKeep
	// WriteAppend is WriteKeep with WriteAt offsets counted from the end
	// of the existing file (SFTP APPEND, FTP APPE). The SFTP wire guard
	// renumbers an APPEND handle's writes in request order, so they land
	// where sshd's O_APPEND writes would.
	WriteAppend
)

// ErrIncomplete is the detail of a KindIncomplete error.
var (
	// ErrHole: bytes below the end of the file were never written.
	ErrHole = errors.New("upload has a hole: bytes below its end were never written")
	// ErrCut: the connection ended before the upload was closed.
	ErrCut = errors.New("upload cut by the connection")
	// ErrIncompleteSource: the staged file is an upload cut short.
	ErrIncompleteSource = errors.New("staged file is incomplete")
)

// backend is where an upload's bytes go until it is committed.
type backend interface {
	io.WriterAt
	Truncate(size int64) error
	// commit publishes the bytes under the target name; mtime zero means
	// the commit time.
	commit(mtime time.Time) error
	// suspend keeps the first size bytes as an incomplete file that the
	// owner can resume; it reports false where that is not possible (host
	// file systems, sinks), and the caller aborts instead.
	suspend(size int64) bool
	abort()
}

// Writer is one upload transaction (DESIGN §1, §3): a file open for
// writing. Nothing is visible under its name until Close commits it
// atomically. It is exact or nothing:
//
//   - the first failed write or truncate is sticky: later writes fail
//     with it, and Close returns it and discards the upload;
//   - it records which bytes were written, and Close refuses a file with
//     a hole (KindIncomplete, ErrHole);
//   - Cut (the connection ended) never commits: into /mem the written
//     prefix stays as an incomplete staged file that its owner can resume,
//     elsewhere the upload is discarded;
//   - Abort discards it. The previous file stays in every failing case.
//
// WriteAt is safe for concurrent use and accepts any offset, in any order.
type Writer struct {
	f     *FS
	s     *Session
	p     string
	b     backend
	max   int64 // file size limit, in backend offsets
	shift int64 // WriteAppend: WriteAt offset 0 is this backend offset

	// base holds the kept bytes of the old file (WriteKeep, WriteAppend)
	// until Close or Cut fills the ranges not rewritten; nil if none.
	base      io.ReaderAt
	baseClose func() error

	unlock  func()
	release func()
	start   time.Time
	n       atomic.Int64

	mu      sync.Mutex
	ext     extents   // written ranges, in backend offsets
	baseLen int64     // base bytes still part of the file: [0, baseLen)
	size    int64     // the file's length
	err     error     // the first failure: sticky
	mtime   time.Time // set by SetModTime; zero: the commit time
	ended   bool      // Close, Cut or Abort ran
	resumed bool      // it continues an incomplete staged file (immutable)
}

// WriteAt writes p at off (counted from the old end with WriteAppend).
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	if err := w.usable("write"); err != nil {
		w.mu.Unlock()
		return 0, err
	}
	if off < 0 || off > w.max-w.shift-int64(len(p)) {
		err := w.failLocked(newErr(KindOffset, "write", w.p, errFileTooLarge))
		w.mu.Unlock()
		return 0, err
	}
	w.mu.Unlock()
	off += w.shift
	n, err := w.b.WriteAt(p, off)
	w.n.Add(int64(n))
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		return n, w.failLocked(ioErr("write", w.p, err))
	}
	if w.ended {
		return n, newErr(KindIO, "write", w.p, os.ErrClosed)
	}
	if n > 0 {
		w.ext.add(off, off+int64(n))
		w.size = max(w.size, off+int64(n))
	}
	return n, nil
}

// ReadFromAt copies from r into the upload at off, at most n bytes, up to
// r's end, without a copy through user space where the kernel can do it:
// a host file fed from a TCP connection (splice(2), through os.File's
// ReadFrom). ok is false, with nothing read, where this upload cannot (the
// staging buffer, a test sink) or when the size limit is reached: the
// caller then copies through a buffer with WriteAt, which reports the
// limit. rerr is r's error (the connection failed or timed out), werr the
// upload's own, which is sticky as WriteAt's. eof: r has ended (fewer
// bytes came than were asked for: n, or what the size limit leaves).
//
// splice reports the errors of both ends alike; those of the file side
// (no space, quota, I/O, a read-only file system) are the upload's, all
// others the connection's.
func (w *Writer) ReadFromAt(r io.Reader, off, n int64) (written int64, eof, ok bool, rerr, werr error) {
	hw, isHost := w.b.(*hostWriter)
	if !isHost || n <= 0 {
		return 0, false, false, nil, nil
	}
	w.mu.Lock()
	if err := w.usable("write"); err != nil {
		w.mu.Unlock()
		return 0, false, true, nil, err
	}
	if off < 0 || off > w.max-w.shift {
		w.mu.Unlock()
		return 0, false, false, nil, nil
	}
	n = min(n, w.max-w.shift-off)
	w.mu.Unlock()
	if n == 0 {
		return 0, false, false, nil, nil
	}
	off += w.shift
	if _, err := hw.Seek(off, io.SeekStart); err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return 0, false, true, nil, w.failLocked(ioErr("write", w.p, err))
	}
	m, err := hw.ReadFrom(&io.LimitedReader{R: r, N: n})
	w.n.Add(m)
	w.mu.Lock()
	defer w.mu.Unlock()
	if m > 0 {
		w.ext.add(off, off+m)
		w.size = max(w.size, off+m)
	}
	switch {
	case err != nil && fileSideErr(err):
		return m, false, true, nil, w.failLocked(ioErr("write", w.p, err))
	case w.ended:
		return m, false, true, nil, newErr(KindIO, "write", w.p, os.ErrClosed)
	}
	return m, err == nil && m < n, true, err, nil
}

// fileSideErr tells the errors of a splice that come from the file.
func fileSideErr(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EIO, syscall.EROFS, syscall.EBADF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// usable returns the error that stops an operation. w.mu must be held.
func (w *Writer) usable(op string) error {
	if w.ended {
		return newErr(KindIO, op, w.p, os.ErrClosed)
	}
	return w.err
}

// failLocked records err as the upload's failure unless one is recorded,
// and returns the recorded one. w.mu must be held.
func (w *Writer) failLocked(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// Truncate sets the file's length (SFTP SETSTAT size, FTP REST). Bytes
// past it are dropped, also from the kept old file; growing the file
// leaves a hole, which Close refuses unless it is written.
func (w *Writer) Truncate(size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable("truncate"); err != nil {
		return err
	}
	if size < 0 || size > w.max {
		return w.failLocked(newErr(KindOffset, "truncate", w.p, errFileTooLarge))
	}
	if err := w.b.Truncate(size); err != nil {
		return w.failLocked(ioErr("truncate", w.p, err))
	}
	w.ext.clip(size)
	w.baseLen = min(w.baseLen, size)
	w.size = size
	return nil
}

// SetModTime sets the modification time the file gets when it is
// committed (SFTP SETSTAT/FSETSTAT of times).
func (w *Writer) SetModTime(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable("setstat"); err != nil {
		return err
	}
	w.mtime = t
	return nil
}

// Stat describes the file as written so far (SFTP FSTAT).
func (w *Writer) Stat() Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	mt := w.mtime
	if mt.IsZero() {
		mt = w.start
	}
	return Info{Name: w.p, Size: w.size, ModTime: mt}
}

// Size is the file's current length.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Close commits the file. It fails, and discards the upload, after a
// failed write, or if the file has a hole.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return newErr(KindIO, "close", w.p, os.ErrClosed)
	}
	w.ended = true
	err := w.err
	if err == nil {
		if gap, ok := w.holeLocked(); ok {
			err = newErr(KindIncomplete, "close", w.p, fmt.Errorf("%w (at %d of %d)", ErrHole, gap, w.size))
		}
	}
	if err == nil {
		err = w.fillLocked(w.size)
	}
	if err == nil {
		if cerr := w.b.commit(w.mtime); cerr != nil {
			err = ioErr("close", w.p, cerr)
		}
	} else {
		w.b.abort()
	}
	w.mu.Unlock()
	w.finish(err, resultOf(err))
	return err
}

// Cut ends an upload that its connection ended (SSH channel or TCP gone,
// FTP control connection gone). It is never committed: into /mem the bytes
// that arrived in one run from offset 0 stay as an incomplete staged file
// (mem.Store.Resume), anywhere else the upload is discarded.
func (w *Writer) Cut(cause error) {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.ended = true
	kept := false
	if _, staged := w.b.(memWriter); staged && w.err == nil {
		prefix := w.ext.prefix(w.baseLen)
		if prefix > 0 && w.fillLocked(prefix) == nil {
			kept = w.b.suspend(prefix)
		}
	}
	if !kept {
		w.b.abort()
	}
	w.mu.Unlock()
	result := "cut"
	if kept {
		result = "cut, kept incomplete"
	}
	w.finish(newErr(KindIncomplete, "close", w.p, errors.Join(ErrCut, cause)), result)
}

// Abort discards what was written. An incomplete staged file that the
// writer resumed is not lost: it stays incomplete, as after Cut. Abort
// does nothing after Close or Cut, so it can be deferred.
func (w *Writer) Abort() {
	if w.resumed {
		w.Cut(errors.New("aborted"))
		return
	}
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return
	}
	w.ended = true
	w.b.abort()
	w.mu.Unlock()
	w.finish(errors.New("aborted"), "aborted")
}

// holeLocked returns the first byte below the end never written. w.mu
// must be held.
func (w *Writer) holeLocked() (int64, bool) {
	for _, g := range w.ext.gaps(0, w.size) {
		if g[1] > w.baseLen {
			return max(g[0], w.baseLen), true
		}
	}
	return 0, false
}

// fillLocked copies the kept old bytes the client did not rewrite, below
// end, into the backend. w.mu must be held.
func (w *Writer) fillLocked(end int64) error {
	if w.base == nil {
		return nil
	}
	buf := []byte(nil)
	for _, g := range w.ext.gaps(0, min(end, w.baseLen)) {
		if buf == nil {
			buf = make([]byte, min(copyBuf, g[1]-g[0]))
		}
		for off := g[0]; off < g[1]; {
			k := int(min(int64(len(buf)), g[1]-off))
			n, err := w.base.ReadAt(buf[:k], off)
			if n < k {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return ioErr("close", w.p, err)
			}
			if _, err := w.b.WriteAt(buf[:k], off); err != nil {
				return ioErr("close", w.p, err)
			}
			off += int64(k)
		}
	}
	return nil
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (w *Writer) finish(err error, result string) {
	if w.baseClose != nil {
		_ = w.baseClose()
	}
	w.unlock()
	w.release()
	level := w.f.audit.Info
	if err != nil {
		level = w.f.audit.Warn
	}
	level("transfer", append(auditSession(w.s), "direction", "upload", "path", w.p, "bytes", w.n.Load(),
		"duration_ms", durationMS(time.Since(w.start)), "result", result)...)
}

// OpenWrite opens a file for writing in the given mode. A known file on a
// checked file system is refused ("Check target path ..."): it must be
// staged in /mem and committed through the checks.
func (f *FS) OpenWrite(s *Session, p string, mode WriteMode) (*Writer, error) {
	m, name, err := f.resolve(s, "open", p)
	if err != nil {
		return nil, err
	}
	if m == nil || name == "" {
		return nil, newErr(KindIsDir, "open", p, nil)
	}
	if err := f.allow(s, policy.OpWrite, m.name, p, "open"); err != nil {
		return nil, err
	}
	if mode != WriteTrunc {
		// Keeping the old bytes reads them.
		if err := f.allow(s, policy.OpRead, m.name, p, "open"); err != nil {
			return nil, err
		}
	}
	if f.checked(s, m, name) {
		return nil, f.refused(s, errTargetPath("open", p, name))
	}
	release, err := f.enter(m, "open", p)
	if err != nil {
		return nil, err
	}
	unlock, err := f.lockWriter(m, name, "open", p)
	if err != nil {
		release()
		return nil, err
	}
	w := &Writer{f: f, s: s, p: p, max: f.maxFile, unlock: unlock, release: release, start: time.Now()}
	if m.kind == kindMem {
		w.max = math.MaxInt64 // the staging buffer bounds itself: "no space"
	}
	if err := f.openBackend(w, m, name, mode); err != nil {
		unlock()
		release()
		return nil, err
	}
	if mode == WriteAppend {
		w.shift = w.size
	}
	return w, nil
}

// openBackend gives w its backend and, for WriteKeep and WriteAppend, the
// old bytes it keeps.
func (f *FS) openBackend(w *Writer, m *mount, name string, mode WriteMode) error {
	s, p := w.s, w.p
	if m.kind == kindMem {
		if err := f.memOwner(s, name, "open", p, true); err != nil {
			return err
		}
		if mode != WriteTrunc {
			// An upload cut short is resumed in place: no copy.
			if mw, err := f.mem.Resume(name); err == nil {
				w.b = memWriter{mw}
				w.resumed = true
				w.size = mw.Size()
				w.ext.add(0, w.size)
				return nil
			}
		}
	}
	if mode != WriteTrunc {
		r, err := f.openReader(m, name, p)
		switch {
		case err == nil:
			w.base, w.baseClose, w.baseLen, w.size = r.ra, r.close, r.size, r.size
		case KindOf(err) != KindNotFound:
			return err
		}
	}
	b, err := f.newBackend(s, m, name, p)
	if err != nil {
		if w.baseClose != nil {
			_ = w.baseClose()
		}
		return err
	}
	if w.size > 0 {
		// The backend starts empty; give it the file's length now, the
		// bytes at Close.
		if err := b.Truncate(w.size); err != nil {
			b.abort()
			_ = w.baseClose()
			return ioErr("open", p, err)
		}
	}
	w.b = b
	return nil
}

func (f *FS) newBackend(s *Session, m *mount, name, p string) (backend, error) {
	switch m.kind {
	case kindHost:
		file, tmp, err := m.host.createTemp()
		if err != nil {
			return nil, ioErr("open", p, err)
		}
		return &hostWriter{File: file, h: m.host, tmp: tmp, name: name, fault: f.fault}, nil
	case kindMem:
		if err := f.memOwner(s, name, "open", p, true); err != nil {
			return nil, err
		}
		mw, err := f.mem.Create(name, mem.Owner{User: s.User.Name, Session: s.ID})
		if err != nil {
			return nil, ioErr("open", p, err)
		}
		return memWriter{mw}, nil
	default:
		return &sinkWriter{s: m.sink, name: name}, nil
	}
}

// memOwner enforces DESIGN §3: only the owner of a staged file or a
// supervisor may replace, resume, commit or delete it.
func (f *FS) memOwner(s *Session, name, op, p string, mayBeMissing bool) error {
	mi, err := f.mem.Stat(name)
	if err != nil {
		if mayBeMissing && errors.Is(err, mem.ErrNotFound) {
			return nil
		}
		return ioErr(op, p, err)
	}
	if mi.Writing {
		return newErr(KindBusy, op, p, mem.ErrBusy)
	}
	if mi.Owner.User != s.User.Name && !s.User.IsSupervisor() {
		return f.refused(s, newErr(KindDenied, op, p, errors.New("staged by another user")))
	}
	return nil
}

type hostWriter struct {
	*os.File
	h         *hostFS
	tmp, name string
	fault     func(Stage)
}

func (w *hostWriter) commit(mtime time.Time) error {
	return w.h.commitTemp(w.File, w.tmp, w.name, mtime, w.fault)
}
func (w *hostWriter) suspend(int64) bool { return false }
func (w *hostWriter) abort()             { w.h.abortTemp(w.File, w.tmp) }

type memWriter struct{ *mem.Writer }

func (w memWriter) commit(mtime time.Time) error { return w.Writer.CloseAt(mtime) }
func (w memWriter) suspend(size int64) bool      { return w.Writer.Suspend(size) == nil }
func (w memWriter) abort()                       { w.Writer.Abort() }

func (w *sinkWriter) commit(time.Time) error { w.s.store(w.name, w.size()); return nil }
func (w *sinkWriter) suspend(int64) bool     { return false }
func (w *sinkWriter) abort()                 {}

// extents is a sorted list of disjoint, non-adjacent written ranges
// [start, end). Uploads write in order or nearly (pipelined requests on
// a few workers), so it stays a handful of entries long.
type extents struct{ r [][2]int64 }

func (e *extents) add(start, end int64) {
	if start >= end {
		return
	}
	// First range that ends at or after start: it may merge.
	i := sort.Search(len(e.r), func(i int) bool { return e.r[i][1] >= start })
	j := i
	for j < len(e.r) && e.r[j][0] <= end {
		start, end = min(start, e.r[j][0]), max(end, e.r[j][1])
		j++
	}
	if i == j {
		e.r = append(e.r, [2]int64{})
		copy(e.r[i+1:], e.r[i:])
		e.r[i] = [2]int64{start, end}
		return
	}
	e.r[i] = [2]int64{start, end}
	e.r = append(e.r[:i+1], e.r[j:]...)
}

// clip drops everything at or past n.
func (e *extents) clip(n int64) {
	k := 0
	for _, r := range e.r {
		if r[0] >= n {
			break
		}
		r[1] = min(r[1], n)
		e.r[k] = r
		k++
	}
	e.r = e.r[:k]
}

// gaps returns the ranges of [lo, hi) not covered.
func (e *extents) gaps(lo, hi int64) [][2]int64 {
	var out [][2]int64
	pos := lo
	for _, r := range e.r {
		if r[1] <= pos {
			continue
		}
		if r[0] >= hi {
			break
		}
		if r[0] > pos {
			out = append(out, [2]int64{pos, r[0]})
		}
		pos = max(pos, r[1])
	}
	if pos < hi {
		out = append(out, [2]int64{pos, hi})
	}
	return out
}

// prefix is the end of the run covered from offset 0, counting [0, base)
// as covered.
func (e *extents) prefix(base int64) int64 {
	end := base
	for _, r := range e.r {
		if r[0] > end {
			break
		}
		end = max(end, r[1])
	}
	return end
}
