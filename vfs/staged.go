package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/policy"
)

// BufferStats are the staging buffer's counters (the manual's TEMP-BUFF:
// MAX, REQ, BUSY).
type BufferStats struct{ Max, Req, Busy int64 }

// BufferStats returns the staging buffer's counters.
func (f *FS) BufferStats() BufferStats {
	st := f.mem.Stats()
	return BufferStats{Max: st.Max, Req: st.Req, Busy: st.Busy}
}

// Staged describes a staged file as FTP's buffer commands see it.
type Staged struct {
	Info
	Path    string // "/mem/NAME"
	Writing bool   // an upload to it is in progress
}

// Staged returns the newest staged file of s's user (DESIGN §3): a staged
// file belongs to its user, not to the connection that wrote it, so FTP's
// SITE STATBUFFER, SAVEBUFFER and CLEARBUFFER act on it from any of the
// user's connections. Other users' files are never returned. The newest
// may be incomplete (an upload cut short) or still being written; the
// caller refuses to commit those.
func (f *FS) Staged(s *Session) (Staged, bool) {
	var best Staged
	found := false
	if s == nil || s.User == nil || !s.User.Sees("mem") {
		return best, false
	}
	for _, mi := range f.mem.List() {
		if mi.Owner.User != s.User.Name {
			continue
		}
		if !found || mi.ModTime.After(best.ModTime) {
			best = Staged{Info: Info{Name: mi.Name, Size: mi.Size, ModTime: mi.ModTime, Incomplete: mi.Incomplete},
				Path: "/mem/" + mi.Name, Writing: mi.Writing}
			found = true
		}
	}
	return best, found
}

// Discard removes a staged file that the server refused (an image check
// failed as it arrived, or a direct-mode commit of it failed). It is the
// server's act, not the user's: it needs no delete permission and is
// audited as a discard with the reason.
func (f *FS) Discard(s *Session, p string, reason error) error {
	m, name, err := f.resolve(s, "discard", p)
	if err != nil {
		return err
	}
	if m == nil || m.kind != kindMem || name == "" {
		return newErr(KindInvalidPath, "discard", p, errors.New("only staged files are discarded"))
	}
	if err := f.mem.Remove(name); err != nil {
		return ioErr("discard", p, err)
	}
	f.audit.Warn("discard", "by", "server", "owner", s.User.Name, "session", s.ID,
		"remote_addr", s.Remote, "path", p, "reason", resultOf(reason))
	return nil
}

// SetModTime sets a file's modification time (SFTP SETSTAT of times, FTP
// MFMT). It needs the write permission on the file system. A time set on a
// staged file is kept when it is committed.
func (f *FS) SetModTime(s *Session, p string, t time.Time) error {
	m, name, err := f.resolve(s, "setstat", p)
	if err != nil {
		return err
	}
	if m == nil || name == "" {
		return newErr(KindUnsupported, "setstat", p, errors.New("times of a directory"))
	}
	if err := f.allow(s, policy.OpWrite, m.name, p, "setstat"); err != nil {
		return err
	}
	release, err := f.enter(m, "setstat", p)
	if err != nil {
		return err
	}
	defer release()
	switch m.kind {
	case kindHost:
		err = m.host.chtimes(name, t, t)
	case kindMem:
		if err = f.memOwner(s, name, "setstat", p, false); err == nil {
			err = f.mem.SetModTime(name, t)
		}
	default:
		if _, ok := m.sink.lookup(name); !ok {
			err = os.ErrNotExist
		}
		// A sink keeps no times; accepting them is what a client expects.
	}
	if err != nil {
		return ioErr("setstat", p, err)
	}
	return nil
}

// Backup copies every file of the file system fs into the host directory
// dir (created if missing), each one atomically (the FTP gateway's SITE
// BACKUP, manual §3.4). It needs the read permission on fs.
func (f *FS) Backup(s *Session, fs, dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return newErr(KindIO, "backup", dir, err)
	}
	infos, err := f.List(s, "/"+fs)
	if err != nil {
		return err
	}
	for _, i := range infos {
		p := "/" + fs + "/" + i.Name
		r, err := f.OpenRead(s, p)
		if err != nil {
			return err
		}
		err = atomicfile.WriteFrom(filepath.Join(dir, i.Name), io.NewSectionReader(r, 0, r.Size()), 0o640)
		r.Close()
		if err != nil {
			return ioErr("backup", p, err)
		}
	}
	return nil
}

// StagingPath is the path under which an upload named name is staged
// (DESIGN §3). Front ends stage through it and never build staging paths
// themselves.
func StagingPath(name string) string { return "/mem/" + name }

// Permanent reports whether fs is a host-backed file system, one that a
// staged file can be committed to (the manual's "permanent storage
// device"): not the root, the staging buffer or a test sink.
func (f *FS) Permanent(fs string) bool {
	m, ok := f.mounts[fs]
	return ok && m.kind == kindHost
}
