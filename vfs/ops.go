package vfs

import (
	"errors"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// Stat describes "/", a file system, or a file.
func (f *FS) Stat(s *Session, p string) (Info, error) {
	m, name, err := f.resolve(s, "stat", p)
	if err != nil {
		return Info{}, err
	}
	if m == nil {
		return Info{Name: "/", IsDir: true, ModTime: f.started}, nil
	}
	if err := f.allow(s, policy.OpList, m.name, p, "stat"); err != nil {
		return Info{}, err
	}
	if name == "" {
		return Info{Name: m.name, IsDir: true, ModTime: f.started}, nil
	}
	switch m.kind {
	case kindHost:
		fi, err := m.host.stat(name)
		if err != nil {
			return Info{}, ioErr("stat", p, err)
		}
		return Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
	case kindMem:
		mi, err := f.mem.Stat(name)
		if err != nil {
			return Info{}, ioErr("stat", p, err)
		}
		return Info{Name: name, Size: mi.Size, ModTime: mi.ModTime}, nil
	default:
		i, ok := m.sink.lookup(name)
		if !ok {
			return Info{}, newErr(KindNotFound, "stat", p, os.ErrNotExist)
		}
		return i, nil
	}
}

// List returns the entries of "/" (the visible file systems) or of a file
// system.
func (f *FS) List(s *Session, p string) ([]Info, error) {
	m, name, err := f.resolve(s, "list", p)
	if err != nil {
		return nil, err
	}
	if m == nil {
		var out []Info
		for _, n := range f.order {
			if s.User.Sees(n) {
				out = append(out, Info{Name: n, IsDir: true, ModTime: f.started})
			}
		}
		return out, nil
	}
	if name != "" {
		return nil, newErr(KindInvalidPath, "list", p, errNested)
	}
	if err := f.allow(s, policy.OpList, m.name, p, "list"); err != nil {
		return nil, err
	}
	release, err := f.enter(m, "list", p)
	if err != nil {
		return nil, err
	}
	defer release()
	switch m.kind {
	case kindHost:
		l, err := m.host.list()
		if err != nil {
			return nil, ioErr("list", p, err)
		}
		return l, nil
	case kindMem:
		var out []Info
		for _, mi := range f.mem.List() {
			out = append(out, Info{Name: mi.Name, Size: mi.Size, ModTime: mi.ModTime})
		}
		return out, nil
	default:
		return m.sink.list(), nil
	}
}

// Reader is a file open for reading. ReadAt is safe for concurrent use and
// returns io.EOF at the end of the file.
type Reader struct {
	ra      io.ReaderAt
	size    int64
	close   func() error
	release func()
	done    func(n int64, d time.Duration)
	start   time.Time
	n       atomic.Int64
	once    sync.Once
}

// ReadAt reads from the file.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, newErr(KindOffset, "read", "", errNegativeOffset)
	}
	n, err := r.ra.ReadAt(p, off)
	r.n.Add(int64(n))
	return n, err
}

// CopyTo writes the file from off to its end to w. From a host file to a
// TCP connection this is sendfile(2): the bytes never enter user space.
func (r *Reader) CopyTo(w io.Writer, off int64) (int64, error) {
	if off < 0 || off > r.size {
		return 0, newErr(KindOffset, "read", "", errNegativeOffset)
	}
	if f, ok := r.ra.(*os.File); ok {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return 0, ioErr("read", "", err)
		}
		n, err := io.Copy(w, io.LimitReader(f, r.size-off))
		r.n.Add(n)
		return n, err
	}
	return io.CopyBuffer(w, io.NewSectionReader(r, off, r.size-off), make([]byte, 256<<10))
}

// Size is the file's length when it was opened.
func (r *Reader) Size() int64 { return r.size }

// Close ends the read and logs the transfer.
func (r *Reader) Close() error {
	var err error
	r.once.Do(func() {
		err = r.close()
		r.release()
		r.done(r.n.Load(), time.Since(r.start))
	})
	return err
}

