package vfs

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

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
		return Info{Name: name, Size: mi.Size, ModTime: mi.ModTime, Incomplete: mi.Incomplete}, nil
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
			out = append(out, Info{Name: mi.Name, Size: mi.Size, ModTime: mi.ModTime, Incomplete: mi.Incomplete})
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
	mod     time.Time // the file's modification time, kept by a commit
	close   func() error
	release func()
	done    func(n int64, d time.Duration)
	start   time.Time
	n       atomic.Int64
	once    sync.Once

	mu     sync.Mutex
	result string // "" (ok), "aborted" or "error": the first recorded
	cause  error
}

// Abort records that the download was ended before the client had what it
// asked for: the client aborted it, or its connection ended (result
// "aborted" in the audit). It does not close r.
func (r *Reader) Abort(cause error) { r.record("aborted", cause) }

// Fail records that the download failed (result "error"). A read error of
// the file is recorded by ReadAt itself. It does not close r.
func (r *Reader) Fail(err error) { r.record("error", err) }

func (r *Reader) record(result string, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.result == "" {
		r.result, r.cause = result, cause
	}
}

// outcome is the download's result for the audit, and the cause.
func (r *Reader) outcome() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.result == "" {
		return "ok", nil
	}
	return r.result, r.cause
}

// ReadAt reads from the file.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, newErr(KindOffset, "read", "", errNegativeOffset)
	}
	n, err := r.ra.ReadAt(p, off)
	r.n.Add(int64(n))
	if err != nil && err != io.EOF {
		r.Fail(err)
	}
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
		if r.done != nil {
			r.done(r.n.Load(), time.Since(r.start))
		}
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
		result, cause := r.outcome()
		args := append(auditSession(s), "direction", "download", "path", p, "bytes", n,
			"duration_ms", durationMS(d), "result", result)
		if result == "ok" {
			f.audit.Info("transfer", args...)
			return
		}
		if cause != nil {
			args = append(args, "error", cause.Error())
		}
		f.audit.Warn("transfer", args...)
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
		return &Reader{ra: file, size: fi.Size(), mod: fi.ModTime(), close: file.Close}, nil
	case kindMem:
		mf, err := f.mem.Open(name)
		if err != nil {
			return nil, ioErr("open", p, err)
		}
		return &Reader{ra: mf, size: mf.Size(), mod: mf.Info().ModTime, close: mf.Close}, nil
	default:
		i, ok := m.sink.lookup(name)
		if !ok {
			return nil, newErr(KindNotFound, "open", p, os.ErrNotExist)
		}
		rf := newRandomFile(m.name, name, i.Size)
		return &Reader{ra: rf, size: rf.size, close: rf.Close}, nil
	}
}

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
		if f.isActiveApp(m, name) && !f.tune.Load().delAct {
			return f.refused(s, newErr(KindDenied, "remove", p, ErrActiveApp))
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
	f.audit.Info("remove", append(auditSession(s), "path", p)...)
	return nil
}
