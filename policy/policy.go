package policy

import (
	"errors"
	"fmt"
	"slices"
)

// Level is a user's access level (manual §3.2).
type Level string

// The levels. SFTP defaults: supervisor may do everything, guest may list
// and download, viewer may only list.
const (
	Supervisor Level = "supervisor"
	Guest      Level = "guest"
	Viewer     Level = "viewer"
)

func (l Level) valid() bool { return l == Supervisor || l == Guest || l == Viewer }

// Op is an operation that needs a permission.
type Op int

// The operations. Commit is a rename or copy that lands a file on a
// persistent file system (dsk, bio, ...).
const (
	OpList Op = iota
	OpRead
	OpWrite
	OpDelete
	OpRename
	OpCommit
)

var opNames = [...]string{"list", "read", "write", "delete", "rename", "commit"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Errors returned by Allow. ErrNotVisible means the file system is outside
// the user's sandbox: front ends answer as if it did not exist.
var (
	ErrDenied     = errors.New("operation denied")
	ErrNotVisible = errors.New("file system not visible")
)

var levelDefaults = map[Level][6]bool{
	//           list  read   write  delete rename commit
	Supervisor: {true, true, true, true, true, true},
	Guest:      {true, true, false, false, false, false},
	Viewer:     {true, false, false, false, false, false},
}

// Allow is the one decision function: may user u do op on file system fs?
// Every front end reaches it through vfs. fs is "" for the root listing.
// The returned error wraps ErrDenied or ErrNotVisible.
func Allow(u *User, op Op, fs string) error {
	if u == nil {
		return fmt.Errorf("%w: no user", ErrDenied)
	}
	if fs == "" {
		if op == OpList {
			return nil
		}
		return fmt.Errorf("%w: %s on /", ErrDenied, op)
	}
	if !u.Sees(fs) {
		return fmt.Errorf("%w: %s", ErrNotVisible, fs)
	}
	if u.Incoming != "" && fs == u.Incoming {
		// Upload-only: write (and the commit that completes it), nothing that
		// reads or destroys what others put there.
		if op == OpWrite || op == OpCommit {
			return nil
		}
		return fmt.Errorf("%w: %s on upload-only %s", ErrDenied, op, fs)
	}
	if !u.may(op) {
		return fmt.Errorf("%w: %s for %s", ErrDenied, op, u.Name)
	}
	return nil
}

// Sees reports whether fs is inside the user's sandbox.
func (u *User) Sees(fs string) bool {
	return len(u.FileSystems) == 0 || slices.Contains(u.FileSystems, fs) || fs == u.Incoming
}

func (u *User) may(op Op) bool {
	p := u.Permissions
	over := [...]*bool{p.List, p.Read, p.Write, p.Delete, p.Rename, p.Commit}
	if int(op) >= len(over) {
		return false
	}
	if o := over[op]; o != nil {
		return *o
	}
	return levelDefaults[u.Level][op]
}

// IsSupervisor reports whether u has the supervisor level.
func (u *User) IsSupervisor() bool { return u != nil && u.Level == Supervisor }