// OpenRead opens a file for reading.
func (f *FS) OpenRead(s *Session, p string) (*Reader, error) {
	m, name, err := f.resolve(s, "open", p)
	if err != nil {
		return nil, err
	}
	if m == nil || name == "" {
		return nil, newErr(KindIsDir, "open", p, nil)
	}
	if err := f.allow(s, policy.OpRead, m.name, p, "open"); err != nil {
		return nil, err
	}
	release, err := f.enter(m, "open", p)
	if err != nil {
		return nil, err
	}
	r, err := f.openReader(m, name, p)
	if err != nil {
		release()
		return nil, err
	}
	r.release = release
	r.start = time.Now()
	r.done = func(n int64, d time.Duration) {
		f.audit.Info("transfer", "direction", "download", "user", s.User.Name, "session", s.ID,
			"remote_addr", s.Remote, "path", p, "bytes", n, "duration", d)
	}
	return r, nil
}

func (f *FS) openReader(m *mount, name, p string) (*Reader, error) {
	switch m.kind {
	case kindHost:
		file, err := m.host.open(name)
		if err != nil {
			return nil, ioErr("open", p, err)
		}
		fi, err := file.Stat()
		if err != nil {
			file.Close()
			return nil, ioErr("open", p, err)
		}
		return &Reader{ra: file, size: fi.Size(), close: file.Close}, nil
	case kindMem:
		mf, err := f.mem.Open(name)
		if err != nil {
			return nil, ioErr("open", p, err)
		}
		return &Reader{ra: mf, size: mf.Size(), close: mf.Close}, nil
	default:
		i, ok := m.sink.lookup(name)
		if !ok {
			return nil, newErr(KindNotFound, "open", p, os.ErrNotExist)
		}
		rf := newRandomFile(m.name, name, i.Size)
		return &Reader{ra: rf, size: rf.size, close: rf.Close}, nil
	}
}

// backend is where a Writer's bytes go until commit.
type backend interface {
	io.WriterAt
	Truncate(size int64) error
	commit() error
	abort()
}

// Writer is a file open for writing. Nothing is visible under its name
// until Close commits it atomically; Abort (or a failed Close) leaves the
// previous file, if any, untouched. WriteAt is safe for concurrent use and
// accepts any offset, in any order.
type Writer struct {
	b       backend
	max     int64 // file size limit
	unlock  func()
	release func()
	done    func(n int64, d time.Duration, err error)
	start   time.Time
	n       atomic.Int64
	once    sync.Once
}

// WriteAt writes p at off.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > w.max-int64(len(p)) {
		return 0, newErr(KindOffset, "write", "", errFileTooLarge)
	}
	n, err := w.b.WriteAt(p, off)
	w.n.Add(int64(n))
	if err != nil {
		return n, ioErr("write", "", err)
	}
	return n, nil
}

// Truncate sets the file's length.
func (w *Writer) Truncate(size int64) error {
	if size < 0 || size > w.max {
		return newErr(KindOffset, "truncate", "", errFileTooLarge)
	}
	if err := w.b.Truncate(size); err != nil {
		return ioErr("truncate", "", err)
	}
	return nil
}

// Close commits the file.
func (w *Writer) Close() error {
	err := os.ErrClosed
	w.once.Do(func() {
		err = w.b.commit()
		w.finish(err)
	})
	if err != nil {
		return ioErr("close", "", err)
	}
	return nil
}

// Abort discards what was written.
func (w *Writer) Abort() {
	w.once.Do(func() {
		w.b.abort()
		w.finish(errors.New("aborted"))
	})
}

func (w *Writer) finish(err error) {
	w.unlock()
	w.release()
	w.done(w.n.Load(), time.Since(w.start), err)
}

