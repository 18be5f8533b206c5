package vfs

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice/sluice/image"
)

// VerdictsKept is how many verdicts are kept per user: the newest, in
// memory only (a restart forgets them; the audit log keeps every one).
const VerdictsKept = 32

// Verdict is what the image checks decided about one file, kept so that
// a user whose client shows only its own text for a status code (OpenSSH
// sftp and scp print "Permission denied") can learn why (docs/sftp.md,
// "Verdicts and device state"). A verdict is recorded, whichever front
// end the session uses, when
//
//   - a commit of a known file is checked (Op "rename" or "copy"): refused
//     by a check, or accepted;
//   - a known file written straight into a checked file system is refused
//     by PATH (Op "open");
//   - a staged file is refused as it arrives (Op "verify", the FTP
//     gateway's check of manual §5.1.6).
//
// Refusals that are not a check's (policy, busy, I/O) are not verdicts.
type Verdict struct {
	Time    time.Time
	Session string // the session's id: "ssh-N", "ftp-N"
	Op      string // "rename", "copy", "open", "verify"
	Source  string // the file checked, for a commit; "" otherwise
	Target  string // the commit's target, or the path opened or verified
	OK      bool
	// Check is, for a refusal, the check that refused the file in upper
	// case ("CRC"); for an accepted commit, the checks that were run
	// ("BIOS,CRC,LENGTH ..."), or "none".
	Check string
	// Text is, for a refusal, the manual's text (its SFTP wording, as
	// image.CheckError gives it: "Bad crc of checked file"); "" when OK.
	Text string
}

// verdictLog holds the newest verdicts of each user. Its zero value is
// ready; its mutex is a leaf lock.
type verdictLog struct {
	mu     sync.Mutex
	byUser map[string][]Verdict // oldest first, at most VerdictsKept
}

func (l *verdictLog) add(user string, v Verdict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUser == nil {
		l.byUser = map[string][]Verdict{}
	}
	vs := append(l.byUser[user], v)
	if len(vs) > VerdictsKept {
		vs = append(vs[:0:0], vs[len(vs)-VerdictsKept:]...)
	}
	l.byUser[user] = vs
}

func (l *verdictLog) list(user string) []Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Verdict(nil), l.byUser[user]...)
}

// Verdicts returns the newest verdicts of s's user, oldest first, from
// every front end and session of that user. Other users' are never
// returned.
func (f *FS) Verdicts(s *Session) []Verdict {
	if s == nil || s.User == nil {
		return nil
	}
	return f.verdicts.list(s.User.Name)
}

// verdictRefused records err as a verdict when an image check refused the
// file; other errors are not verdicts.
func (f *FS) verdictRefused(s *Session, op, source, target string, err error) {
	var ce *image.CheckError
	if s == nil || s.User == nil || KindOf(err) != KindCheck || !errors.As(err, &ce) {
		return
	}
	f.verdicts.add(s.User.Name, Verdict{Time: time.Now(), Session: s.ID, Op: op, Source: source, Target: target,
		Check: strings.ToUpper(ce.Check.String()), Text: ce.Error()})
}

// verdictOK records an accepted commit that ran checks.
func (f *FS) verdictOK(s *Session, op, source, target string, checks string) {
	if s == nil || s.User == nil {
		return
	}
	f.verdicts.add(s.User.Name, Verdict{Time: time.Now(), Session: s.ID, Op: op, Source: source, Target: target,
		OK: true, Check: strings.ToUpper(checks)})
}

// DeviceState is the device state as a user may see it (docs/sftp.md,
// "Verdicts and device state").
type DeviceState struct {
	// Shown is false when the user sees no host-backed file system: the
	// active application and the committed versions are not theirs to
	// see, and are left empty.
	Shown     bool
	Active    *ActiveApp  // nil: no application committed yet
	Committed []Committed // by kind, then name
	Checks    image.Check // the checks in force for the session
	// Staged are the user's own staged files in /mem, by name.
	Staged []Staged
	Buffer BufferStats
}

// ActiveApp is the active boot application and the firmware it requires.
type ActiveApp struct {
	Name, Version string
	Firmware      []Committed // Version is the minimum version required
}

// Committed is the newest version ever committed of a kind and imprinted
// name: what VERSION compares with.
type Committed struct {
	Kind, Name, Version string
}

// DeviceState returns the device state for s.
func (f *FS) DeviceState(s *Session) DeviceState {
	out := DeviceState{Checks: f.checksFor(s), Buffer: f.BufferStats()}
	if s == nil || s.User == nil {
		return out
	}
	for _, n := range f.order {
		if f.mounts[n].kind == kindHost && s.User.Sees(n) {
			out.Shown = true
		}
	}
	if out.Shown {
		f.state.mu.Lock()
		if a := f.state.d.Active; a != nil {
			out.Active = &ActiveApp{Name: a.Name, Version: a.Version}
			for _, fw := range a.Firmware {
				out.Active.Firmware = append(out.Active.Firmware, Committed{Kind: image.KindFirmware.String(), Name: fw.Name, Version: fw.MinVersion})
			}
		}
		for key, v := range f.state.d.Newest {
			k, name, _ := strings.Cut(key, "/")
			out.Committed = append(out.Committed, Committed{Kind: k, Name: name, Version: v})
		}
		f.state.mu.Unlock()
		sort.Slice(out.Committed, func(i, j int) bool {
			a, b := out.Committed[i], out.Committed[j]
			if a.Kind != b.Kind {
				return a.Kind < b.Kind
			}
			return a.Name < b.Name
		})
	}
	if s.User.Sees("mem") {
		for _, mi := range f.mem.List() {
			if mi.Owner.User != s.User.Name {
				continue
			}
			out.Staged = append(out.Staged, Staged{Info: Info{Name: mi.Name, Size: mi.Size, ModTime: mi.ModTime,
				Incomplete: mi.Incomplete}, Path: "/mem/" + mi.Name, Writing: mi.Writing})
		}
		sort.Slice(out.Staged, func(i, j int) bool { return out.Staged[i].Name < out.Staged[j].Name })
	}
	return out
}
