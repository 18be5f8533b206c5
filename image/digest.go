package image

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"hash/crc32"
)

// Digest checks an image in the same pass that copies it. Feed it every
// byte of the file, in order (an io.MultiWriter next to the commit's
// temporary file, or the writer side of an io.Copy); it computes
//
//   - the CRC-32 of the payload,
//   - the SHA-256 of the first SignedLen bytes (the signed digest), taken as
//     a snapshot of the same running SHA-256 that then goes on to
//   - the SHA-256 of the whole file, for the audit log,
//
// and confirms that the header and the records streamed are the bytes
// Parse read, so that what Precheck decided on is what was committed.
// The SHA-256 runs once over the data; the CRC uses the CPU's carry-less
// multiply.
//
// A Digest is not safe for concurrent use.
type Digest struct {
	im         *Image
	n          int64
	crc        uint32
	sha        hash.Hash
	signed     [sha256.Size]byte
	signedDone bool
	changed    bool
}

// NewDigest returns a Digest for im. im may be nil (a file that is not an
// image): then only the file SHA-256 is computed.
func (im *Image) NewDigest() *Digest {
	return &Digest{im: im, sha: sha256.New()}
}

// Write adds p, the next bytes of the file. It never fails.
func (d *Digest) Write(p []byte) (int, error) {
	total := len(p)
	if d.im != nil {
		d.track(p)
	}
	if want := d.signedLen(); !d.signedDone && want > 0 && d.n+int64(len(p)) >= want {
		k := want - d.n
		d.sha.Write(p[:k])
		d.sha.Sum(d.signed[:0])
		d.signedDone = true
		p = p[k:]
	}
	d.sha.Write(p)
	d.n += int64(total)
	return total, nil
}

func (d *Digest) signedLen() int64 {
	if d.im == nil {
		return 0
	}
	return d.im.SignedLen
}

// track updates the payload CRC and compares header and tail bytes.
func (d *Digest) track(p []byte) {
	im := d.im
	off, end := d.n, d.n+int64(len(p))
	// slice returns the part of p that falls in [lo, hi) of the file, and
	// where that part starts relative to lo.
	slice := func(lo, hi int64) ([]byte, int64) {
		a, b := max(off, lo), min(end, hi)
		if a >= b {
			return nil, 0
		}
		return p[a-off : b-off], a - lo
	}
	if b, at := slice(0, HeaderSize); b != nil && !bytes.Equal(b, im.header[at:at+int64(len(b))]) {
		d.changed = true
	}
	if b, _ := slice(HeaderSize, im.payloadEnd()); b != nil {
		d.crc = crc32.Update(d.crc, crc32.IEEETable, b)
	}
	if b, at := slice(im.payloadEnd(), im.Size); b != nil && !bytes.Equal(b, im.tail[at:at+int64(len(b))]) {
		d.changed = true
	}
	if end > im.Size {
		d.changed = true
	}
}

// Len returns the number of bytes written so far.
func (d *Digest) Len() int64 { return d.n }

// PayloadCRC returns the CRC-32 (IEEE) of the payload bytes written so far.
func (d *Digest) PayloadCRC() uint32 { return d.crc }

// SignedSHA256 returns the SHA-256 of the first SignedLen bytes, and false
// if the image is unsigned or not that many bytes were written.
func (d *Digest) SignedSHA256() ([sha256.Size]byte, bool) {
	return d.signed, d.signedDone
}

// FileSHA256 returns the SHA-256 of every byte written so far.
func (d *Digest) FileSHA256() [sha256.Size]byte {
	var s [sha256.Size]byte
	d.sha.Sum(s[:0])
	return s
}

// complete reports whether exactly the parsed bytes were written.
func (d *Digest) complete() bool {
	return !d.changed && d.n == d.im.Size
}