// OpenWrite opens a file for writing. The result is always a fresh file,
// whatever the client's flags (OpenSSH scp opens without TRUNC).
func (f *FS) OpenWrite(s *Session, p string) (*Writer, error) {
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
	if f.checked(s, m, name) {
		return nil, errTargetPath("open", p, name)
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
	b, err := f.newBackend(s, m, name, p)
	if err != nil {
		unlock()
		release()
		return nil, err
	}
	w := &Writer{b: b, max: f.maxFile, unlock: unlock, release: release, start: time.Now()}
	if m.kind == kindMem {
		w.max = math.MaxInt64 // the staging buffer bounds itself: "no space"
	}
	w.done = func(n int64, d time.Duration, err error) {
		result := "ok"
		if err != nil {
			result = err.Error()
		}
		f.audit.Info("transfer", "direction", "upload", "user", s.User.Name, "session", s.ID,
			"remote_addr", s.Remote, "path", p, "bytes", n, "duration", d, "result", result)
	}
	return w, nil
}

// OpenWriteKeep opens a file for writing like OpenWrite, keeping the first
// keep bytes of the existing file (FTP REST + STOR, and APPE with keep =
// the file's size). The result is still a fresh file committed atomically
// on Close. keep larger than the file is refused (KindOffset).
func (f *FS) OpenWriteKeep(s *Session, p string, keep int64) (*Writer, error) {
	if keep == 0 {
		return f.OpenWrite(s, p)
	}
	if err := f.allowRead(s, p); err != nil {
		return nil, err
	}
	w, err := f.OpenWrite(s, p)
	if err != nil {
		return nil, err
	}
	m, name, _ := f.resolve(s, "open", p)
	r, err := f.openReader(m, name, p)
	if err != nil {
		w.Abort()
		return nil, err
	}
	defer r.close()
	if keep < 0 || keep > r.size {
		w.Abort()
		return nil, newErr(KindOffset, "open", p, errFileTooLarge)
	}
	if _, err := copyFrom(io.NewOffsetWriter(limitWriterAt{w, keep}, 0), &Reader{ra: r.ra, size: keep}); err != nil {
		w.Abort()
		return nil, ioErr("open", p, err)
	}
	return w, nil
}

// limitWriterAt drops writes at or past n (WriteTo may stream a whole
// chunk past the kept prefix).
type limitWriterAt struct {
	w *Writer
	n int64
}

func (l limitWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off >= l.n {
		return len(p), nil
	}
	q := p
	if off+int64(len(q)) > l.n {
		q = q[:l.n-off]
	}
	if _, err := l.w.WriteAt(q, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// allowRead checks that s may read p (keeping a prefix reads it).
func (f *FS) allowRead(s *Session, p string) error {
	m, _, err := f.resolve(s, "open", p)
	if err != nil {
		return err
	}
	if m == nil {
		return newErr(KindIsDir, "open", p, nil)
	}
	return f.allow(s, policy.OpRead, m.name, p, "open")
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
// supervisor may replace, commit or delete it.
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
		return newErr(KindDenied, op, p, errors.New("staged by another user"))
	}
	return nil
}

type hostWriter struct {
	*os.File
	h         *hostFS
	tmp, name string
	fault     func(Stage)
}

func (w *hostWriter) commit() error { return w.h.commitTemp(w.File, w.tmp, w.name, w.fault) }
func (w *hostWriter) abort()        { w.h.abortTemp(w.File, w.tmp) }

type memWriter struct{ *mem.Writer }

func (w memWriter) commit() error { return w.Writer.Close() }
func (w memWriter) abort()        { w.Writer.Abort() }

func (w *sinkWriter) commit() error { w.s.store(w.name, w.size()); return nil }
func (w *sinkWriter) abort()        {}

// Remove deletes a file.
func (f *FS) Remove(s *Session, p string) error {
	m, name, err := f.resolve(s, "remove", p)
	if err != nil {
		return err
	}
	if m == nil || name == "" {
		return newErr(KindIsDir, "remove", p, nil)
	}
	if err := f.allow(s, policy.OpDelete, m.name, p, "remove"); err != nil {
		return err
	}
	release, err := f.enter(m, "remove", p)
	if err != nil {
		return err
	}
	defer release()
	unlock, err := f.lockWriter(m, name, "remove", p)
	if err != nil {
		return err
	}
	defer unlock()
	switch m.kind {
	case kindHost:
		if f.isActiveApp(m, name) && !f.delAct {
			return newErr(KindDenied, "remove", p, ErrActiveApp)
		}
		err = m.host.remove(name)
	case kindMem:
		if err = f.memOwner(s, name, "remove", p, false); err == nil {
			err = f.mem.Remove(name)
		}
	default:
		if !m.sink.remove(name) {
			err = os.ErrNotExist
		}
	}
	if err != nil {
		return ioErr("remove", p, err)
	}
	f.audit.Info("remove", "user", s.User.Name, "session", s.ID, "remote_addr", s.Remote, "path", p)
	return nil
}
