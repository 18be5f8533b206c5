package image

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"strings"
	"testing"
)

// panicHash is a SHA-256 that panics on its write number at (0 = the
// first).
type panicHash struct {
	hash.Hash
	at, writes int
}

func (h *panicHash) Write(p []byte) (int, error) {
	if h.writes == h.at {
		panic("test panic in the hasher")
	}
	h.writes++
	return h.Hash.Write(p)
}

// TestCopyHasherPanic: a panic in Copy's hashing goroutine comes back to
// the caller as a *PanicError with the hasher's stack; the process goes
// on, and Copy neither hangs nor leaves the hasher running.
func TestCopyHasherPanic(t *testing.T) {
	data := testPayload(copyBuffers*copyChunk*2 + 17) // more chunks than buffers
	tests := []struct {
		name string
		d    func() *Digest
	}{
		{"first chunk", func() *Digest { return &Digest{sha: &panicHash{Hash: sha256.New(), at: 0}} }},
		{"later chunk", func() *Digest { return &Digest{sha: &panicHash{Hash: sha256.New(), at: copyBuffers + 1}} }},
		{"zero digest", func() *Digest { return &Digest{} }}, // a nil hash: a runtime error, not a panic call
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Copy(io.Discard, bytes.NewReader(data), tt.d())
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Copy: got %d, %v, want a *PanicError", n, err)
			}
			if !strings.Contains(string(pe.Stack), "image.(*Digest).Write") {
				t.Errorf("PanicError.Stack does not show the digest:\n%s", pe.Stack)
			}
			if !strings.HasPrefix(err.Error(), "image: copy: panic while hashing: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

// TestCopyHasherPanicWriteError: when the write fails too, the panic is
// what Copy reports (d no longer matches what was written).
func TestCopyHasherPanicWriteError(t *testing.T) {
	data := testPayload(3 * copyChunk)
	d := &Digest{sha: &panicHash{Hash: sha256.New(), at: 0}}
	_, err := Copy(&limitWriter{left: copyChunk / 2}, bytes.NewReader(data), d)
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Copy: got %v, want a *PanicError", err)
	}
}

// TestCopySourcePanic: a panic in the caller's reader propagates to the
// caller (its goroutine, its recover), after Copy has stopped the hasher.
func TestCopySourcePanic(t *testing.T) {
	src := io.MultiReader(bytes.NewReader(testPayload(2*copyChunk)), panicReader{})
	defer func() {
		if r := recover(); r != "test panic in the reader" {
			t.Errorf("recovered %v, want the reader's panic", r)
		}
	}()
	Copy(io.Discard, src, (*Image)(nil).NewDigest())
	t.Error("Copy returned after its reader panicked")
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("test panic in the reader") }
