package mem

import (
	"io"
	"io/fs"
	"sync/atomic"
)

// File is an immutable snapshot of a published file, returned by
// Store.Open. Its methods are safe for concurrent use. It keeps its content
// (and the memory charged for it) alive until Close, even if the name is
// replaced or removed meanwhile.
type File struct {
	s    *Store // immutable
	info Info   // immutable

	// v is the content; Close swaps it to nil. Reading it atomically lets
	// ReadAt and WriteTo run without a lock and still see ErrClosed after
	// Close; a read already in progress keeps its own pointer and finishes
	// on valid (immutable) data.
	v atomic.Pointer[version]
}

// Compile-time checks that File fits the interfaces its callers use.
var (
	_ io.ReaderAt = (*File)(nil)
	_ io.WriterTo = (*File)(nil)
	_ io.Closer   = (*File)(nil)
)

// ReadAt reads len(p) bytes at offset off, with io.ReaderAt semantics: if
// fewer than len(p) bytes are available before the end of the file it
// returns them with io.EOF. Holes read as zeros.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	v := f.v.Load()
	if v == nil {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name, Err: ErrClosed}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name, Err: fs.ErrInvalid}
	}
	if off >= v.size {
		return 0, io.EOF
	}
	want := p
	if rest := v.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	cs := f.s.chunkSize
	n := 0
	for n < len(want) {
		pos := off + int64(n)
		i, within := pos/cs, pos%cs
		m := min(int64(len(want)-n), cs-within)
		if i < int64(len(v.chunks)) && v.chunks[i] != nil {
			copy(want[n:n+int(m)], v.chunks[i][within:])
		} else {
			clear(want[n : n+int(m)])
		}
		n += int(m)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size returns the file's size.
func (f *File) Size() int64 { return f.info.Size }

// Info describes the snapshot as it was when opened.
func (f *File) Info() Info { return f.info }

// WriteTo writes the whole file to w, handing each chunk to w directly
// rather than assembling a copy, so committing a staged file makes a single
// pass over its bytes. Holes are written as zeros from a small buffer
// allocated only if the file has any.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	v := f.v.Load()
	if v == nil {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name, Err: ErrClosed}
	}
	cs := f.s.chunkSize
	var zeros []byte
	var total int64
	for pos := int64(0); pos < v.size; {
		i := pos / cs
		end := min(v.size, (i+1)*cs)
		var err error
		if i < int64(len(v.chunks)) && v.chunks[i] != nil {
			err = writeFull(w, v.chunks[i][:end-i*cs], &total)
		} else {
			if zeros == nil {
				zeros = make([]byte, min(cs, 32<<10))
			}
			for p := pos; p < end && err == nil; p += int64(len(zeros)) {
				err = writeFull(w, zeros[:min(int64(len(zeros)), end-p)], &total)
			}
		}
		if err != nil {
			return total, err
		}
		pos = end
	}
	return total, nil
}

// writeFull writes b to w, adds the bytes written to *total, and turns a
// short write without an error into io.ErrShortWrite (as io.Copy does).
func writeFull(w io.Writer, b []byte, total *int64) error {
	n, err := w.Write(b)
	*total += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// Close releases the snapshot. When it was the last reference to a version
// that has been replaced or removed, the version's memory is uncharged from
// Stats.Req. A second Close returns ErrClosed.
func (f *File) Close() error {
	v := f.v.Swap(nil)
	if v == nil {
		return &fs.PathError{Op: "close", Path: f.info.Name, Err: ErrClosed}
	}
	f.s.mu.Lock()
	f.s.releaseLocked(v)
	f.s.mu.Unlock()
	return nil
}
