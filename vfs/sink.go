package vfs

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// MaxTestSize is the largest size a numeric test-sink name may ask for
// (manual §3.3: "a number that can be from 1 to 100 million").
const MaxTestSize = 100_000_000

// sink is a test file system (tst, ts1): an upload is read and discarded,
// only its name and length are kept, one file per sink. Reading that name,
// or a decimal name N, returns pseudo-random bytes.
type sink struct {
	fsName string

	mu   sync.Mutex
	name string // the one stored file; "" if none
	size int64
	mod  time.Time
}

func newSink(fsName string) *sink { return &sink{fsName: fsName} }

// lookup returns the size served for name.
func (s *sink) lookup(name string) (Info, bool) {
	s.mu.Lock()
	if s.name != "" && name == s.name {
		i := Info{Name: s.name, Size: s.size, ModTime: s.mod}
		s.mu.Unlock()
		return i, true
	}
	s.mu.Unlock()
	if n, err := strconv.ParseInt(name, 10, 64); err == nil && n >= 1 && n <= MaxTestSize &&
		strconv.FormatInt(n, 10) == name {
		return Info{Name: name, Size: n, ModTime: time.Now()}, true
	}
	return Info{}, false
}

func (s *sink) list() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" {
		return nil
	}
	return []Info{{Name: s.name, Size: s.size, ModTime: s.mod}}
}

func (s *sink) store(name string, size int64) {
	s.mu.Lock()
	s.name, s.size, s.mod = name, size, time.Now()
	s.mu.Unlock()
}

func (s *sink) remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" || s.name != name {
		return false
	}
	s.name, s.size = "", 0
	return true
}

// sinkBlock is the unit of generated data. Each block comes from its own
// ChaCha8 stream seeded by (name, block index), so ReadAt at any offset is
// cheap and the data is incompressible and repeatable.
const sinkBlock = 4096

// randomFile serves size pseudo-random bytes.
type randomFile struct {
	seed [32]byte
	size int64
}

func newRandomFile(fsName, name string, size int64) *randomFile {
	return &randomFile{seed: sha256.Sum256([]byte(fsName + "/" + name)), size: size}
}

func (r *randomFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := len(p)
	if rem := r.size - off; int64(want) > rem {
		p = p[:rem]
	}
	var buf [sinkBlock]byte
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		blk := pos / sinkBlock
		in := int(pos % sinkBlock)
		seed := r.seed
		binary.LittleEndian.PutUint64(seed[:8], binary.LittleEndian.Uint64(seed[:8])^uint64(blk))
		g := rand.NewChaCha8(seed)
		if in == 0 && len(p)-n >= sinkBlock {
			_, _ = g.Read(p[n : n+sinkBlock]) // ChaCha8.Read never fails
			n += sinkBlock
			continue
		}
		_, _ = g.Read(buf[:])
		n += copy(p[n:], buf[in:])
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

func (r *randomFile) Size() int64  { return r.size }
func (r *randomFile) Close() error { return nil }

// sinkWriter counts what is written and keeps the name and length.
type sinkWriter struct {
	s    *sink
	name string
	mu   sync.Mutex
	end  int64
}

func (w *sinkWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	w.mu.Lock()
	if e := off + int64(len(p)); e > w.end {
		w.end = e
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *sinkWriter) Truncate(size int64) error {
	if size < 0 {
		return errNegativeOffset
	}
	w.mu.Lock()
	w.end = size
	w.mu.Unlock()
	return nil
}

func (w *sinkWriter) size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end
}
