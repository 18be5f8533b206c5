package sftphandler

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/vfs"
)

// The read-only files of "/" next to the file systems (docs/sftp.md,
// "Verdicts and device state"). OpenSSH sftp and scp print their own text
// for a status code, never the server's, so a refused commit says only
// "Failure" or "Permission denied"; these say why. Their names have a
// dot, which no file system name has, so they cannot hide a mount. Only
// the SFTP front end shows them.
const (
	verdictsFile = "verdicts.txt"
	stateFile    = "state.txt"
)

// viewPath reports whether p names one of the read-only files of "/", in
// any case as every name on the device, and returns its canonical path.
func viewPath(p string) (string, bool) {
	p = path.Clean("/" + p)
	for _, n := range []string{verdictsFile, stateFile} {
		if strings.EqualFold(p, "/"+n) {
			return "/" + n, true
		}
	}
	return "", false
}

// view is a read-only file's content as of the moment it was opened or
// stated: STAT, FSTAT and READ of one open handle agree on the size.
type view struct {
	name string
	data []byte
	mod  time.Time
}

func (v *view) info() os.FileInfo { return viewInfo{v} }

// viewInfo presents a view as a read-only regular file (0444).
type viewInfo struct{ v *view }

func (f viewInfo) Name() string       { return f.v.name }
func (f viewInfo) Size() int64        { return int64(len(f.v.data)) }
func (f viewInfo) ModTime() time.Time { return f.v.mod }
func (f viewInfo) IsDir() bool        { return false }
func (f viewInfo) Sys() any           { return nil }
func (f viewInfo) Mode() os.FileMode  { return 0o444 }

// render builds the content of the view at p for the session now.
func (h *handler) render(p string) *view {
	now := time.Now().UTC().Truncate(time.Second)
	switch p {
	case "/" + verdictsFile:
		vs := h.store.Verdicts(h.sess)
		v := &view{name: verdictsFile, data: renderVerdicts(vs), mod: now}
		if len(vs) > 0 {
			v.mod = vs[len(vs)-1].Time.UTC().Truncate(time.Second)
		}
		return v
	default:
		return &view{name: stateFile, data: renderState(h.store.DeviceState(h.sess)), mod: now}
	}
}

// renderVerdicts is verdicts.txt: one line per verdict, oldest first,
// fields separated by a tab: time (UTC, RFC 3339), session, op, source,
// target, "ok" or "refused", check, text. An empty field is "-"; the text
// is the last field and may contain spaces.
func renderVerdicts(vs []vfs.Verdict) []byte {
	var b bytes.Buffer
	for _, v := range vs {
		result := "refused"
		if v.OK {
			result = "ok"
		}
		writeRecord(&b, v.Time.UTC().Format(time.RFC3339), v.Session, v.Op, v.Source, v.Target, result, v.Check, v.Text)
	}
	return b.Bytes()
}

// renderState is state.txt: one record a line, its fields separated by
// a tab, in this order:
//
//	checks	CRC,LENGTH,...                (the checks in force, "ALL" or "NONE")
//	active	NAME	VERSION               (the active boot application; "active	-" if none)
//	requires	NAME	VERSION           (a firmware it requires, and its minimum version)
//	committed	KIND	NAME	VERSION   (the newest version committed of each kind and name)
//	staged	/mem/NAME	SIZE	TIME	STATE (each of the user's staged files; STATE is
//	                                       complete, incomplete or writing)
//	buffer	MAX	REQ	BUSY              (the staging buffer's counters, bytes)
//
// active, requires and committed are left out for a user who sees no
// host-backed file system.
func renderState(st vfs.DeviceState) []byte {
	var b bytes.Buffer
	line := func(fields ...string) { writeRecord(&b, fields...) }
	line("checks", strings.ToUpper(st.Checks.String()))
	if st.Shown {
		if a := st.Active; a != nil {
			line("active", a.Name, a.Version)
			for _, fw := range a.Firmware {
				line("requires", fw.Name, fw.Version)
			}
		} else {
			line("active", "-")
		}
		for _, c := range st.Committed {
			line("committed", c.Kind, c.Name, c.Version)
		}
	}
	for _, s := range st.Staged {
		state := "complete"
		switch {
		case s.Writing:
			state = "writing"
		case s.Incomplete:
			state = "incomplete"
		}
		line("staged", s.Path, fmt.Sprint(s.Size), s.ModTime.UTC().Format(time.RFC3339), state)
	}
	line("buffer", fmt.Sprint(st.Buffer.Max), fmt.Sprint(st.Buffer.Req), fmt.Sprint(st.Buffer.Busy))
	return b.Bytes()
}

// writeRecord writes one line of tab-separated fields, "-" for an empty
// one.
func writeRecord(b *bytes.Buffer, fields ...string) {
	for i, f := range fields {
		if f == "" {
			f = "-"
		}
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(oneLine(f))
	}
	b.WriteByte('\n')
}

// oneLine keeps a field on its line and in its column.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// views are the session's open views by path, for FSTAT, which the loop
// passes by path: the newest open handle of a path wins.
type views struct {
	mu sync.Mutex
	m  map[string]*view
}

func (vs *views) get(p string) *view {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.m[p]
}

func (vs *views) put(p string, v *view) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.m == nil {
		vs.m = map[string]*view{}
	}
	vs.m[p] = v
}

func (vs *views) drop(p string, v *view) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.m[p] == v {
		delete(vs.m, p)
	}
}

// viewHandle reads an open view.
type viewHandle struct {
	r    *bytes.Reader
	v    *view
	p    string
	h    *handler
	once sync.Once
}

func (vh *viewHandle) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, status(sftp.ErrSSHFxFailure, msgSeekFailed, nil)
	}
	return vh.r.ReadAt(p, off)
}

func (vh *viewHandle) Close() error {
	vh.once.Do(func() { vh.h.views.drop(vh.p, vh.v) })
	return nil
}

var _ io.ReaderAt = (*viewHandle)(nil)

// openView opens the view at p for reading, from a snapshot taken now.
func (h *handler) openView(p string) *viewHandle {
	v := h.render(p)
	h.views.put(p, v)
	return &viewHandle{r: bytes.NewReader(v.data), v: v, p: p, h: h}
}

// statView describes the view at p: the open handle's snapshot if the
// session has one (FSTAT), else the content it would have now.
func (h *handler) statView(p string) os.FileInfo {
	if v := h.views.get(p); v != nil {
		return v.info()
	}
	return h.render(p).info()
}

// viewEntries are the views, for the listing of "/".
func (h *handler) viewEntries() []os.FileInfo {
	return []os.FileInfo{h.statView("/" + stateFile), h.statView("/" + verdictsFile)}
}

// errViewReadOnly refuses any change to a view, and opening one for write.
func errViewReadOnly(p string) error {
	return status(sftp.ErrSSHFxPermissionDenied, msgDenied, fmt.Errorf("%s is read-only", p))
}
