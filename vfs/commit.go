package vfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
)

// Result tells a front end which of the manual's success texts applies.
type Result int

// The results of Rename.
const (
	Renamed Result = iota // "File renamed OK": same file system
	Moved                 // "File moved OK": copied to another file system and committed
)

// Rename renames a file within a file system, or moves it to another one as
// a copy plus an atomic commit followed by removal of the source (the
// manual's secure download: put to /mem, then rename into /dsk). An
// existing target is replaced atomically. Errors carry the Side they are
// about.
func (f *FS) Rename(s *Session, from, to string) (Result, error) {
	return f.move(s, from, to, false)
}

// Copy is Rename to another file system that keeps the source: the FTP
// gateway's SITE SAVEBUFFER with CHECK DELETE off (manual §2.1.4.4). The
// commit is the same, checks included.
func (f *FS) Copy(s *Session, from, to string) (Result, error) {
	return f.move(s, from, to, true)
}

func (f *FS) move(s *Session, from, to string, keep bool) (Result, error) {
	sm, sname, err := f.resolve(s, "rename", from)
	if err != nil {
		return 0, sided(err, SideSource)
	}
	dm, dname, err := f.resolve(s, "rename", to)
	if err != nil {
		return 0, sided(err, SideTarget)
	}
	if sm == nil || sname == "" {
		return 0, sided(newErr(KindInvalidPath, "rename", from, errRootFile), SideSource)
	}
	if dm == nil || dname == "" {
		return 0, sided(newErr(KindInvalidPath, "rename", to, errRootFile), SideTarget)
	}
	if sm == dm && sname == dname {
		return 0, newErr(KindIdentical, "rename", to, nil)
	}
	if keep && sm == dm {
		return 0, newErr(KindUnsupported, "copy", to, errors.New("copy within a file system"))
	}
	if err := f.allow(s, policy.OpRename, sm.name, from, "rename"); err != nil {
		return 0, sided(err, SideSource)
	}
	if err := f.allow(s, policy.OpRename, dm.name, to, "rename"); err != nil {
		return 0, sided(err, SideTarget)
	}
	if dm.kind == kindHost && dm != sm {
		if err := f.allow(s, policy.OpCommit, dm.name, to, "rename"); err != nil {
			return 0, sided(err, SideTarget)
		}
	}
	if sm.kind == kindMem {
		if err := f.memOwner(s, sname, "rename", from, false); err != nil {
			return 0, sided(err, SideSource)
		}
	}
	if dm.kind == kindMem {
		if err := f.memOwner(s, dname, "rename", to, true); err != nil {
			return 0, sided(err, SideTarget)
		}
	}
	if f.checked(s, dm, dname) {
		return f.verifiedRename(s, sm, sname, dm, dname, from, to, keep)
	}
	release, err := f.enter(sm, "rename", from)
	if err != nil {
		return 0, sided(err, SideSource)
	}
	defer release()
	if dm != sm {
		releaseT, err := f.enter(dm, "rename", to)
		if err != nil {
			return 0, sided(err, SideTarget)
		}
		defer releaseT()
	}
	unlock, err := f.lockWriter(sm, sname, "rename", from)
	if err != nil {
		return 0, sided(err, SideSource)
	}
	defer unlock()
	unlockT, err := f.lockWriter(dm, dname, "rename", to)
	if err != nil {
		return 0, sided(err, SideTarget)
	}
	defer unlockT()

	start := time.Now()
	var sum []byte
	var n int64
	res := Renamed
	if sm == dm {
		sum, n, err = f.renameWithin(sm, sname, dname, from, to)
	} else {
		res = Moved
		sum, n, err = f.commit(s, sm, sname, dm, dname, from, to, keep)
	}
	kind := "rename"
	if res == Moved {
		kind = "commit"
	}
	if err != nil {
		args := append(auditSession(s), "source", from, "target", to, "result", err.Error(),
			"duration_ms", durationMS(time.Since(start)))
		f.audit.Warn(kind, append(args, refusalFields(s, err)...)...)
		return 0, err
	}
	f.audit.Info(kind, append(auditSession(s), "source", from, "target", to, "bytes", n,
		"sha256", hex.EncodeToString(sum), "duration_ms", durationMS(time.Since(start)), "result", "ok")...)
	return res, nil
}

