package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the admission of a connection. Their texts are what the
// client is told (an SSH disconnect or an FTP 421).
var (
	ErrPreAuthFull    = errors.New("too many unauthenticated connections; try again later")
	ErrPreAuthSource  = errors.New("too many unauthenticated connections from this address")
	ErrPreAuthDropped = errors.New("too many unauthenticated connections; dropped at random, try again")
	ErrSourceBanned   = errors.New("address temporarily banned after repeated failures")
)

// Source is the key penalties and per-source limits count by: an IPv4
// address, or the /64 of an IPv6 address (one host usually holds a whole
// /64, as OpenSSH's PerSourceNetBlockSize 32:64 assumes).
func Source(ip net.IP) string {
	if ip == nil {
		return ""
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// SourceOf is Source of a connection's remote address.
func SourceOf(addr net.Addr) (string, net.IP) {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	default:
		if h, _, err := net.SplitHostPort(addr.String()); err == nil {
			ip = net.ParseIP(h)
		}
	}
	return Source(ip), ip
}

// Budget is one front end's pre-authentication budget: connections that
// have not logged in yet, in total and per source, with random early drop
// like OpenSSH's MaxStartups. It is separate from the session limit, so
// connections that never log in cannot take the slots of sessions.
type Budget struct {
	st        Startups
	perSource int
	allow     func(net.IP) bool
	rnd       func() int // 0..99

	mu    sync.Mutex
	total int
	bySrc map[string]int
}

// NewBudget returns a budget for l; allow exempts addresses from the
// per-source limit and from the random drop (nil: none).
func NewBudget(l Limits, allow func(net.IP) bool) *Budget {
	st := l.Startups
	if st.Full == 0 {
		st, _ = ParseStartups(DefaultMaxStartups)
	}
	if allow == nil {
		allow = func(net.IP) bool { return false }
	}
	return &Budget{st: st, perSource: l.MaxStartupsPerSource, allow: allow,
		rnd: func() int { return rand.IntN(100) }, bySrc: map[string]int{}}
}

// SetLimits applies new limits (a reload); connections already admitted
// keep their slots.
func (b *Budget) SetLimits(l Limits) {
	st := l.Startups
	if st.Full == 0 {
		st, _ = ParseStartups(DefaultMaxStartups)
	}
	b.mu.Lock()
	b.st, b.perSource = st, l.MaxStartupsPerSource
	b.mu.Unlock()
}

// SetRand replaces the random source of the early drop (tests).
func (b *Budget) SetRand(f func() int) { b.rnd = f }

// Admit takes a pre-authentication slot for a connection from ip;
// release returns it (idempotent). The error says why not.
func (b *Budget) Admit(ip net.IP) (release func(), err error) {
	src := Source(ip)
	allowed := b.allow(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total >= b.st.Full {
		return nil, ErrPreAuthFull
	}
	mine := b.bySrc[src]
	if !allowed && b.perSource > 0 && mine >= b.perSource {
		return nil, ErrPreAuthSource
	}
	// Random early drop, only for sources that already have a connection
	// in progress: a source that has none (an operator) is admitted until
	// the budget is full, however many others are waiting.
	if !allowed && mine > 0 && b.total >= b.st.Start {
		p := 100
		if b.st.Full > b.st.Start {
			p = b.st.Rate + (100-b.st.Rate)*(b.total-b.st.Start)/(b.st.Full-b.st.Start)
		}
		if b.rnd() < p {
			return nil, ErrPreAuthDropped
		}
	}
	b.total++
	b.bySrc[src]++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.total--
			if b.bySrc[src]--; b.bySrc[src] <= 0 {
				delete(b.bySrc, src)
			}
			b.mu.Unlock()
		})
	}, nil
}

// InProgress returns the number of unauthenticated connections.
func (b *Budget) InProgress() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// Event is something a source did that costs it points.
type Event int

const (
	EventPassword    Event = iota // a failed password of a known user
	EventUnknownUser              // a login attempt as an unknown user
	EventNoAuth                   // a connection that ended without logging in
	EventLimit                    // a connection refused by a limit
)

func (e Event) String() string {
	switch e {
	case EventPassword:
		return "failed password"
	case EventUnknownUser:
		return "unknown user"
	case EventNoAuth:
		return "never authenticated"
	case EventLimit:
		return "limit exceeded"
	}
	return fmt.Sprintf("event %d", int(e))
}

// Ban is a banned source.
type Ban struct {
	Source string    `json:"source"`
	Until  time.Time `json:"until"`
	Count  int       `json:"count"` // bans of this source so far, this one included
	Reason string    `json:"reason"`
}

// Defender keeps per-source scores and bans, shared by SSH and FTP (DESIGN
// §6). Memory is bounded by Penalties.MaxSources.
type Defender struct {
	cfg atomic.Pointer[Penalties] // SetPenalties replaces it (reload)
	// Now is the clock (tests inject one).
	Now func() time.Time
	// OnBan, if set, is called (outside the lock) when a source is banned:
	// the audit log and the ban list.
	OnBan func(Ban)

	mu   sync.Mutex
	srcs map[string]*srcState

	lmu   sync.Mutex
	locks map[string]*srcLock // Serialize
}

type srcLock struct {
	mu   sync.Mutex
	refs int
}

