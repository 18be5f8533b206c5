package mem

import (
	"math"
	"runtime/debug"
	"sync"
	"time"
)

// The staging buffer is most of what the process holds, so this file also
// sizes the Go runtime around it (docs/performance.md, "Memory bound"):
// the process's RSS stays within
//
//	RSSBase + MaxBytes + sessions × SessionBudget
//
// because LimitRuntime sets the runtime's soft memory limit to that sum
// less RSSMargin, and freed chunks are handed back to the operating system
// (see returner) instead of staying in the heap until the next collection.
const (
	// SessionBudget is the memory one busy session may hold besides its
	// staged bytes. An SFTP upload holds x/crypto's 2 MiB channel window
	// and up to 16 WRITE bodies of 255 KiB in pkg/sftp (the wire guard's
	// in-flight cap): measured 3–3.5 MiB live at a collection, up to
	// 6.3 MiB in the worst case. The rest is room for the collector, so that
	// it does not run all the time.
	SessionBudget = 6 << 20
	// RSSBase is the process without sessions or staged files: the
	// binary's mapped code, the runtime, idle heap and listeners
	// (measured: 10 MiB at start).
	RSSBase = 32 << 20
	// RSSMargin is the part of RSSBase the Go runtime's limit does not
	// count or may overshoot: the binary's text and libc, which are not
	// Go memory, and the allocation that happens while a collection runs.
	RSSMargin = 16 << 20
)

// RSSBound returns the documented peak RSS of a process with a staging
// buffer of maxBytes and at most sessions sessions.
func RSSBound(maxBytes int64, sessions int) int64 {
	return RSSBase + maxBytes + int64(sessions)*SessionBudget
}

// LimitRuntime sets the Go runtime's soft memory limit
// (debug.SetMemoryLimit) to RSSBound(maxBytes, sessions) − RSSMargin, so
// that the collector runs before the heap grows past what the staged bytes
// and the sessions need (by default it lets the heap grow to twice the live
// memory, which would double MaxBytes). It does nothing when a limit is
// already set, by GOMEMLIMIT or an earlier call: an operator's choice wins.
// It returns the limit in effect and whether it set it.
//
// It changes process-wide state: cmd/ calls it once, before serving.
func LimitRuntime(maxBytes int64, sessions int) (limit int64, set bool) {
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		return cur, false
	}
	limit = RSSBound(maxBytes, sessions) - RSSMargin
	debug.SetMemoryLimit(limit)
	return limit, true
}

// Defaults of Config.ReturnThreshold and Config.ReturnInterval.
const (
	// DefaultReturnShift: the default threshold is MaxBytes >> it (1/8).
	DefaultReturnShift = 3
	// DefaultReturnInterval is the default Config.ReturnInterval.
	DefaultReturnInterval = time.Second
)

// returner hands freed staging memory back to the operating system.
//
// Freed chunks are garbage; the runtime reuses their memory but only
// returns it to the system slowly, and only after a collection, which an
// idle server may not run for two minutes. So once threshold bytes have
// been freed, returner calls fn (debug.FreeOSMemory: a collection, then
// every free page back to the system) on a timer's goroutine, never in the
// caller, which may hold Store.mu. Calls are at least interval apart: frees
// within an interval of the last call are returned at its end, together.
//
// Lock order: Store.mu before returner.mu; fn runs with neither held.
type returner struct {
	threshold int64         // immutable
	interval  time.Duration // immutable
	fn        func()        // immutable

	mu        sync.Mutex
	pending   int64     // guarded by mu: bytes freed since the last call began
	scheduled bool      // guarded by mu: a timer will call run
	last      time.Time // guarded by mu: when the last call ended
}

// freed records n bytes of chunks that became garbage. It is safe to call
// with Store.mu held. A nil returner (returns turned off) ignores it.
func (r *returner) freed(n int64) {
	if r == nil || n <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending += n
	r.scheduleLocked()
}

// scheduleLocked starts a timer for run if enough is pending and none is
// set. r.mu must be held.
func (r *returner) scheduleLocked() {
	if r.scheduled || r.pending < r.threshold {
		return
	}
	r.scheduled = true
	wait := r.interval - time.Since(r.last)
	time.AfterFunc(max(wait, 0), r.run)
}

// run calls fn, then schedules the next call if enough was freed meanwhile.
func (r *returner) run() {
	r.mu.Lock()
	r.pending = 0
	r.mu.Unlock()
	r.fn()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	r.scheduled = false
	r.scheduleLocked()
}
