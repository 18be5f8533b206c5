package mem

import (
	"io/fs"
	"sync"
	"time"
)

// Writer stages one file. Its methods are safe for concurrent use: many
// goroutines may call WriteAt at once, at any offsets, in any order.
//
// Lock order: w.mu before Store.mu (see Store). WriteAt copies data while
// holding only w.mu, so concurrent writes to one file are serialised but
// never hold up other files or the Store.
type Writer struct {
	s       *Store    // immutable
	name    string    // immutable
	owner   Owner     // immutable
	created time.Time // immutable

	mu     sync.Mutex
	closed bool     // guarded by mu; set by Close or Abort
	chunks [][]byte // guarded by mu; chunk i covers [i*chunkSize, (i+1)*chunkSize), nil is a hole
	nalloc int64    // guarded by mu; non-nil entries in chunks
	// size is the logical size. It is written with both mu and s.mu held
	// and may be read with either, so Store.Stat never needs w.mu.
	size int64
}

// Name returns the name the Writer will publish under.
func (w *Writer) Name() string { return w.name }

// Owner returns the owner recorded at Create.
func (w *Writer) Owner() Owner { return w.owner }

// WriteAt writes p at offset off, allocating the chunks it touches that are
// not yet allocated. If off+len(p) is beyond the current size, the size
// becomes off+len(p); bytes never written read as zeros.
//
// If the chunks cannot all be allocated within MaxBytes, or off+len(p)
// exceeds MaxBytes, WriteAt writes nothing and returns ErrNoSpace; chunks
// allocated by earlier calls are kept.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	s := w.s
	if off < 0 {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrInvalid}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: ErrClosed}
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Compare without computing off+len(p), which could overflow.
	if off > s.max-int64(len(p)) {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: ErrNoSpace}
	}
	end := off + int64(len(p))
	cs := s.chunkSize
	first, last := off/cs, (end-1)/cs

	var missing int64
	for i := first; i <= last; i++ {
		if i >= int64(len(w.chunks)) || w.chunks[i] == nil {
			missing++
		}
	}
	if missing > 0 || end > w.size {
		// Reserve all chunks at once so a failing call leaves no partial
		// allocation behind.
		s.mu.Lock()
		if s.req+missing*cs > s.max {
			s.mu.Unlock()
			return 0, &fs.PathError{Op: "write", Path: w.name, Err: ErrNoSpace}
		}
		s.req += missing * cs
		if end > w.size {
			s.busy += end - w.size
			w.size = end
		}
		s.mu.Unlock()
	}

	if last >= int64(len(w.chunks)) {
		w.growChunks(int(last + 1))
	}
	n := 0
	for i := first; i <= last; i++ {
		c := w.chunks[i]
		if c == nil {
			c = make([]byte, cs)
			w.chunks[i] = c
			w.nalloc++
		}
		n += copy(c[off+int64(n)-i*cs:], p[n:])
	}
	return n, nil
}

// growChunks extends the chunk table to n entries. Capacity at least
// doubles, so a sequential upload does not copy the table on every chunk.
func (w *Writer) growChunks(n int) {
	if n <= cap(w.chunks) {
		w.chunks = w.chunks[:n]
		return
	}
	grown := make([][]byte, n, max(n, 2*cap(w.chunks)))
	copy(grown, w.chunks)
	w.chunks = grown
}

// Truncate sets the logical size. Shrinking frees every chunk wholly beyond
// the new size and zeroes the tail of the last one, so growing the file
// again later exposes zeros, not stale data. Growing allocates nothing: the
// new range is a hole. A size beyond MaxBytes returns ErrNoSpace.
func (w *Writer) Truncate(size int64) error {
	s := w.s
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: w.name, Err: fs.ErrInvalid}
	}
	if size > s.max {
		return &fs.PathError{Op: "truncate", Path: w.name, Err: ErrNoSpace}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return &fs.PathError{Op: "truncate", Path: w.name, Err: ErrClosed}
	}
	cs := s.chunkSize
	var freed int64
	if size < w.size {
		if rem := size % cs; rem != 0 && size/cs < int64(len(w.chunks)) {
			if c := w.chunks[size/cs]; c != nil {
				clear(c[rem:])
			}
		}
		keep := (size + cs - 1) / cs
		for i := keep; i < int64(len(w.chunks)); i++ {
			if w.chunks[i] != nil {
				w.chunks[i] = nil // let the GC have it
				freed++
			}
		}
		if keep < int64(len(w.chunks)) {
			w.chunks = w.chunks[:keep]
		}
		w.nalloc -= freed
	}
	s.mu.Lock()
	s.req -= freed * cs
	s.busy += size - w.size
	w.size = size
	s.ret.freed(freed * cs)
	s.mu.Unlock()
	return nil
}

// Size returns the current logical size.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Close publishes the file: it atomically replaces any file published under
// the same name (whose memory is freed, or kept until its last open File is
// closed) with ModTime set to now. A second Close returns ErrClosed.
func (w *Writer) Close() error { return w.publish(time.Time{}, false) }

// CloseAt is Close with ModTime set to mtime (a time the client set with
// SFTP SETSTAT or FTP MFMT); a zero mtime means now.
func (w *Writer) CloseAt(mtime time.Time) error { return w.publish(mtime, false) }

// Suspend publishes the first size bytes as an incomplete file: an upload
// cut short that Store.Resume can continue and that Store.Open refuses
// (ErrIncomplete). Bytes past size are freed. It replaces a published file
// of the same name like Close.
func (w *Writer) Suspend(size int64) error {
	if err := w.Truncate(size); err != nil {
		return err
	}
	return w.publish(time.Time{}, true)
}

func (w *Writer) publish(mtime time.Time, incomplete bool) error {
	s := w.s
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return &fs.PathError{Op: "close", Path: w.name, Err: ErrClosed}
	}
	w.closed = true
	if mtime.IsZero() {
		mtime = time.Now()
	}
	v := &version{
		chunks:     w.chunks,
		size:       w.size,
		alloc:      w.nalloc * s.chunkSize,
		modTime:    mtime,
		owner:      w.owner,
		incomplete: incomplete,
	}
	w.chunks = nil
	s.mu.Lock()
	delete(s.writers, w.name)
	s.publishLocked(w.name, v)
	s.mu.Unlock()
	return nil
}

// Abort discards everything written and frees its memory; a file previously
// published under the name is left in place. Abort after Close or Abort does
// nothing, so it can be deferred unconditionally.
func (w *Writer) Abort() {
	s := w.s
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.chunks = nil
	s.mu.Lock()
	delete(s.writers, w.name)
	s.req -= w.nalloc * s.chunkSize
	s.busy -= w.size
	w.size = 0
	s.ret.freed(w.nalloc * s.chunkSize)
	s.mu.Unlock()
	w.nalloc = 0
}
