// Package vfs is the device tree that every front end works on: "/" lists
// the mounted file systems; dsk, bio (and fda, fco, smc) are flat host
// directories; mem is the staging buffer; tst and ts1 are test sinks
// (DESIGN §2, manual §3.1 and §4.2).
//
// vfs asks policy whether each operation is allowed, keeps writers
// exclusive, makes every write to a host directory atomic (temporary file,
// fsync, rename, fsync of the directory), and turns a rename across file
// systems into a copy plus an atomic commit. Errors are *Error values with a
// Kind; front ends translate them to wire codes and never hold file-system
// logic of their own.
package vfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"golang.org/x/sys/unix"
)

// Config builds an FS. Mounts are the host-backed file systems; mem, tst
// and ts1 are always present.
type Config struct {
	Mounts  []policy.Mount
	Mem     *mem.Store // required
	NameMax int        // 0 means policy.DefaultNameMax
	// MaxFileBytes bounds a file written to any file system (offsets and
	// sizes past it are refused); 0 means policy.DefaultMaxFile. /mem is
	// bounded by its own size as well.
	MaxFileBytes int64
	Logger       hclog.Logger
	Audit        hclog.Logger // the "audit" logger; nil discards
	// FaultHook, if set, is called at each Stage of a commit. Crash tests
	// use it to kill the process at an exact point; production leaves it
	// nil.
	FaultHook func(Stage)

	// Checks are the image checks on (manual §2.1.4); Device is the
	// identity they compare with. StatePath is the device-state file;
	// empty keeps the state in memory only (tests).
	Checks            image.Check
	Device            image.Device
	StatePath         string
	AllowDeleteActive bool
}

// Stage is a point in a commit to a host file system.
type Stage string

// The stages, in order.
const (
	StagePartial Stage = "partial" // part of the data is in the temporary file
	StageSynced  Stage = "synced"  // the temporary file is complete and fsynced
	StageRenamed Stage = "renamed" // renamed over the target, directory not yet fsynced
)

// Session is the identity an operation runs under.
type Session struct {
	User   *policy.User
	ID     string // connection id, recorded as the owner session of staged files
	Remote string // remote address, for audit
	// Checks, if set, replaces the configured checks for this session
	// (the FTP gateway's SITE CHECK).
	Checks *image.Check
	// Text, if set, returns the reply a refused operation's error gets
	// from the session's front end (its status table: the manual's
	// text). The audit logs it as text= with the refusal; vfs sends
	// nothing to clients itself.
	Text func(error) string
}

// checksFor returns the checks in force for s.
func (f *FS) checksFor(s *Session) image.Check {
	if s != nil && s.Checks != nil {
		return *s.Checks
	}
	return f.tune.Load().checks
}

// Checks returns the configured checks.
func (f *FS) Checks() image.Check { return f.tune.Load().checks }

// Device returns the configured device identity.
func (f *FS) Device() image.Device { return f.tune.Load().dev }

// ActiveApp returns the active boot application's name and the firmware
// it requires, from the device state.
func (f *FS) ActiveApp() (string, []image.FirmwareReq, bool) { return f.state.ActiveApp() }

// FreeSpace returns the bytes free on a file system: the staging
// buffer's unallocated bytes for mem, the host file system's for the
// others, 0 for the sinks.
func (f *FS) FreeSpace(s *Session, fs string) (int64, error) {
	m, _, err := f.resolve(s, "stat", "/"+fs)
	if err != nil {
		return 0, err
	}
	if m == nil {
		return 0, newErr(KindInvalidPath, "stat", "/", errNoMount)
	}
	switch m.kind {
	case kindMem:
		st := f.mem.Stats()
		return st.Max - st.Req, nil
	case kindHost:
		var st unix.Statfs_t
		if err := unix.Statfs(m.host.dir, &st); err != nil {
			return 0, ioErr("stat", "/"+fs, err)
		}
		return int64(st.Bavail) * int64(st.Bsize), nil
	}
	return 0, nil
}

// Info describes a file system (IsDir) or a file.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
	IsDir   bool
	// Incomplete marks a staged upload cut short: Size bytes from offset 0
	// arrived. Its owner can resume it; it cannot be read or committed.
	Incomplete bool
}

type kind int

const (
	kindHost kind = iota
	kindMem
	kindSink
)

type mount struct {
	name      string
	kind      kind
	exclusive bool
	host      *hostFS // kindHost
	sink      *sink   // kindSink

	busy int // operations in progress; guarded by FS.mu, used when exclusive
}

// FS is the device tree. It is safe for concurrent use.
//
// Lock order: FS.mu is a leaf lock; it is never held while doing I/O.
type FS struct {
	mounts  map[string]*mount
	order   []string // mount names for the "/" listing
	mem     *mem.Store
	nameMax int
	maxFile int64
	log     hclog.Logger
	audit   hclog.Logger
	started time.Time
	fault   func(Stage)
	// tune holds what Reload changes (checks, device, delete-active).
	tune     atomic.Pointer[tunables]
	state    *deviceState
	verdicts verdictLog // each user's newest check verdicts (verdicts.go)
	// coherenceMu lets one SITE COHERENCE run at a time (coherence.go).
	coherenceMu sync.Mutex

	mu      sync.Mutex
	writers map[string]bool // "fs/name" with an open writer or a rename in progress
}

