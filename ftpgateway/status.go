package ftpgateway

import (
	"errors"
	"strconv"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/vfs"
)

// op names the command a vfs error came from.
type op int

const (
	opRetr op = iota
	opStor
	opList
	opDele
	opRnfr
	opRnto
	opInfo // SIZE, MDTM, XCRC, XMD5
)

// ftpStatus maps a vfs error to the manual's reply line (§1.4) for the
// command: the one table from error kinds to FTP replies (docs/ftp.md,
// "Errors"). Details go to the log, never to the client.
func ftpStatus(o op, err error) string {
	var ce *image.CheckError
	if errors.As(err, &ce) {
		if ce.FTPCode != 0 {
			return strconv.Itoa(ce.FTPCode) + " " + ce.FTPText
		}
		return string(replyOpenFailed)
	}
	switch vfs.KindOf(err) {
	case vfs.KindInvalidPath:
		return string(replyInvalidPath)
	case vfs.KindInvalidName:
		return string(replyInvalidName)
	case vfs.KindPathTooLong:
		if o == opList {
			return string(replyPathTooLong)
		}
		return string(replyInvalidName)
	case vfs.KindNotFound:
		switch o {
		case opDele:
			return string(replyDeleFailed)
		case opRnto:
			return string(replyRntoFailed)
		case opRnfr, opInfo:
			return string(replyNotFound)
		}
		return string(replyOpenFailed)
	case vfs.KindBusy:
		return string(replyBusy)
	case vfs.KindDenied:
		if errors.Is(err, vfs.ErrActiveApp) {
			return string(replyDeleFailed)
		}
		return string(replyDenied)
	case vfs.KindNoSpace:
		// The staging buffer or the disk is full (§5.1.1).
		return string(replyWriteError)
	case vfs.KindOffset:
		return string(replySeekFailed)
	case vfs.KindIdentical:
		return string(replyRntoFailed)
	case vfs.KindIsDir:
		return string(replyOpenFailed)
	}
	switch o {
	case opRetr:
		return string(replyReadError)
	case opStor:
		return string(replyWriteError)
	case opDele:
		return string(replyDeleFailed)
	case opRnto:
		return string(replyRntoFailed)
	case opList:
		return string(replyFSOpenError)
	}
	return string(replyOpenFailed)
}
