package image

import (
	"bytes"
	"crypto/sha256"
	"hash/crc32"
	"io"
	"testing"
)

// BenchmarkDigest measures the commit's checking cost per byte: Digest.Write
// over a 64 MiB signed image in 256 KiB writes (the size vfs copies with),
// against its two parts alone.
func BenchmarkDigest(b *testing.B) {
	const size, chunk = 64 << 20, 256 << 10
	data := mustBuild(b, appOpts(), make([]byte, size))
	im, err := parseBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, write func([]byte)) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for p := data; len(p) > 0; {
				n := min(chunk, len(p))
				write(p[:n])
				p = p[n:]
			}
		}
	}
	b.Run("digest", func(b *testing.B) {
		var d *Digest
		run(b, func(p []byte) {
			if d == nil || d.Len() == int64(len(data)) {
				d = im.NewDigest()
			}
			d.Write(p)
		})
	})
	b.Run("sha256-only", func(b *testing.B) {
		h := sha256.New()
		run(b, func(p []byte) { h.Write(p) })
	})
	b.Run("crc32-only", func(b *testing.B) {
		var c uint32
		run(b, func(p []byte) { c = crc32.Update(c, crc32.IEEETable, p) })
	})
}

// BenchmarkParse measures Parse on a signed image with firmware records.
func BenchmarkParse(b *testing.B) {
	data := mustBuild(b, appOpts(), make([]byte, 4096))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopy compares the commit's copy with the digest in line
// (io.Copy to an io.MultiWriter) and overlapped (Copy), writing to a
// memory sink as a page-cache write would.
func BenchmarkCopy(b *testing.B) {
	data := mustBuild(b, appOpts(), make([]byte, 64<<20))
	im, err := parseBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	sink := make([]byte, len(data))
	b.Run("multiwriter", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			d := im.NewDigest()
			w := &sliceWriter{buf: sink}
			if _, err := io.CopyBuffer(io.MultiWriter(w, d), bytes.NewReader(data), make([]byte, copyChunk)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("overlapped", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			d := im.NewDigest()
			if _, err := Copy(&sliceWriter{buf: sink}, bytes.NewReader(data), d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type sliceWriter struct {
	buf []byte
	n   int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.n += copy(w.buf[w.n:], p)
	return len(p), nil
}
