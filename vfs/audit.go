package vfs

import (
	"errors"
	"time"

	"github.com/sluice/sluice/image"
)

// The audit events of vfs (docs/operations.md, "Logs and audit"). Every
// event names the session as user, session ("ssh-N" or "ftp-N") and
// remote_addr; durations are duration_ms, whole milliseconds.
//
//   - "refused" (warn): a policy denial (kind "denied") or an image check
//     failure (kind "check failed") outside a commit, with op, path, kind,
//     check and reason (for a check failure), error and text;
//   - "transfer" (info; warn unless ok): an upload or download with
//     direction, path, bytes, duration_ms and result;
//   - "commit" and "rename" (info; warn when failed): with source, target,
//     result, and for a failure check, reason, text and error;
//   - "remove" (info), "discard" (warn).

// auditSession is the fields naming s in every audit event.
func auditSession(s *Session) []any {
	return []any{"user", s.User.Name, "session", s.ID, "remote_addr", s.Remote}
}

// durationMS is d in whole milliseconds, the audit's duration_ms.
func durationMS(d time.Duration) int64 { return d.Milliseconds() }

// refusalFields are the fields telling why err refused an operation:
// kind; for an image check, check (its name) and reason; error (the
// detail); and text, the reply the session's front end sent (Session.Text).
func refusalFields(s *Session, err error) []any {
	out := []any{"kind", KindOf(err).String()}
	var ce *image.CheckError
	if errors.As(err, &ce) {
		out = append(out, "check", ce.Check.String(), "reason", ce.Reason.String())
	}
	out = append(out, "error", err.Error())
	if s != nil && s.Text != nil {
		out = append(out, "text", s.Text(err))
	}
	return out
}

// refused audits a refused operation at warn when err is a policy denial
// or an image check failure, and returns err. Other failures (not found,
// busy, I/O) are the front ends' to log.
func (f *FS) refused(s *Session, err error) error {
	if err == nil || s == nil || s.User == nil {
		return err
	}
	switch KindOf(err) {
	case KindDenied, KindCheck:
	default:
		return err
	}
	var e *Error
	errors.As(err, &e)
	f.verdictRefused(s, e.Op, "", e.Path, err)
	args := append(auditSession(s), "op", e.Op, "path", e.Path)
	f.audit.Warn("refused", append(args, refusalFields(s, err)...)...)
	return err
}