// renameWithin renames inside one file system and returns the SHA-256 of
// the file for the audit log.
func (f *FS) renameWithin(m *mount, oldName, newName, from, to string) ([]byte, int64, error) {
	switch m.kind {
	case kindHost:
		if err := m.host.rename(oldName, newName); err != nil {
			return nil, 0, sided(ioErr("rename", from, err), SideSource)
		}
	case kindMem:
		if err := f.mem.Rename(oldName, newName); err != nil {
			return nil, 0, sided(ioErr("rename", from, err), SideSource)
		}
	default:
		i, ok := m.sink.lookup(oldName)
		if !ok || !m.sink.remove(oldName) {
			return nil, 0, sided(newErr(KindNotFound, "rename", from, os.ErrNotExist), SideSource)
		}
		m.sink.store(newName, i.Size)
		return nil, i.Size, nil
	}
	r, err := f.openReader(m, newName, to)
	if err != nil {
		return nil, 0, nil // renamed; the digest is only for the log
	}
	defer r.close()
	h := sha256.New()
	n, _ := copyFrom(h, r)
	return h.Sum(nil), n, nil
}

// commit is the one path by which a file lands on a file system from
// another, checked or not: writeCommit, then removal of the source. If
// any step before the commit fails, the target is untouched and the
// source kept.
func (f *FS) commit(s *Session, sm *mount, sname string, dm *mount, dname, from, to string, keep bool) ([]byte, int64, error) {
	r, err := f.openReader(sm, sname, from)
	if err != nil {
		return nil, 0, sided(err, SideSource)
	}
	defer r.close()
	d, err := f.writeCommit(s, dm, dname, to, r, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	if !keep {
		f.removeSource(sm, sname, from)
	}
	sum := d.FileSHA256()
	return sum[:], d.Len(), nil
}

// writeCommit is the one atomic writer of every commit: it streams r into
// a new backend of the target (a temporary file on a host file system),
// feeding a digest of im in the same pass, runs check on the digest, and
// publishes the bytes with the source's modification time, between the
// two device-state records when im is a known image. On error the target
// is untouched.
func (f *FS) writeCommit(s *Session, dm *mount, dname, to string, r *Reader, im *image.Image, check func(*image.Digest) error) (*image.Digest, error) {
	b, err := f.newBackend(s, dm, dname, to)
	if err != nil {
		return nil, sided(err, SideTarget)
	}
	var out io.Writer = io.NewOffsetWriter(b, 0)
	if hw, ok := b.(*hostWriter); ok {
		out = &writebackWriter{f: hw.File}
	}
	d := im.NewDigest()
	src := sourceReader{io.NewSectionReader(r.ra, 0, r.size)}
	if _, err := image.Copy(&faultWriter{w: out, fault: f.fault}, src, d); err != nil {
		b.abort()
		if errors.Is(err, errReadSource) {
			return nil, sided(newErr(KindIO, "rename", "", err), SideSource)
		}
		return nil, sided(ioErr("rename", to, err), SideTarget)
	}
	if check != nil {
		if err := check(d); err != nil {
			b.abort()
			return nil, err
		}
	}
	hostPath := ""
	if dm.kind == kindHost {
		hostPath = dm.host.dir + "/" + dname
	}
	if err := f.recordCommit(hostPath, d.FileSHA256(), im, func() error { return b.commit(r.mod) }); err != nil {
		return nil, sided(ioErr("rename", to, err), SideTarget)
	}
	return d, nil
}

// sourceReader marks read errors as the source's.
type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = errors.Join(errReadSource, err)
	}
	return n, err
}

// removeSource ends a move. The target is committed; a failure to remove
// the source loses nothing, so it is logged, not returned as a failed move.
func (f *FS) removeSource(sm *mount, sname, from string) {
	var err error
	switch sm.kind {
	case kindHost:
		err = sm.host.remove(sname)
	case kindMem:
		err = f.mem.Remove(sname)
	default:
		sm.sink.remove(sname)
	}
	if err != nil {
		f.log.Warn("cannot remove moved source", "path", from, "error", err)
	}
}

// copyBuf is the chunk size of a commit copy: large enough that syscalls
// and hashing calls are not the cost.
const copyBuf = 1 << 20

// faultWriter reports StagePartial after the first write.
type faultWriter struct {
	w      io.Writer
	fault  func(Stage)
	called bool
}

func (f *faultWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if !f.called && n > 0 {
		f.called = true
		f.fault(StagePartial)
	}
	return n, err
}

var errReadSource = errors.New("read source")

// copyFrom streams r to w; staged files stream chunk by chunk without an
// extra buffer.
func copyFrom(w io.Writer, r *Reader) (int64, error) {
	// *os.File's WriteTo falls back to 32 KiB copies for a non-file writer.
	if wt, ok := r.ra.(io.WriterTo); ok {
		if _, isFile := r.ra.(*os.File); !isFile {
			return wt.WriteTo(w)
		}
	}
	buf := make([]byte, copyBuf)
	var off int64
	for off < r.size {
		n, err := r.ra.ReadAt(buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return off, werr
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return off, errors.Join(errReadSource, err)
		}
	}
	return off, nil
}