// Serialize makes a source's password checks one at a time: between the
// ban check, the evaluation and the scoring of one guess no other guess of
// the source is evaluated, so a source gets at most threshold/points
// guesses answered however many connections it opens. unlock must be
// called.
func (d *Defender) Serialize(ip net.IP) (unlock func()) {
	if d == nil {
		return func() {}
	}
	src := Source(ip)
	d.lmu.Lock()
	l := d.locks[src]
	if l == nil {
		l = &srcLock{}
		d.locks[src] = l
	}
	l.refs++
	d.lmu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		d.lmu.Lock()
		if l.refs--; l.refs == 0 {
			delete(d.locks, src)
		}
		d.lmu.Unlock()
	}
}

type srcState struct {
	events  []scored // within Observation, oldest first
	until   time.Time
	bans    int
	lastBan time.Time
	reason  string // the event that led to the ban in force
}

type scored struct {
	at     time.Time
	points int
}

// NewDefender returns a Defender for p (defaults filled by Load).
func NewDefender(p Penalties) *Defender {
	if p.Threshold == 0 { // not from Load: the defaults
		var c Config
		_ = c.fillPenalties()
		c.Penalties.Enabled, c.Penalties.Allow, c.Penalties.AllowNets = p.Enabled, p.Allow, p.AllowNets
		p = c.Penalties
	}
	d := &Defender{Now: time.Now, srcs: map[string]*srcState{}, locks: map[string]*srcLock{}}
	d.cfg.Store(&p)
	return d
}

// SetPenalties puts p in force for every later event and check (a
// reload of [penalties]). Scores and bans already given stay: a source
// banned under the old settings stays banned until its ban ends; its
// points count against the new threshold. Off (enabled = false) ignores
// every score and ban from then on.
func (d *Defender) SetPenalties(p Penalties) {
	if d == nil {
		return
	}
	n := NewDefender(p)
	d.cfg.Store(n.cfg.Load())
}

// pen is the penalties in force.
func (d *Defender) pen() *Penalties { return d.cfg.Load() }

// Allowed reports whether ip is on the allow-list.
func (d *Defender) Allowed(ip net.IP) bool {
	if d == nil {
		return false
	}
	for _, n := range d.pen().AllowNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// Banned reports whether ip's source is banned now, and until when.
func (d *Defender) Banned(ip net.IP) (time.Time, bool) {
	if d == nil || !d.pen().On() || d.Allowed(ip) {
		return time.Time{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.srcs[Source(ip)]
	if st == nil {
		return time.Time{}, false
	}
	if now := d.Now(); now.Before(st.until) {
		return st.until, true
	}
	return time.Time{}, false
}

// Add scores ev for ip's source and reports whether the source is banned
// (now, or already).
func (d *Defender) Add(ip net.IP, ev Event) bool {
	if d == nil || !d.pen().On() || d.Allowed(ip) {
		return false
	}
	cfg := d.pen()
	pts := cfg.points(ev)
	src := Source(ip)
	d.mu.Lock()
	now := d.Now()
	st := d.srcs[src]
	if st == nil {
		if len(d.srcs) >= cfg.MaxSources {
			d.pruneLocked(now, cfg)
		}
		if len(d.srcs) >= cfg.MaxSources {
			d.mu.Unlock()
			return false // permissive on overflow
		}
		st = &srcState{}
		d.srcs[src] = st
	}
	if now.Before(st.until) {
		d.mu.Unlock()
		return true
	}
	if pts == 0 {
		d.mu.Unlock()
		return false
	}
	st.expire(now, cfg.Observation)
	st.events = append(st.events, scored{now, pts})
	total := 0
	for _, e := range st.events {
		total += e.points
	}
	if total < cfg.Threshold {
		d.mu.Unlock()
		return false
	}
	// Repetition is forgotten after a quiet MaxBanTime since the last ban.
	if !st.lastBan.IsZero() && now.Sub(st.lastBan) > cfg.MaxBanTime+cfg.Observation {
		st.bans = 0
	}
	st.bans++
	dur := cfg.BanTime
	for i := 1; i < st.bans && dur < cfg.MaxBanTime; i++ {
		dur *= 2
	}
	dur = min(dur, cfg.MaxBanTime)
	st.until, st.lastBan, st.events, st.reason = now.Add(dur), now, nil, ev.String()
	ban := Ban{Source: src, Until: st.until, Count: st.bans, Reason: ev.String()}
	d.mu.Unlock()
	if d.OnBan != nil {
		d.OnBan(ban)
	}
	return true
}

func (p *Penalties) points(ev Event) int {
	switch ev {
	case EventPassword:
		return p.ScorePassword
	case EventUnknownUser:
		return p.ScoreUnknownUser
	case EventNoAuth:
		return p.ScoreNoAuth
	case EventLimit:
		return p.ScoreLimit
	}
	return 0
}

func (st *srcState) expire(now time.Time, obs time.Duration) {
	i := 0
	for i < len(st.events) && now.Sub(st.events[i].at) > obs {
		i++
	}
	st.events = st.events[i:]
}

// pruneLocked forgets sources with no ban in force, no points left and
// no repetition to remember.
func (d *Defender) pruneLocked(now time.Time, cfg *Penalties) {
	for k, st := range d.srcs {
		st.expire(now, cfg.Observation)
		if len(st.events) == 0 && !now.Before(st.until) &&
			(st.lastBan.IsZero() || now.Sub(st.lastBan) > cfg.MaxBanTime+cfg.Observation) {
			delete(d.srcs, k)
		}
	}
}

// Bans returns the bans in force, soonest to end first.
func (d *Defender) Bans() []Ban {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	var out []Ban
	for k, st := range d.srcs {
		if now.Before(st.until) {
			out = append(out, Ban{Source: k, Until: st.until, Count: st.bans, Reason: st.reason})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Until.Before(out[j].Until) })
	return out
}
