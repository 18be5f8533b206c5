package mem

import (
	"io"
	"testing"
)

// BenchmarkWriteAt stages a file with sequential 256 KiB writes, as an SFTP
// upload with large requests does, publishing and removing it every time
// the buffer fills.
func BenchmarkWriteAt(b *testing.B) {
	const (
		block    = 256 << 10
		maxBytes = 64 << 20
	)
	s := newTestStore(b, maxBytes, 0)
	p := randomBytes(block, 1)
	b.SetBytes(block)
	b.ReportAllocs()
	w, err := s.Create("bench", Owner{})
	if err != nil {
		b.Fatal(err)
	}
	var off int64
	for b.Loop() {
		if off+block > maxBytes {
			w.Abort()
			if w, err = s.Create("bench", Owner{}); err != nil {
				b.Fatal(err)
			}
			off = 0
		}
		if _, err := w.WriteAt(p, off); err != nil {
			b.Fatal(err)
		}
		off += block
	}
	w.Abort()
}

// BenchmarkWriteTo streams a published 16 MiB file, as a commit does.
func BenchmarkWriteTo(b *testing.B) {
	const size = 16 << 20
	s := newTestStore(b, size, 0)
	stage(b, s, "bench", randomBytes(size, 2))
	f, err := s.Open("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
