package sftphandler

import (
	"errors"
	"io"

	"github.com/sluice/sluice/vfs"
)

// AuditText is the status text this front end's table (toStatus) gives a
// refused or failed operation: the manual's text, which the audit logs
// with the refusal or the failed commit (vfs.Session.Text). The request
// is told by the vfs operation that failed.
func AuditText(err error) string {
	o := opOpen
	var e *vfs.Error
	if errors.As(err, &e) {
		switch e.Op {
		case "rename", "copy", "verify":
			o = opRename
		case "remove":
			o = opRemove
		case "stat":
			o = opStat
		case "list":
			o = opOpendir
		case "setstat", "truncate":
			o = opSetstat
		case "write":
			o = opWrite
		case "close":
			o = opClose
		case "read":
			o = opRead
		}
	}
	return toStatus(o, err).Error()
}

// TransferError is called by the serve loop when the session ends with the read
// handle open: the download is audited as aborted.
func (h *readHandle) TransferError(err error) {
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	h.r.Abort(err)
}
