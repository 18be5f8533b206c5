package sftphandler

import (
	"errors"
	"fmt"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/vfs"
)

// SSH_FX_* status codes (draft-ietf-secsh-filexfer-02 §7).
const (
	fxOK            = 0
	fxEOF           = 1
	fxNoSuchFile    = 2
	fxPermDenied    = 3
	fxFailure       = 4
	fxBadMessage    = 5
	fxOpUnsupported = 8
)

// The manual's status texts (§1.7). Clients see only these; details go to
// the log.
const (
	msgUnsupported     = "Operation not supported by this system"
	msgReadWrite       = "READ/WRITE simultaneous not supported by this system"
	msgRWUndefined     = "R/W operation not defined"
	msgBadLength       = "Bad message length"
	msgStringTooLong   = "String too long for this system"
	msgInvalidHandle   = "Invalid handler"
	msgIllegalOp       = "Illegal operation"
	msgNoHandle        = "Unable to allocate handler"
	msgInvalidPath     = "Invalid Path"
	msgInvalidOldPath  = "Invalid Old Path"
	msgInvalidNewPath  = "Invalid New Path"
	msgNotFound        = "File not found"
	msgInvalidName     = "Invalid filename"
	msgPathTooLong     = "Path too long"
	msgOldTooLong      = "Old Path too long"
	msgNewTooLong      = "New Path too long"
	msgFSBusy          = "Filesystem busy"
	msgSourceBusy      = "Source filesystem busy"
	msgTargetBusy      = "Target filesystem busy"
	msgDenied          = "Operation denied to this client"
	msgOpenFailed      = "Unable to open file"
	msgReadFailed      = "Unable to read file"
	msgWriteFailed     = "Unable to write file"
	msgNoWriteBuffer   = "Unable to allocate write buffer"
	msgRemoveFailed    = "Unable to remove file"
	msgIdentical       = "Computed paths are identical"
	msgReadSource      = "Unable to read source file, operation aborted..."
	msgWriteTarget     = "Unable to write target file, operation aborted..."
	msgRenameFailed    = "Unable to rename file"
	msgClosed          = "File/Dir closed OK"
	msgWritten         = "Write file OK"
	msgRemoved         = "File removed OK"
	msgMoved           = "File moved OK"
	msgRenamed         = "File renamed OK"
	msgReadEOF         = "Read end of file"
	msgNoMoreFiles     = "No more files"
	msgNotEnoughMemory = "Not enough memory to process READDIR"
	msgPastEOF         = "Unable to set offset past eof"
	msgCheckSource     = "Unable to check source file"
	msgKeptActive      = "Active application kept until replaced"
	msgSeekFailed      = "Unable to seek offset in file"
)

// The check verdicts: the manual's RENAME texts (§1.7), OPEN's "Check
// target path ..." and sluice's own where the manual has none (signature,
// HW-SUPPORTED, PROFILE, boot images; docs/image-format.md). A %s is the
// image kind's word (checkKindWord); "%d" pairs: received level, required
// level.
const (
	msgCheckUnknown       = "Unknown checked file type"
	msgCheckLength        = "Bad length of checked file"
	msgCheckCRC           = "Bad crc of checked file"
	msgCheckUnsigned      = "Unsigned checked file"
	msgCheckUnknownKey    = "Unknown signing key of checked file"
	msgCheckBadSignature  = "Bad signature of checked file"
	msgCheckHWLevel       = "%s not supported by hardware level (rcvd. %d, reqd. %d)"
	msgCheckHWLevelDot    = "%s not supported by hardware level (rcvd. %d, reqd. %d)." // sic: the manual's Firmware and BIOS forms
	msgCheckHWSupported   = "%s not supported by present hardware"
	msgCheckBIOS          = "%s not supported by present BIOS"
	msgCheckProfile       = "%s incompatible with the stored profile"
	msgCheckOlder         = "%s older than the one stored"
	msgCheckBIOSOlder     = "BIOS older than the stored one"    // sic: not "the one stored"
	msgCheckBootOlder     = "Version older than the stored one" // boot images
	msgCheckFwMisbuilt    = "Firmware misbuilt"
	msgCheckFwUnknown     = "Firmware unknown"
	msgCheckFwNotRequired = "Firmware not required"
	msgCheckTargetPath    = "Check target path for possible bios/application file"
	msgCheckTargetPathFw  = "Check target path for possible firmware file"
	msgCheckAltFS         = "Alternate file system not loaded"
)

