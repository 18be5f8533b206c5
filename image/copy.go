package image

import (
	"errors"
	"io"
)

// copyChunk and copyBuffers size Copy's pipeline: enough to keep the
// hasher and the writer both busy, little enough to be nothing next to
// the staging buffer.
const (
	copyChunk   = 1 << 20
	copyBuffers = 4
)

// Copy copies src to dst until EOF, like io.Copy, and feeds every byte to
// d. The hashing runs in a second goroutine on the same buffers the
// writer is writing, so a commit costs about the slower of the write and
// the digest rather than their sum; the bytes are read once. d must not
// be used by anyone else until Copy returns; when Copy returns, d has seen
// exactly the n bytes written to dst.
func Copy(dst io.Writer, src io.Reader, d *Digest) (n int64, err error) {
	hashq := make(chan []byte, copyBuffers)
	free := make(chan []byte, copyBuffers)
	go func() {
		defer close(free)
		for b := range hashq {
			d.Write(b)
			free <- b[:cap(b)]
		}
	}()
	made := 0
	for {
		var buf []byte
		if made < copyBuffers && len(free) == 0 {
			buf = make([]byte, copyChunk)
			made++
		} else {
			buf = <-free
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			hashq <- buf[:nr] // the hasher reads buf while we write it
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr == nil && nw != nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				err = werr
				break
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
	}
	close(hashq)
	for range free { // wait for the hasher to finish
	}
	return n, err
}
