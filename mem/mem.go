// Package mem provides the bounded in-RAM staging buffer behind the /mem
// file system: uploads (firmware, boot images, configuration) are written
// here first, checked, and only then committed to persistent storage, so a
// broken or bad upload never touches the device's disk.
//
// A [Store] holds named files within a fixed budget, Config.MaxBytes (the
// manual's TEMP-BUFF / MAX). Memory is taken in chunks of Config.ChunkSize as
// data arrives, never the whole budget up front, and is returned when a file
// is removed, replaced, truncated or aborted; once Config.ReturnThreshold
// bytes have been freed the Store hands them back to the operating system,
// so the process shrinks when staged files go. [Store.Stats] reports the
// manual's counters: REQ (bytes allocated) and BUSY (bytes held by file
// contents). [LimitRuntime] sizes the Go runtime's memory limit around the
// buffer, for the process's documented memory bound.
//
// A file is staged through a [Writer] obtained from [Store.Create]. Writes may
// arrive at any offset, out of order and from many goroutines at once, as SFTP
// clients pipeline and parallelise them. The file becomes visible to readers
// only when the Writer is closed; until then a previously published file of
// the same name is left untouched, and a second writer for that name gets
// [ErrBusy]. This closes the manual's race where one user overwrites another
// user's buffer before it is saved.
//
// Readers get an immutable snapshot, a [File], from [Store.Open]. A snapshot
// stays readable after the name is replaced or removed; its memory stays
// charged to REQ until the last snapshot of that version is closed, so the
// counters always reflect memory that is really in use.
//
// Names are opaque to this package; validating them is the caller's (vfs's)
// job. Policy decisions (who may commit or delete) are also made by the
// caller, using the [Owner] recorded with each file.
package mem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// Sentinel errors. Errors returned by this package wrap them in an
// *fs.PathError (*os.LinkError for Rename) naming the operation and file;
// check with errors.Is. Invalid arguments (negative offsets or sizes, empty
// names) wrap fs.ErrInvalid.
var (
	// ErrNoSpace means an allocation would exceed Config.MaxBytes.
	ErrNoSpace = errors.New("mem: staging buffer full")
	// ErrBusy means a writer is open on that name.
	ErrBusy = errors.New("mem: file busy")
	// ErrNotFound means no file of that name is published.
	ErrNotFound = errors.New("mem: file not found")
	// ErrClosed means a Writer or File was used after Close or Abort.
	ErrClosed = errors.New("mem: file closed")
	// ErrIncomplete means the file is an upload cut short (Writer.Suspend):
	// it can be resumed (Store.Resume) or removed, but not read.
	ErrIncomplete = errors.New("mem: file incomplete")
)

// DefaultChunkSize is the allocation granule used when Config.ChunkSize is 0.
// It matches the largest SFTP write the server advertises (≈ 255 KiB), so a
// pipelined upload allocates about one chunk per request.
const DefaultChunkSize = 256 << 10

// Config configures a Store. New copies it before filling in defaults.
type Config struct {
	// MaxBytes is the staging budget (the manual's TEMP-BUFF / MAX): the
	// most memory all files together may allocate, and the largest size a
	// single file may have. It must be > 0; there is no "unbounded" value.
	// Only whole chunks are allocated, so if MaxBytes is not a multiple of
	// ChunkSize the remainder can never be used.
	MaxBytes int64

	// ChunkSize is the allocation granule. 0 means DefaultChunkSize, or
	// MaxBytes if that is smaller. It must not exceed MaxBytes.
	ChunkSize int

	// ReturnThreshold is how many bytes of chunks must have been freed
	// (by Remove, Rename over a file, Abort, Truncate, Suspend or the
	// last Close of a replaced version) before the Store hands the free
	// memory back to the operating system, so that the process's RSS
	// falls when staged files go, not minutes later. 0 means MaxBytes/8,
	// at least one chunk; a negative value turns returning off.
	ReturnThreshold int64
	// ReturnInterval is the least time between two returns; frees within
	// it are returned together at its end. 0 means DefaultReturnInterval.
	ReturnInterval time.Duration
	// Return hands free memory back; nil means debug.FreeOSMemory. It is
	// called on a timer's goroutine, with no lock held.
	Return func()
}

// Owner records who staged a file, so the caller can enforce that only the
// owner (or a supervisor) commits or deletes it.
type Owner struct {
	User    string // authenticated user name
	Session string // id of the session (connection) that wrote it
}

// Stats are the staging buffer's counters, as shown by the manual's
// TEMP-BUFF status.
type Stats struct {
	// Max is Config.MaxBytes.
	Max int64
	// Req is the memory currently allocated: allocated chunks × ChunkSize,
	// over files being written, published files, and replaced or removed
	// versions still held by an open File. It never exceeds Max.
	Req int64
	// Busy is the sum of the logical sizes of the same set of files
	// (including ones being written). A sparse file can make Busy larger
	// than Req.
	Busy int64
}

