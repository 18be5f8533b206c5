package vfs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"io"
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

// randomFile serves size pseudo-random bytes: the AES-128-CTR keystream
// of a key derived from the file's path (SHA-256 of "fs/name"), the
// counter starting at 0, so ReadAt at any offset is one counter set-up
// and the data is incompressible and the same on every read. With AES
// in hardware the keystream costs far less than the SSH transport that
// carries it (issue 11: ChaCha8 from math/rand/v2 took 32 % of the server's
// CPU during `get /tst/N`).
type randomFile struct {
	block cipher.Block
	size  int64
}

func newRandomFile(fsName, name string, size int64) *randomFile {
	key := sha256.Sum256([]byte(fsName + "/" + name))
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &randomFile{block: b, size: size}
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
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/aes.BlockSize))
	ks := cipher.NewCTR(r.block, iv[:])
	if skip := int(off % aes.BlockSize); skip > 0 {
		var head [aes.BlockSize]byte
		ks.XORKeyStream(head[:skip], head[:skip])
	}
	clear(p)
	ks.XORKeyStream(p, p)
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
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