// checkKindWord is the word a check text starts with for each image kind.
func checkKindWord(k image.Kind) string {
	switch k {
	case image.KindApplication:
		return "Application"
	case image.KindBIOS:
		return "BIOS"
	case image.KindFirmware:
		return "Firmware"
	case image.KindBoot:
		return "Boot"
	}
	return "File"
}

// statusError is how a handler gives the serve loop an exact code and
// text: the loop sends Error() as the message and takes the code from the
// sftp.ErrSSHFx* value that Unwrap returns (DESIGN §5).
type statusError struct {
	code  error
	msg   string
	cause error // for the log
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.code }

func status(code error, msg string, cause error) error {
	return &statusError{code: code, msg: msg, cause: cause}
}

// op names the request a vfs error came from, for the table below.
type op int

const (
	opOpen op = iota
	opRead
	opWrite
	opClose
	opStat
	opOpendir
	opRemove
	opRename
	opSetstat
)

// toStatus maps a vfs error to the manual's status for the request. This
// is the one table from error kinds to SFTP codes and texts.
func toStatus(o op, err error) error {
	if err == nil {
		return nil
	}
	kind, side := vfs.KindOf(err), vfs.SideOf(err)
	pick := func(plain, old, new string) string {
		switch side {
		case vfs.SideSource:
			return old
		case vfs.SideTarget:
			return new
		}
		return plain
	}
	switch kind {
	case vfs.KindInvalidPath:
		if o == opRename {
			return status(sftp.ErrSSHFxNoSuchFile, pick(msgInvalidPath, msgInvalidOldPath, msgInvalidNewPath), err)
		}
		return status(sftp.ErrSSHFxNoSuchFile, msgInvalidPath, err)
	case vfs.KindNotFound:
		if o == opOpendir {
			return status(sftp.ErrSSHFxNoSuchFile, msgInvalidPath, err)
		}
		return status(sftp.ErrSSHFxNoSuchFile, msgNotFound, err)
	case vfs.KindInvalidName:
		return status(sftp.ErrSSHFxFailure, msgInvalidName, err)
	case vfs.KindPathTooLong:
		if o == opRename {
			return status(sftp.ErrSSHFxFailure, pick(msgPathTooLong, msgOldTooLong, msgNewTooLong), err)
		}
		return status(sftp.ErrSSHFxFailure, msgPathTooLong, err)
	case vfs.KindBusy:
		if o == opRename {
			return status(sftp.ErrSSHFxPermissionDenied, pick(msgFSBusy, msgSourceBusy, msgTargetBusy), err)
		}
		return status(sftp.ErrSSHFxPermissionDenied, msgFSBusy, err)
	case vfs.KindDenied:
		return status(sftp.ErrSSHFxPermissionDenied, msgDenied, err)
	case vfs.KindUnsupported:
		return status(sftp.ErrSSHFxOpUnsupported, msgUnsupported, err)
	case vfs.KindIdentical:
		return status(sftp.ErrSSHFxFailure, msgIdentical, err)
	case vfs.KindNoSpace:
		switch o {
		case opWrite:
			return status(sftp.ErrSSHFxFailure, msgNoWriteBuffer, err)
		case opRename:
			return status(sftp.ErrSSHFxFailure, msgWriteTarget, err)
		}
	case vfs.KindCheck:
		var ce *image.CheckError
		if errors.As(err, &ce) {
			code, msg := checkStatus(ce)
			return status(code, msg, err)
		}
	case vfs.KindOffset:
		if o == opRead {
			return status(sftp.ErrSSHFxFailure, msgSeekFailed, err)
		}
		return status(sftp.ErrSSHFxFailure, msgPastEOF, err)
	case vfs.KindIsDir:
		if o == opRemove {
			return status(sftp.ErrSSHFxFailure, msgRemoveFailed, err)
		}
		return status(sftp.ErrSSHFxFailure, msgOpenFailed, err)
	}
	// KindIO and the rest.
	switch o {
	case opRead:
		return status(sftp.ErrSSHFxFailure, msgReadFailed, err)
	case opWrite, opClose:
		return status(sftp.ErrSSHFxFailure, msgWriteFailed, err)
	case opRemove:
		return status(sftp.ErrSSHFxFailure, msgRemoveFailed, err)
	case opRename:
		if errors.Is(err, vfs.ErrCheckSource) {
			return status(sftp.ErrSSHFxFailure, msgCheckSource, err)
		}
		return status(sftp.ErrSSHFxFailure, pick(msgRenameFailed, msgReadSource, msgWriteTarget), err)
	}
	return status(sftp.ErrSSHFxFailure, msgOpenFailed, err)
}

