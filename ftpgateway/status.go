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

// ftpStatus maps a vfs error to the manual's reply line (§1.4) for the
// command: the one table from error kinds to FTP replies (docs/ftp.md,
// "Errors"). Details go to the log, never to the client.
func ftpStatus(o op, err error) string {
	var ce *image.CheckError
	if errors.As(err, &ce) {
		return checkReply(ce)
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

// checkReply maps a refused image check to the manual's reply (§1.4.3
// STOR, §5.1.6): by the check's Reason and, where the text names it, the
// image's Kind (replies.go lists the verdicts). A direct write of a known
// file gets "550 Unable to open file." as the manual's STOR does; a reason
// this table does not know gets the same.
func checkReply(ce *image.CheckError) string {
	k, word := ce.Kind, kindWord(ce.Kind)
	switch ce.Reason {
	case image.ReasonUnknownType:
		return string(replyCheckUnknown)
	case image.ReasonLength:
		return string(replyCheckLength)
	case image.ReasonCRC:
		return string(replyCheckCRC)
	case image.ReasonUnsigned:
		return string(replyCheckUnsigned)
	case image.ReasonUnknownKey:
		return string(replyCheckUnknownKey)
	case image.ReasonBadSignature:
		return string(replyCheckBadSignature)
	case image.ReasonHWLevel:
		switch k {
		case image.KindApplication:
			return line1(replyCheckAppHWLevel, ce.Rcvd, ce.Reqd)
		case image.KindFirmware:
			return line1(replyCheckFwHWLevel, ce.Rcvd, ce.Reqd)
		case image.KindBIOS:
			return line1(replyCheckBIOSHWLevel, ce.Rcvd, ce.Reqd)
		}
		return line1(replyCheckHWLevel, word, ce.Rcvd, ce.Reqd)
	case image.ReasonHWSupported:
		return line1(replyCheckHWSupported, word)
	case image.ReasonBIOS:
		if k == image.KindApplication {
			return string(replyCheckAppBIOS)
		}
		return line1(replyCheckBIOS, word)
	case image.ReasonProfile:
		if k == image.KindApplication {
			return string(replyCheckAppProfile)
		}
		return line1(replyCheckProfile, word)
	case image.ReasonOlder:
		switch k {
		case image.KindApplication:
			return string(replyCheckAppOld)
		case image.KindFirmware:
			return string(replyCheckFwOld)
		case image.KindBIOS:
			return string(replyCheckBIOSOld)
		case image.KindBoot:
			return string(replyCheckVersionOld)
		}
		return line1(replyCheckOld, word)
	case image.ReasonFirmwareMisbuilt:
		return string(replyCheckFwMisbuilt)
	case image.ReasonFirmwareUnknown:
		return string(replyCheckFwUnknown)
	case image.ReasonFirmwareNotRequired:
		return string(replyCheckFwNotRequired)
	case image.ReasonTargetPath:
		return string(replyOpenFailed)
	case image.ReasonAltFS:
		return string(replyAltFSNotLoaded)
	}
	return string(replyOpenFailed)
}

// kindWord is the word a check verdict starts with for each image kind.
func kindWord(k image.Kind) string {
	switch k {
	case image.KindApplication:
		return wordApplication
	case image.KindBIOS:
		return wordBIOS
	case image.KindFirmware:
		return wordFirmware
	case image.KindBoot:
		return wordBoot
	}
	return wordFile
}
