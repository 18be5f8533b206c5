// Package sftphandler serves the SFTP subsystem (protocol version 3, with
// the manual's changes of §1.6–1.7) over the vfs device tree, using
// its own serve loop behind a wire guard (DESIGN §5) and pkg/sftp's
// request types.
package sftphandler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkg/sftp"
	"github.com/sluice/sluice/vfs"
)

// Store is what the handlers need of the device tree.
type Store interface {
	Stat(s *vfs.Session, p string) (vfs.Info, error)
	List(s *vfs.Session, p string) ([]vfs.Info, error)
	OpenRead(s *vfs.Session, p string) (*vfs.Reader, error)
	OpenWrite(s *vfs.Session, p string, mode vfs.WriteMode) (*vfs.Writer, error)
	SetModTime(s *vfs.Session, p string, t time.Time) error
	Remove(s *vfs.Session, p string) error
	Rename(s *vfs.Session, from, to string) (vfs.Result, error)
	// Verdicts and DeviceState fill the read-only files of "/"
	// (virtual.go).
	Verdicts(s *vfs.Session) []vfs.Verdict
	DeviceState(s *vfs.Session) vfs.DeviceState
}

// Options configure one SFTP session.
type Options struct {
	// WinSCPCompat answers WinSCP's REMOVE of the active application
	// before its overwriting RENAME with OK and keeps the file until the
	// verified RENAME replaces it.
	WinSCPCompat bool
	Logger       hclog.Logger
}

// Serve runs the SFTP subsystem on ch for sess until the client ends it,
// the channel fails, or ctx is cancelled. It closes ch.
func Serve(ctx context.Context, ch io.ReadWriteCloser, store Store, sess *vfs.Session, opt Options) error {
	log := opt.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	g := newGuard(ch, log)
	h := &handler{store: store, sess: sess, log: log, compat: opt.WinSCPCompat, writers: map[string]*vfs.Writer{}}
	srv := &server{g: g, h: h, files: map[string]*openFile{}}
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	err := srv.serve()
	g.Close()
	if err == io.EOF {
		return nil
	}
	return err
}

// handler serves the requests of one session, as pkg/sftp's four handler
// interfaces (FileReader, FileWriter, FileCmder, FileLister) describe
// them; the serve loop calls it.
type handler struct {
	store  Store
	sess   *vfs.Session
	log    hclog.Logger
	compat bool // WinSCP compatibility

	mu      sync.Mutex
	writers map[string]*vfs.Writer // open writers by path: FSTAT and FSETSTAT name the path, not the handle
	views   views                  // open read-only files of "/" by path (virtual.go)
}

// writer returns the session's open writer on p, or nil.
func (h *handler) writer(p string) *vfs.Writer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writers[p]
}

// Fileread opens a file for READ.
func (h *handler) Fileread(r *sftp.Request) (_ io.ReaderAt, err error) {
	defer h.recoverTo(&err)
	if p, ok := viewPath(r.Filepath); ok {
		return h.openView(p), nil
	}
	rd, err := h.store.OpenRead(h.sess, r.Filepath)
	if err != nil {
		h.log.Debug("open for read refused", "path", r.Filepath, "error", err)
		return nil, toStatus(opOpen, err)
	}
	return &readHandle{r: rd, h: h}, nil
}

// Filewrite opens a file for WRITE. The guard has already refused OPEN
// with both or neither of READ and WRITE.
func (h *handler) Filewrite(r *sftp.Request) (_ io.WriterAt, err error) {
	defer h.recoverTo(&err)
	if p, ok := viewPath(r.Filepath); ok {
		return nil, errViewReadOnly(p)
	}
	fl := r.Pflags()
	if fl.Excl {
		if _, err := h.store.Stat(h.sess, r.Filepath); err == nil {
			return nil, status(sftp.ErrSSHFxFailure, msgOpenFailed, nil)
		}
	}
	// POSIX open(2): without TRUNC the existing bytes stay (OpenSSH scp,
	// reput), APPEND appends (the guard renumbers its WRITEs).
	mode := vfs.WriteKeep
	switch {
	case fl.Trunc:
		mode = vfs.WriteTrunc
	case fl.Append:
		mode = vfs.WriteAppend
	}
	w, err := h.store.OpenWrite(h.sess, r.Filepath, mode)
	if err != nil {
		h.log.Debug("open for write refused", "path", r.Filepath, "error", err)
		return nil, toStatus(opOpen, err)
	}
	h.mu.Lock()
	h.writers[r.Filepath] = w
	h.mu.Unlock()
	return &writeHandle{w: w, h: h, path: r.Filepath}, nil
}