// checkStatus maps a refused image check to the manual's status: the
// RENAME list (§1.7), or "Check target path ..." for a direct OPEN. LENGTH
// and CRC are FAILURE (the transfer went wrong), every other refusal
// PERMISSION_DENIED (the file is refused). A reason this table does not
// know gets PERMISSION_DENIED "Operation denied to this client".
func checkStatus(ce *image.CheckError) (code error, msg string) {
	word := checkKindWord(ce.Kind)
	denied := sftp.ErrSSHFxPermissionDenied
	switch ce.Reason {
	case image.ReasonUnknownType:
		return denied, msgCheckUnknown
	case image.ReasonLength:
		return sftp.ErrSSHFxFailure, msgCheckLength
	case image.ReasonCRC:
		return sftp.ErrSSHFxFailure, msgCheckCRC
	case image.ReasonUnsigned:
		return denied, msgCheckUnsigned
	case image.ReasonUnknownKey:
		return denied, msgCheckUnknownKey
	case image.ReasonBadSignature:
		return denied, msgCheckBadSignature
	case image.ReasonHWLevel:
		f := msgCheckHWLevel
		if ce.Kind == image.KindFirmware || ce.Kind == image.KindBIOS {
			f = msgCheckHWLevelDot
		}
		return denied, fmt.Sprintf(f, word, ce.Rcvd, ce.Reqd)
	case image.ReasonHWSupported:
		return denied, fmt.Sprintf(msgCheckHWSupported, word)
	case image.ReasonBIOS:
		return denied, fmt.Sprintf(msgCheckBIOS, word)
	case image.ReasonProfile:
		return denied, fmt.Sprintf(msgCheckProfile, word)
	case image.ReasonOlder:
		switch ce.Kind {
		case image.KindBIOS:
			return denied, msgCheckBIOSOlder
		case image.KindBoot:
			return denied, msgCheckBootOlder
		}
		return denied, fmt.Sprintf(msgCheckOlder, word)
	case image.ReasonFirmwareMisbuilt:
		return denied, msgCheckFwMisbuilt
	case image.ReasonFirmwareUnknown:
		return denied, msgCheckFwUnknown
	case image.ReasonFirmwareNotRequired:
		return denied, msgCheckFwNotRequired
	case image.ReasonTargetPath:
		if ce.Kind == image.KindFirmware {
			return denied, msgCheckTargetPathFw
		}
		return denied, msgCheckTargetPath
	case image.ReasonAltFS:
		return denied, msgCheckAltFS
	}
	return denied, msgDenied
}

// fixedText replaces the generic texts on replies the handlers
// cannot word themselves: success of CLOSE and WRITE, and end of file.
func fixedText(reqType byte, code uint32, msg string) (string, bool) {
	switch {
	case code == fxOK && reqType == fxpClose:
		return msgClosed, true
	case code == fxOK && reqType == fxpWrite:
		return msgWritten, true
	case code == fxEOF && reqType == fxpRead:
		return msgReadEOF, true
	case code == fxEOF && reqType == fxpReaddir:
		return msgNoMoreFiles, true
	case code == fxFailure && (msg == "bad file descriptor" || msg == "file already closed"):
		return msgInvalidHandle, true
	}
	return "", false
}
