package image

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
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
//
// A panic in the hashing goroutine does not stop the process: Copy stops
// and returns it as a *PanicError, and d is then unusable.
func Copy(dst io.Writer, src io.Reader, d *Digest) (n int64, err error) {
	hashq := make(chan []byte, copyBuffers)
	free := make(chan []byte, copyBuffers)
	var hashErr error      // set by the hasher before it closes free
	var failed atomic.Bool // the hasher panicked: stop copying
	go func() {
		defer close(free)
		defer func() {
			if r := recover(); r != nil {
				hashErr = &PanicError{Value: r, Stack: debug.Stack()}
				failed.Store(true)
				for b := range hashq { // hand the buffers back unhashed
					free <- b[:cap(b)]
				}
			}
		}()
		for b := range hashq {
			d.Write(b)
			free <- b[:cap(b)]
		}
	}()
	// Also when src or dst panics: the hasher must not outlive Copy.
	defer func() {
		close(hashq)
		for range free { // wait for the hasher to finish
		}
		if hashErr != nil {
			err = hashErr
		}
	}()
	made := 0
	for !failed.Load() {
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
	return n, err
}

// PanicError is a panic in Copy's hashing goroutine, returned to Copy's
// caller instead of ending the process. Stack is that goroutine's stack,
// for the log.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("image: copy: panic while hashing: %v", e.Value)
}
