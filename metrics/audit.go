package metrics

import (
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// The audit events counted, by message (the call sites are in sshd,
// ftpgateway, vfs and cmd/sluice; docs/operations.md lists their fields).
const (
	evLogin        = "login"         // front end's login ok: method
	evLoginFailed  = "login failed"  // method
	evSessionStart = "session start" // session, remote_addr
	evSessionEnd   = "session end"   // session, remote_addr
	evTransfer     = "transfer"      // session, direction, bytes, result
	evCommit       = "commit"        // session, result
	evBan          = "ban"           // source
)

// WrapAudit returns a logger that forwards everything to l and counts the
// audit events it carries. Events are counted whatever l's level, so a
// quiet log does not make quiet metrics. Loggers derived with With or
// Named keep counting, with the With pairs seen as event fields.
func (m *Metrics) WrapAudit(l hclog.Logger) hclog.Logger {
	return &auditLogger{Logger: l, m: m}
}

// auditLogger is an hclog.Logger whose logging methods also count. The
// methods not overridden (levels, StandardLogger, ...) are l's.
type auditLogger struct {
	hclog.Logger
	m       *Metrics
	implied []interface{}
}

func (a *auditLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Log(level, msg, args...)
}

func (a *auditLogger) Trace(msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Trace(msg, args...)
}

func (a *auditLogger) Debug(msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Debug(msg, args...)
}

func (a *auditLogger) Info(msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Info(msg, args...)
}

func (a *auditLogger) Warn(msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Warn(msg, args...)
}

func (a *auditLogger) Error(msg string, args ...interface{}) {
	a.m.observe(msg, a.implied, args)
	a.Logger.Error(msg, args...)
}

func (a *auditLogger) With(args ...interface{}) hclog.Logger {
	implied := append(append([]interface{}(nil), a.implied...), args...)
	return &auditLogger{Logger: a.Logger.With(args...), m: a.m, implied: implied}
}

func (a *auditLogger) Named(name string) hclog.Logger {
	return &auditLogger{Logger: a.Logger.Named(name), m: a.m, implied: a.implied}
}

func (a *auditLogger) ResetNamed(name string) hclog.Logger {
	return &auditLogger{Logger: a.Logger.ResetNamed(name), m: a.m, implied: a.implied}
}

// fields are an event's key/value pairs, the logger's With pairs first
// (a later pair wins, as in the log line).
type fields struct{ implied, args []interface{} }

func (f fields) get(key string) (interface{}, bool) {
	for _, kv := range [][]interface{}{f.args, f.implied} {
		for i := len(kv) - 2; i >= 0; i -= 2 {
			if k, ok := kv[i].(string); ok && k == key {
				return kv[i+1], true
			}
		}
	}
	return nil, false
}

func (f fields) str(key string) string {
	v, ok := f.get(key)
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

// int returns a non-negative integer field (bytes); anything else is 0.
func (f fields) int(key string) float64 {
	v, _ := f.get(key)
	switch n := v.(type) {
	case int:
		return float64(max(n, 0))
	case int64:
		return float64(max(n, 0))
	case int32:
		return float64(max(n, 0))
	case uint:
		return float64(n)
	case uint64:
		return float64(n)
	case uint32:
		return float64(n)
	}
	return 0
}

func (m *Metrics) observe(msg string, implied, args []interface{}) {
	switch msg {
	case evLogin, evLoginFailed, evSessionStart, evSessionEnd, evTransfer, evCommit, evBan:
	default:
		return
	}
	f := fields{implied, args}
	switch msg {
	case evLogin:
		fe := frontOfLogin(f)
		m.logins.WithLabelValues(fe, resultOK).Inc()
		m.open.loggedIn(f.str("remote_addr"), fe)
	case evLoginFailed:
		m.logins.WithLabelValues(frontOfLogin(f), resultFailed).Inc()
	case evSessionStart:
		if fe, ok := m.open.start(f.str("remote_addr"), f.str("session")); ok {
			m.sessions.WithLabelValues(fe).Inc()
		}
	case evSessionEnd:
		if fe, ok := m.open.end(f.str("remote_addr"), f.str("session")); ok {
			m.sessions.WithLabelValues(fe).Dec()
		}
	case evTransfer:
		fe, dir := frontOfSession(f.str("session")), f.str("direction")
		if dir != "upload" && dir != "download" {
			return
		}
		m.transfers.WithLabelValues(fe, dir, transferResult(f)).Inc()
		m.transferBytes.WithLabelValues(fe, dir).Add(f.int("bytes"))
	case evCommit:
		res := resultFailed
		if f.str("result") == resultOK {
			res = resultOK
		}
		m.commits.WithLabelValues(frontOfSession(f.str("session")), res).Inc()
	case evBan:
		m.bans.Inc()
	}
}

// transferResult folds a transfer's result into ok, aborted, cut (the
// connection went away; "cut, kept incomplete" too) and failed. A
// transfer without a result (downloads, before they carried one) is ok.
func transferResult(f fields) string {
	r, ok := f.get("result")
	if !ok {
		return resultOK
	}
	s, _ := r.(string)
	switch {
	case s == resultOK, s == resultAborted:
		return s
	case strings.HasPrefix(s, resultCut):
		return resultCut
	}
	return resultFailed
}

// frontOfLogin names the front end of a login event: from its session id
// when it has one, else from its method.
func frontOfLogin(f fields) string {
	if fe := frontOfSession(f.str("session")); fe != frontUnknown {
		return fe
	}
	return frontOfMethod(f.str("method"))
}

// frontOfMethod names the front end from a login method: FTP's are
// "ftp-…", the SSH ones are SSH method names.
func frontOfMethod(method string) string {
	switch {
	case strings.HasPrefix(method, "ftp"):
		return frontFTP
	case method != "":
		return frontSSH
	}
	return frontUnknown
}

// frontOfSession names the front end from a session id ("ssh-1",
// "ftp-2"), or "unknown" for an id without one.
func frontOfSession(id string) string {
	switch {
	case strings.HasPrefix(id, frontSSH+"-"):
		return frontSSH
	case strings.HasPrefix(id, frontFTP+"-"):
		return frontFTP
	}
	return frontUnknown
}

// maxPending bounds the logins remembered for a session start that has
// not come (a login refused by the session limit after authentication).
const maxPending = 4096

// openSessions knows which sessions are open, so that a repeated or
// unmatched "session end" never drives the gauge below zero, and which
// front end each belongs to: from its id, or, for an id without a
// front-end prefix, from the login on the same connection (remote_addr
// carries the port, so it names one connection).
type openSessions struct {
	mu      sync.Mutex
	pending map[string]string // remote_addr → front end of its login
	open    map[string]string // remote_addr + session → front end
}

func (o *openSessions) loggedIn(remote, fe string) {
	if remote == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == nil || len(o.pending) >= maxPending {
		o.pending = make(map[string]string)
	}
	o.pending[remote] = fe
}

func (o *openSessions) start(remote, session string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := remote + "\x00" + session
	if _, dup := o.open[key]; dup {
		return "", false
	}
	fe := frontOfSession(session)
	if fe == frontUnknown {
		if p, ok := o.pending[remote]; ok {
			fe = p
		}
	}
	delete(o.pending, remote)
	if o.open == nil {
		o.open = make(map[string]string)
	}
	o.open[key] = fe
	return fe, true
}

func (o *openSessions) end(remote, session string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := remote + "\x00" + session
	fe, ok := o.open[key]
	delete(o.open, key)
	return fe, ok
}