// Info describes a staged file.
type Info struct {
	Name string
	Size int64
	// ModTime is when the file was published; for a name that only has an
	// open writer, when the writer was created.
	ModTime time.Time
	Owner   Owner
	// Writing reports that a writer is open on this name. A name can have
	// both a published version (described by the other fields) and an open
	// writer that will replace it.
	Writing bool
	// Incomplete reports an upload cut short (Writer.Suspend): Size bytes
	// from offset 0 arrived; it cannot be opened until a resumed writer
	// completes it.
	Incomplete bool
}

// Store is a bounded set of named in-memory files. Its methods are safe for
// concurrent use.
//
// Lock order: Writer.mu before Store.mu before returner.mu. Store.mu is only held for
// bookkeeping (maps, counters, reference counts), never while copying file
// data, so writers to different files and readers never wait on each other's
// copies. Store methods never take a Writer's mu; the few Writer fields they
// read (size) are written with both locks held.
type Store struct {
	max       int64     // immutable
	chunkSize int64     // immutable
	ret       *returner // immutable; nil: freed memory is left to the runtime

	mu        sync.Mutex
	req       int64               // guarded by mu; see Stats.Req
	busy      int64               // guarded by mu; see Stats.Busy
	published map[string]*version // guarded by mu
	writers   map[string]*Writer  // guarded by mu
}

// version is one published content of a file. Its chunks and fields other
// than refs are immutable once published, so Files read them without locks.
type version struct {
	chunks     [][]byte // chunk i holds bytes [i*chunkSize, (i+1)*chunkSize); nil is a hole
	size       int64
	alloc      int64     // bytes charged to Store.req for chunks
	modTime    time.Time // guarded by Store.mu (SetModTime)
	owner      Owner
	incomplete bool // an upload cut short: never opened, only resumed or removed

	refs int // guarded by Store.mu: one for the published name, one per open File
}

// New returns an empty Store. It fails if cfg.MaxBytes is not positive or
// cfg.ChunkSize is negative or larger than cfg.MaxBytes: a zero Config must
// not silently mean an unbounded buffer.
func New(cfg Config) (*Store, error) {
	c := cfg
	if c.MaxBytes <= 0 {
		return nil, fmt.Errorf("mem: MaxBytes must be > 0, got %d", c.MaxBytes)
	}
	if c.ChunkSize < 0 {
		return nil, fmt.Errorf("mem: ChunkSize must be >= 0, got %d", c.ChunkSize)
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = int(min(int64(DefaultChunkSize), c.MaxBytes))
	}
	if int64(c.ChunkSize) > c.MaxBytes {
		return nil, fmt.Errorf("mem: ChunkSize %d exceeds MaxBytes %d", c.ChunkSize, c.MaxBytes)
	}
	if c.ReturnInterval < 0 {
		return nil, fmt.Errorf("mem: ReturnInterval must be >= 0, got %v", c.ReturnInterval)
	}
	s := &Store{
		max:       c.MaxBytes,
		chunkSize: int64(c.ChunkSize),
		published: make(map[string]*version),
		writers:   make(map[string]*Writer),
	}
	if c.ReturnThreshold >= 0 {
		r := &returner{threshold: c.ReturnThreshold, interval: c.ReturnInterval, fn: c.Return}
		if r.threshold == 0 {
			r.threshold = max(c.MaxBytes>>DefaultReturnShift, int64(c.ChunkSize))
		}
		if r.interval == 0 {
			r.interval = DefaultReturnInterval
		}
		if r.fn == nil {
			r.fn = debug.FreeOSMemory
		}
		s.ret = r
	}
	return s, nil
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Max: s.max, Req: s.req, Busy: s.busy}
}

// ChunkSize returns the allocation granule in effect.
func (s *Store) ChunkSize() int { return int(s.chunkSize) }

// Create opens a Writer for name. It fails with ErrBusy if a Writer is
// already open for name. A previously published file of that name stays
// readable and unchanged until the Writer is closed, which replaces it; if
// the Writer is aborted instead, the old file survives.
func (s *Store) Create(name string, owner Owner) (*Writer, error) {
	if name == "" {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.writers[name]; ok {
		return nil, &fs.PathError{Op: "create", Path: name, Err: ErrBusy}
	}
	w := &Writer{s: s, name: name, owner: owner, created: time.Now()}
	s.writers[name] = w
	return w, nil
}

// Open returns a snapshot of the published file name. The snapshot is not
// affected by later writes, replacements or removal of name; the caller must
// Close it to release its memory. If nothing is published under name, Open
// returns ErrBusy when a writer is open on it (the file is still being
// uploaded) and ErrNotFound otherwise.
func (s *Store) Open(name string) (*File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.published[name]
	if !ok {
		if _, writing := s.writers[name]; writing {
			return nil, &fs.PathError{Op: "open", Path: name, Err: ErrBusy}
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNotFound}
	}
	if v.incomplete {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrIncomplete}
	}
	v.refs++
	f := &File{s: s, info: Info{Name: name, Size: v.size, ModTime: v.modTime, Owner: v.owner}}
	f.v.Store(v)
	return f, nil
}

