package ftpgateway

import (
	"errors"

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

// ftpStatus maps a vfs error to the manual's reply (§1.4) for the
// command: the one table from error kinds to FTP codes and texts. Details
// go to the log, never to the client.
func ftpStatus(o op, err error) (int, string) {
	var ce *image.CheckError
	if errors.As(err, &ce) {
		if ce.FTPCode != 0 {
			return ce.FTPCode, ce.FTPText
		}
		return 550, "Unable to open file."
	}
	switch vfs.KindOf(err) {
	case vfs.KindInvalidPath:
		if o == opList {
			return 501, "Invalid pathname."
		}
		return 501, "Invalid pathname."
	case vfs.KindInvalidName, vfs.KindPathTooLong:
		if o == opList {
			return 501, "Pathname too long."
		}
		return 501, "Invalid filename."
	case vfs.KindNotFound:
		switch o {
		case opDele:
			return 550, "Unable to delete file."
		case opRnto:
			return 550, "Unable to rename file."
		case opRnfr, opInfo:
			return 550, "File not found."
		}
		return 550, "Unable to open file."
	case vfs.KindBusy:
		return 450, "Error, system busy."
	case vfs.KindDenied:
		return 530, "Access denied, not logged in."
	case vfs.KindNoSpace:
		return 552, "Not enough space to save file."
	case vfs.KindOffset:
		return 554, "Unable to seek in file."
	case vfs.KindIdentical:
		return 550, "Unable to rename file."
	case vfs.KindIsDir:
		return 550, "Unable to open file."
	}
	switch o {
	case opRetr:
		return 550, "Error reading file."
	case opStor:
		return 550, "Error writing file."
	case opDele:
		return 550, "Unable to delete file."
	case opRnto:
		return 550, "Unable to rename file."
	case opList:
		return 450, "Error opening File System."
	}
	return 550, "Unable to open file."
}