// Filecmd handles RENAME, REMOVE and the FSETSTAT{size} the guard lets
// through; the rest is refused as the manual says.
func (h *handler) Filecmd(r *sftp.Request) (err error) {
	defer h.recoverTo(&err)
	if p, ok := viewPath(r.Filepath); ok {
		return errViewReadOnly(p)
	}
	if p, ok := viewPath(r.Target); ok && r.Method == "Rename" {
		return errViewReadOnly(p)
	}
	switch r.Method {
	case "Rename":
		res, err := h.store.Rename(h.sess, r.Filepath, r.Target)
		if err != nil {
			h.log.Debug("rename refused", "source", r.Filepath, "target", r.Target, "error", err)
			return toStatus(opRename, err)
		}
		if res == vfs.Moved {
			return status(sftp.ErrSSHFxOk, msgMoved, nil)
		}
		return status(sftp.ErrSSHFxOk, msgRenamed, nil)
	case "Remove":
		if err := h.store.Remove(h.sess, r.Filepath); err != nil {
			if h.compat && errors.Is(err, vfs.ErrActiveApp) {
				// WinSCP overwrites by REMOVE then RENAME; the active
				// application stays until the verified RENAME replaces it.
				h.log.Info("remove of the active application deferred until replaced", "path", r.Filepath)
				return status(sftp.ErrSSHFxOk, msgKeptActive, nil)
			}
			h.log.Debug("remove refused", "path", r.Filepath, "error", err)
			return toStatus(opRemove, err)
		}
		return status(sftp.ErrSSHFxOk, msgRemoved, nil)
	case "Setstat":
		return h.setstat(r)
	}
	// Mkdir, Rmdir, Symlink, Link, PosixRename: the guard answers these
	// first; this is the second line.
	return status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, nil)
}

// recoverTo turns a panic in a handler into a FAILURE reply and an error
// log: a panic ends neither the process nor the session; this is the
// per-request equivalent of the per-connection recover in sshd.
func (h *handler) recoverTo(err *error) {
	if r := recover(); r != nil {
		h.log.Error("panic in sftp handler", "panic", r, "stack", string(debug.Stack()))
		*err = status(sftp.ErrSSHFxFailure, msgOpenFailed, fmt.Errorf("panic: %v", r))
	}
}

// Filelist serves OPENDIR/READDIR ("List") and STAT, LSTAT and FSTAT
// ("Stat", "Lstat": the device has no links).
func (h *handler) Filelist(r *sftp.Request) (_ sftp.ListerAt, err error) {
	defer h.recoverTo(&err)
	switch r.Method {
	case "List":
		infos, err := h.store.List(h.sess, r.Filepath)
		if err != nil {
			return nil, toStatus(opOpendir, err)
		}
		l := make(lister, len(infos))
		for i, in := range infos {
			l[i] = fileInfo{in}
		}
		if path.Clean("/"+r.Filepath) == "/" {
			l = append(l, h.viewEntries()...)
		}
		return l, nil
	case "Stat", "Lstat":
		// FSTAT arrives here too, with the handle's path: a file this
		// session is writing is described as written so far (sshfs
		// creates every file through FSTAT).
		if p, ok := viewPath(r.Filepath); ok {
			return lister{h.statView(p)}, nil
		}
		if w := h.writer(r.Filepath); w != nil {
			in := w.Stat()
			in.Name = path.Base(r.Filepath)
			return lister{fileInfo{in}}, nil
		}
		in, err := h.store.Stat(h.sess, r.Filepath)
		if err != nil {
			return nil, toStatus(opStat, err)
		}
		return lister{fileInfo{in}}, nil
	}
	return nil, status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, nil)
}

// RealPath cleans a path against "/" and refuses paths below a file
// system's root, which cannot exist (file systems are flat).
func (h *handler) RealPath(p string) (string, error) {
	p = path.Clean("/" + p)
	if v, ok := viewPath(p); ok {
		return v, nil
	}
	if _, _, err := vfs.Split(p, 1<<16); err != nil {
		return "", status(sftp.ErrSSHFxNoSuchFile, msgInvalidPath, err)
	}
	return p, nil
}

