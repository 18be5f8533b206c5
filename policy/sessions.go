package policy

import (
	"errors"
	"sync"
)

// Errors from SessionLimiter.Acquire.
var (
	ErrTooManySessions      = errors.New("too many sessions")
	ErrTooManySessionsForIP = errors.New("too many sessions from this address")
)

// SessionLimiter enforces limits.max_sessions and max_sessions_per_ip
// across all front ends (one limiter is shared by SSH and FTP).
type SessionLimiter struct {
	max, perIP int

	mu    sync.Mutex
	total int
	byIP  map[string]int
}

// NewSessionLimiter returns a limiter for l (defaults filled by Load).
func NewSessionLimiter(l Limits) *SessionLimiter {
	return &SessionLimiter{max: l.MaxSessions, perIP: l.MaxSessionsPerIP, byIP: map[string]int{}}
}

// SetLimits applies new limits (a reload). Sessions already held keep
// their slots, even beyond a lowered maximum; new ones wait until the
// count is under it.
func (s *SessionLimiter) SetLimits(l Limits) {
	s.mu.Lock()
	s.max, s.perIP = l.MaxSessions, l.MaxSessionsPerIP
	s.mu.Unlock()
}

// Acquire takes a session slot for ip; release returns it (idempotent).
func (s *SessionLimiter) Acquire(ip string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.total >= s.max {
		return nil, ErrTooManySessions
	}
	if s.perIP > 0 && s.byIP[ip] >= s.perIP {
		return nil, ErrTooManySessionsForIP
	}
	s.total++
	s.byIP[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.total--
			if s.byIP[ip]--; s.byIP[ip] <= 0 {
				delete(s.byIP, ip)
			}
			s.mu.Unlock()
		})
	}, nil
}

// Active returns the number of sessions held and the maximum.
func (s *SessionLimiter) Active() (n, max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.max
}