// New opens the mounts (creating missing host directories), removes
// temporary files left by a crash, and returns the tree.
func New(cfg Config) (*FS, error) {
	if cfg.Mem == nil {
		return nil, errors.New("vfs: no staging buffer")
	}
	f := &FS{
		mounts:  map[string]*mount{},
		mem:     cfg.Mem,
		nameMax: cfg.NameMax,
		log:     cfg.Logger,
		audit:   cfg.Audit,
		started: time.Now(),
		writers: map[string]bool{},
		fault:   cfg.FaultHook,
	}
	f.Reload(cfg.Checks, cfg.Device, cfg.AllowDeleteActive)
	if f.fault == nil {
		f.fault = func(Stage) {}
	}
	f.maxFile = cfg.MaxFileBytes
	if f.maxFile <= 0 {
		f.maxFile = policy.DefaultMaxFile
	}
	if f.nameMax == 0 {
		f.nameMax = policy.DefaultNameMax
	}
	if f.log == nil {
		f.log = hclog.NewNullLogger()
	}
	if f.audit == nil {
		f.audit = hclog.NewNullLogger()
	}
	for _, m := range cfg.Mounts {
		name := strings.ToLower(m.Name)
		if _, dup := f.mounts[name]; dup {
			f.Close()
			return nil, fmt.Errorf("vfs: mount %q twice", name)
		}
		h, err := openHost(m.Path, f.log.Named(name))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("vfs: mount %s: %w", name, err)
		}
		f.mounts[name] = &mount{name: name, kind: kindHost, exclusive: m.Exclusive, host: h}
	}
	hosts := map[string]*hostFS{}
	for n, m := range f.mounts {
		hosts[n] = m.host
	}
	st, err := loadState(cfg.StatePath, hosts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("vfs: %w", err)
	}
	f.state = st
	f.mounts["mem"] = &mount{name: "mem", kind: kindMem}
	f.mounts["tst"] = &mount{name: "tst", kind: kindSink, sink: newSink("tst")}
	f.mounts["ts1"] = &mount{name: "ts1", kind: kindSink, sink: newSink("ts1")}
	for n := range f.mounts {
		f.order = append(f.order, n)
	}
	sort.Strings(f.order)
	return f, nil
}

// Close releases the host directories.
func (f *FS) Close() error {
	var errs []error
	for _, m := range f.mounts {
		if m.host != nil {
			errs = append(errs, m.host.close())
		}
	}
	return errors.Join(errs...)
}

// Mem returns the staging buffer.
func (f *FS) Mem() *mem.Store { return f.mem }

// resolve splits p and finds its mount, checking the sandbox: a file system
// the user may not see does not exist for them.
func (f *FS) resolve(s *Session, op, p string) (*mount, string, error) {
	fsName, name, err := Split(p, f.nameMax)
	if err != nil {
		return nil, "", err
	}
	if fsName == "" {
		return nil, "", nil
	}
	m, ok := f.mounts[fsName]
	if !ok || s == nil || s.User == nil || !s.User.Sees(fsName) {
		return nil, "", newErr(KindInvalidPath, op, p, errNoMount)
	}
	return m, name, nil
}

func (f *FS) allow(s *Session, op policy.Op, fs, p, opName string) error {
	if err := policy.Allow(s.User, op, fs); err != nil {
		if errors.Is(err, policy.ErrNotVisible) {
			return newErr(KindInvalidPath, opName, p, err)
		}
		return f.refused(s, newErr(KindDenied, opName, p, err))
	}
	return nil
}

// enter marks one operation on an exclusive file system; release undoes it.
func (f *FS) enter(m *mount, op, p string) (release func(), err error) {
	if !m.exclusive {
		return func() {}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.busy > 0 {
		return nil, newErr(KindBusy, op, p, errors.New("exclusive file system in use"))
	}
	m.busy++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			m.busy--
			f.mu.Unlock()
		})
	}, nil
}

// lockWriter makes fs/name exclusive to one writer (or rename).
func (f *FS) lockWriter(m *mount, name, op, p string) (unlock func(), err error) {
	key := m.name + "/" + name
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writers[key] {
		return nil, newErr(KindBusy, op, p, errors.New("file open for writing"))
	}
	f.writers[key] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.writers, key)
			f.mu.Unlock()
		})
	}, nil
}

// ioErr classifies a host error.
func ioErr(op, p string, err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return newErr(KindNotFound, op, p, err)
	case isNoSpace(err):
		return newErr(KindNoSpace, op, p, err)
	case errors.Is(err, mem.ErrNoSpace):
		return newErr(KindNoSpace, op, p, err)
	case errors.Is(err, mem.ErrBusy):
		return newErr(KindBusy, op, p, err)
	case errors.Is(err, mem.ErrNotFound):
		return newErr(KindNotFound, op, p, err)
	case errors.Is(err, mem.ErrIncomplete):
		return newErr(KindIncomplete, op, p, errors.Join(ErrIncompleteSource, err))
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return newErr(KindIO, op, p, err)
}

func join(fs, name string) string { return "/" + filepath.ToSlash(filepath.Join(fs, name)) }
