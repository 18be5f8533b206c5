package ftpput

import (
	"errors"
	"strings"
	"unicode"
)

// Kind classifies a failed put: it selects the manual's message printed
// on standard output (§6.1.1) and the exit status.
type Kind int

const (
	TransferFailed  Kind = iota + 1 // after login: STOR refused or failed, data connection failed
	ConnectionError                 // no connection, no 220, AUTH TLS or handshake failed, dropped before login
	LoginError                      // USER/PASS refused, or TYPE I, PBSZ or PROT refused
	Aborted                         // ctx cancelled (Ctrl-C), or a timeout
)

// Message returns the manual's text for k (§6.1.1). "Transfer error" is
// sluice's own: the manual lists no message for a server that refuses
// the file after a good login.
func (k Kind) Message() string {
	switch k {
	case ConnectionError:
		return "Connection error"
	case LoginError:
		return "Login error"
	case Aborted:
		return "Operation aborted or timeout expired"
	}
	return "Transfer error"
}

// ExitCode is the exit status for k, as docs/put.md lists it.
func (k Kind) ExitCode() int {
	switch k {
	case ConnectionError:
		return 3
	case LoginError:
		return 4
	case Aborted:
		return 5
	}
	return 1
}

// Error is a failed put. Its Kind chose the line already printed on
// standard output; Error gives the details for standard error.
type Error struct {
	Kind Kind
	Op   string // "connect HOST:PORT", "login", "STOR NAME"
	Err  error
}

// Error strips control characters: the text may come from the server,
// and goes to a terminal.
func (e *Error) Error() string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, strings.ReplaceAll("put: "+e.Op+": "+e.Err.Error(), "\n", "; "))
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode maps Put's error to the exit status: 0 for nil, the Kind's
// status for an *Error, and 1 for anything else (FILE unreadable).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind.ExitCode()
	}
	return 1
}
