// Package auditlog builds sluice's "audit" logger: the events of
// docs/operations.md ("Logs and audit") in the server's log, and, when
// [audit] file is set, also in a file of their own, one JSON object per
// line, that SIGHUP reopens (File.Reopen) so that logrotate can move it
// away.
package auditlog

import (
	"errors"
	"io"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Mode is the permission of an audit file sluice creates. An existing
// file keeps its mode (logrotate's "create" directive decides it).
const Mode = 0o600

// File is an audit file open for appending. It is safe for concurrent
// use; Reopen may run while events are written.
type File struct {
	path string

	mu sync.Mutex
	f  *os.File // nil once closed
}

// Open opens (creating with Mode) the audit file at path for appending.
func Open(path string) (*File, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, Mode)
}

// errClosed is what Write returns after Close.
var errClosed = errors.New("auditlog: file closed")

// Write appends p, one event (hclog writes each line in one call).
func (a *File) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return 0, errClosed
	}
	return a.f.Write(p)
}

// Reopen opens the path again and writes there from now on: after
// logrotate has renamed the file, a new one is created. If the path
// cannot be opened, the error is returned and events keep going to the
// file open until now, so none is lost.
func (a *File) Reopen() error {
	f, err := openAppend(a.path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	if old != nil {
		a.f = f
	}
	a.mu.Unlock()
	if old == nil { // closed meanwhile: stay closed
		return errors.Join(errClosed, f.Close())
	}
	return old.Close()
}

// Close closes the file; later writes fail.
func (a *File) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// New returns the audit logger. opts are the root logger's options
// (output, format, level, name): the events appear in the server's log
// as those of the root's Named("audit") would. If file is not nil, every
// event at info and above, whatever opts.Level says, is also written to
// it as a JSON line ("@level", "@message", "@module", "@timestamp" and
// the event's fields; durations are the events' own duration_ms).
func New(opts hclog.LoggerOptions, file io.Writer) hclog.Logger {
	name := "audit"
	if opts.Name != "" {
		name = opts.Name + "." + name
	}
	opts.Name = name
	l := hclog.NewInterceptLogger(&opts)
	if file != nil {
		l.RegisterSink(hclog.NewSinkAdapter(&hclog.LoggerOptions{
			Name: name, Level: hclog.Info, JSONFormat: true, Output: file,
			TimeFormat: "2006-01-02T15:04:05.000000Z07:00",
		}))
	}
	return l
}
