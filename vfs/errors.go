package vfs

import (
	"errors"
	"fmt"
)

// Kind classifies a vfs error. Front ends map kinds (with the operation and
// Side) to their wire codes and the manual's fixed texts; the wrapped error
// carries details for the log only.
type Kind int

// The kinds.
const (
	KindIO          Kind = iota // internal or host I/O failure
	KindNotFound                // no such file
	KindInvalidPath             // no such file system, or a path below a file
	KindInvalidName             // a name the device cannot store
	KindPathTooLong             // name longer than the configured limit
	KindBusy                    // file or exclusive file system in use
	KindDenied                  // policy refused the operation
	KindNoSpace                 // staging buffer or disk full
	KindUnsupported             // operation the device does not have
	KindIsDir                   // a file operation on a directory
	KindIdentical               // rename onto itself
	KindOffset                  // offset or size negative or past the file size limit
	KindCheck                   // an image check refused the file; Err holds the *image.CheckError
	KindIncomplete              // an upload with a hole or cut by its connection, or a commit of one
)

var kindNames = [...]string{"io", "not found", "invalid path", "invalid name", "path too long",
	"busy", "denied", "no space", "unsupported", "is a directory", "identical paths", "bad offset", "check failed", "incomplete"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Side says which path of a two-path operation (rename) an error is about.
type Side int

// The sides.
const (
	SideNone Side = iota
	SideSource
	SideTarget
)

// Error is the error type of every exported vfs operation.
type Error struct {
	Kind Kind
	Side Side
	Op   string // "open", "rename", ...
	Path string
	Err  error // detail for the log; may be nil
}

func (e *Error) Error() string {
	s := "vfs: " + e.Op + " " + e.Path + ": " + e.Kind.String()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, KindIO for foreign errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindIO
}

// SideOf returns the side of err.
func SideOf(err error) Side {
	var e *Error
	if errors.As(err, &e) {
		return e.Side
	}
	return SideNone
}

func newErr(kind Kind, op, path string, err error) *Error {
	return &Error{Kind: kind, Op: op, Path: path, Err: err}
}

// sided returns err with its side set when it is a vfs error.
func sided(err error, side Side) error {
	var e *Error
	if errors.As(err, &e) && e.Side == SideNone {
		c := *e
		c.Side = side
		return &c
	}
	return err
}
