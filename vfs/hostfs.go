package vfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hostFS is a flat file system on a host directory, confined with os.Root
// so that no name (or symlink planted by someone else) escapes it. Only
// regular files in the directory itself are visible.
type hostFS struct {
	dir  string
	root *os.Root
	// dirf is the directory itself, open for the fsync after each rename
	// (syncDir): one open for the mount's life instead of an open, fstat
	// and close per commit. Like root, it stays on the directory that was
	// opened.
	dirf *os.File
}

func openHost(dir string, log hclog.Logger) (*hostFS, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	dirf, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, err
	}
	h := &hostFS{dir: dir, root: root, dirf: dirf}
	// A crash between create and rename leaves a temporary file: remove it.
	ents, err := os.ReadDir(dir)
	if err != nil {
		h.close()
		return nil, err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := root.Remove(e.Name()); err != nil {
				log.Warn("cannot remove temporary file", "name", e.Name(), "error", err)
			} else {
				log.Info("removed temporary file left by a crash", "name", e.Name())
			}
		}
	}
	return h, nil
}

// syncDir makes the directory's entries durable (after a rename).
func (h *hostFS) syncDir() error { return h.dirf.Sync() }

func (h *hostFS) close() error { return errors.Join(h.dirf.Close(), h.root.Close()) }

// stat returns the info of a regular file; anything else is not found.
func (h *hostFS) stat(name string) (fs.FileInfo, error) {
	fi, err := h.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, os.ErrNotExist
	}
	return fi, nil
}

// open opens a regular file for reading, refusing symlinks and anything
// swapped in between the check and the open.
func (h *hostFS) open(name string) (*os.File, error) {
	fi, err := h.stat(name)
	if err != nil {
		return nil, err
	}
	f, err := h.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	got, err := f.Stat()
	if err != nil || !os.SameFile(fi, got) {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

func (h *hostFS) list() ([]Info, error) {
	d, err := h.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(ents))
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Info{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// find looks name up in any case, as the device's file systems do, and
// returns the name the file is stored under.
func (h *hostFS) find(name string) (string, bool) {
	ents, err := h.list()
	if err != nil {
		return "", false
	}
	for _, e := range ents {
		if strings.EqualFold(e.Name, name) {
			return e.Name, true
		}
	}
	return "", false
}

// createTemp makes a new temporary file for an atomic write.
func (h *hostFS) createTemp() (*os.File, string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	name := tempPrefix + hex.EncodeToString(b[:])
	f, err := h.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	return f, name, err
}

// commitTemp makes the temporary file the named file: fsync, close,
// rename, fsync of the directory. On error the temporary file is removed
// and the old file, if any, is untouched.
//
// A non-zero mtime becomes the file's modification time (a time the client
// set, or the staged file's when it is committed from /mem).
func (h *hostFS) commitTemp(f *os.File, tmp, name string, mtime time.Time, fault func(Stage)) error {
	var err error
	if !mtime.IsZero() {
		err = h.root.Chtimes(tmp, mtime, mtime)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		fault(StageSynced)
		err = h.root.Rename(tmp, name)
	}
	if err != nil {
		_ = h.root.Remove(tmp)
		return err
	}
	fault(StageRenamed)
	return h.syncDir()
}

func (h *hostFS) abortTemp(f *os.File, tmp string) {
	_ = f.Close()
	_ = h.root.Remove(tmp)
}

func (h *hostFS) rename(oldName, newName string) error {
	if _, err := h.stat(oldName); err != nil {
		return err
	}
	if fi, err := h.root.Lstat(newName); err == nil && !fi.Mode().IsRegular() {
		return errors.New("target is not a regular file")
	}
	if err := h.root.Rename(oldName, newName); err != nil {
		return err
	}
	return h.syncDir()
}

// chtimes sets a regular file's times.
func (h *hostFS) chtimes(name string, atime, mtime time.Time) error {
	if _, err := h.stat(name); err != nil {
		return err
	}
	return h.root.Chtimes(name, atime, mtime)
}

func (h *hostFS) remove(name string) error {
	if _, err := h.stat(name); err != nil {
		return err
	}
	if err := h.root.Remove(name); err != nil {
		return err
	}
	return h.syncDir()
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
