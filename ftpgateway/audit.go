package ftpgateway

import (
	"errors"

	"github.com/sluice/sluice/vfs"
)

// auditText is the reply this front end's table (ftpStatus) gives a
// refused or failed operation: the manual's reply, which the audit logs
// with the refusal or the failed commit (vfs.Session.Text). The command
// is told by the vfs operation that failed; a denial or a check failure
// gets the same reply whatever the command.
func auditText(err error) string {
	o := opRetr
	var e *vfs.Error
	if errors.As(err, &e) {
		switch e.Op {
		case "rename", "copy":
			o = opRnto
		case "remove":
			o = opDele
		case "list":
			o = opList
		case "stat", "setstat":
			o = opInfo
		case "close", "write", "truncate", "verify":
			o = opStor
		}
	}
	return ftpStatus(o, err)
}