// Stat describes name. For a published file it reports that file (with
// Writing set if a writer is also open on the name); for a name with only an
// open writer it reports the writer's current size and Writing=true.
func (s *Store) Stat(name string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.infoLocked(name)
	if !ok {
		return Info{}, &fs.PathError{Op: "stat", Path: name, Err: ErrNotFound}
	}
	return info, nil
}

// List describes every name, sorted: published files and names that only
// have an open writer.
func (s *Store) List() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	infos := make([]Info, 0, len(s.published)+len(s.writers))
	for name := range s.published {
		info, _ := s.infoLocked(name)
		infos = append(infos, info)
	}
	for name := range s.writers {
		if _, ok := s.published[name]; ok {
			continue // already listed, with Writing set
		}
		info, _ := s.infoLocked(name)
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
}

// infoLocked describes name. s.mu must be held.
func (s *Store) infoLocked(name string) (Info, bool) {
	w, writing := s.writers[name]
	if v, ok := s.published[name]; ok {
		return Info{Name: name, Size: v.size, ModTime: v.modTime, Owner: v.owner, Writing: writing, Incomplete: v.incomplete}, true
	}
	if writing {
		// w.size is written with both w.mu and s.mu held, so s.mu suffices.
		return Info{Name: name, Size: w.size, ModTime: w.created, Owner: w.owner, Writing: true}, true
	}
	return Info{}, false
}

// Resume opens a Writer that continues the incomplete file name (see
// Writer.Suspend): it takes over the file's bytes and memory, so nothing
// is copied, and the name has no published version until the Writer is
// closed or suspended again (Abort discards the bytes). It fails with
// ErrBusy while a writer is open on name and ErrNotFound unless name is
// incomplete.
func (s *Store) Resume(name string) (*Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.writers[name]; ok {
		return nil, &fs.PathError{Op: "resume", Path: name, Err: ErrBusy}
	}
	v, ok := s.published[name]
	if !ok || !v.incomplete {
		return nil, &fs.PathError{Op: "resume", Path: name, Err: ErrNotFound}
	}
	// An incomplete version is never opened, so the published name holds
	// its only reference and its charge moves to the writer unchanged.
	delete(s.published, name)
	w := &Writer{s: s, name: name, owner: v.owner, created: time.Now(),
		chunks: v.chunks, nalloc: v.alloc / s.chunkSize, size: v.size}
	s.writers[name] = w
	return w, nil
}

// SetModTime sets the modification time of the published file name
// (SFTP SETSTAT, FTP MFMT).
func (s *Store) SetModTime(name string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.published[name]
	if !ok {
		if _, writing := s.writers[name]; writing {
			return &fs.PathError{Op: "chtimes", Path: name, Err: ErrBusy}
		}
		return &fs.PathError{Op: "chtimes", Path: name, Err: ErrNotFound}
	}
	v.modTime = t
	return nil
}

// Remove deletes the published file name. It fails with ErrBusy while a
// writer is open on name, so an upload in progress cannot be pulled away
// from under its session. The memory is returned at once unless a File
// snapshot is still open, in which case it is returned when the last one is
// closed.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.writers[name]; ok {
		return &fs.PathError{Op: "remove", Path: name, Err: ErrBusy}
	}
	v, ok := s.published[name]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: ErrNotFound}
	}
	delete(s.published, name)
	s.releaseLocked(v)
	return nil
}

// Rename moves the published file oldName to newName, replacing (and
// freeing) any file published as newName. Owner and ModTime are kept. It
// fails with ErrBusy if a writer is open on either name: renaming onto a name
// being written would be overwritten by that writer's Close, and renaming a
// name being written would let another session commit a partial upload.
func (s *Store) Rename(oldName, newName string) error {
	if newName == "" {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: fs.ErrInvalid}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, busyOld := s.writers[oldName]
	_, busyNew := s.writers[newName]
	if busyOld || busyNew {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: ErrBusy}
	}
	v, ok := s.published[oldName]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldName, New: newName, Err: ErrNotFound}
	}
	if oldName == newName {
		return nil
	}
	if old, ok := s.published[newName]; ok {
		s.releaseLocked(old)
	}
	delete(s.published, oldName)
	s.published[newName] = v
	return nil
}

// publishLocked makes v the published content of name, releasing the
// version it replaces. s.mu must be held.
func (s *Store) publishLocked(name string, v *version) {
	if old, ok := s.published[name]; ok {
		s.releaseLocked(old)
	}
	v.refs = 1
	s.published[name] = v
}

// releaseLocked drops one reference to v and uncharges its memory when the
// last one goes. s.mu must be held.
func (s *Store) releaseLocked(v *version) {
	v.refs--
	if v.refs > 0 {
		return
	}
	s.req -= v.alloc
	s.busy -= v.size
	s.ret.freed(v.alloc)
}