type lister []os.FileInfo

func (l lister) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}

// readHandle adapts a vfs.Reader to a READ handle.
type readHandle struct {
	r *vfs.Reader
	h *handler
}

func (h *readHandle) ReadAt(p []byte, off int64) (n int, err error) {
	defer h.h.recoverTo(&err)
	n, err = h.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		return n, toStatus(opRead, err)
	}
	return n, err
}

func (h *readHandle) Close() error { return h.r.Close() }

// writeHandle adapts a vfs.Writer: CLOSE commits, a broken connection
// aborts.
type writeHandle struct {
	w    *vfs.Writer
	h    *handler
	path string
	mu   sync.Mutex
	err  error // set by TransferError
}

func (h *writeHandle) WriteAt(p []byte, off int64) (n int, err error) {
	defer h.h.recoverTo(&err)
	n, err = h.w.WriteAt(p, off)
	if err != nil {
		return n, toStatus(opWrite, err)
	}
	return n, nil
}

// TransferError is called by the serve loop when the session ends with the
// handle open: the upload is incomplete and must not be committed.
func (h *writeHandle) TransferError(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

func (h *writeHandle) Close() error {
	h.h.mu.Lock()
	if h.h.writers[h.path] == h.w {
		delete(h.h.writers, h.path)
	}
	h.h.mu.Unlock()
	h.mu.Lock()
	failed := h.err
	h.mu.Unlock()
	if failed != nil {
		// The session ended with the handle open: never a commit. Into
		// /mem the upload stays incomplete for its owner to resume.
		h.w.Cut(failed)
		h.h.log.Info("upload cut by the connection", "path", h.path, "error", failed)
		return nil
	}
	if err := h.w.Close(); err != nil {
		h.h.log.Warn("commit on close failed", "path", h.path, "error", err)
		return toStatus(opClose, err)
	}
	return nil
}

// fileInfo presents a vfs.Info as os.FileInfo: directories 0755, files
// 0644 (OpenSSH's cd needs a directory mode from STAT).
type fileInfo struct{ i vfs.Info }

func (f fileInfo) Name() string       { return f.i.Name }
func (f fileInfo) Size() int64        { return f.i.Size }
func (f fileInfo) ModTime() time.Time { return f.i.ModTime }
func (f fileInfo) IsDir() bool        { return f.i.IsDir }
func (f fileInfo) Sys() any           { return nil }
func (f fileInfo) Mode() os.FileMode {
	switch {
	case f.i.IsDir:
		return os.ModeDir | 0o755
	case f.i.Incomplete:
		// An upload cut short: it can be resumed (written), not read.
		return 0o200
	}
	return 0o644
}

// setstat serves SETSTAT and FSETSTAT (DESIGN §5): times are applied, to
// the upload in progress or to the file; a size truncates a file this
// session is writing (OpenSSH scp); a mode equal to the one the file
// reports is accepted. Anything else is refused before anything changes.
// The guard has refused owners and extended attributes.
func (h *handler) setstat(r *sftp.Request) error {
	fl, a := r.AttrFlags(), r.Attributes()
	w := h.writer(r.Filepath)
	if fl.Size && w == nil || fl.UidGid {
		return status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, nil)
	}
	var cur vfs.Info
	if w != nil {
		cur = w.Stat()
	} else {
		var err error
		if cur, err = h.store.Stat(h.sess, r.Filepath); err != nil {
			if fl.Permissions {
				// A mode is refused whatever the file: chmod is not a
				// device operation (manual §1.6).
				return status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, err)
			}
			return toStatus(opStat, err)
		}
	}
	if fl.Permissions {
		// The permission bits only: clients send the file type too.
		if a.Mode&0o7777 != uint32(fileInfo{cur}.Mode().Perm()) {
			return status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, nil)
		}
	}
	if fl.Size {
		if err := w.Truncate(int64(a.Size)); err != nil {
			return toStatus(opWrite, err)
		}
	}
	if fl.Acmodtime {
		mt := time.Unix(int64(a.Mtime), 0)
		var err error
		if w != nil {
			err = w.SetModTime(mt)
		} else {
			err = h.store.SetModTime(h.sess, r.Filepath, mt)
		}
		if err != nil {
			return toStatus(opSetstat, err)
		}
	}
	return nil
}
