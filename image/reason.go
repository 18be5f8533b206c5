package image

import "fmt"

// Reason says why a check refused a file. With a CheckError's Kind and
// hardware levels it is everything a front end needs to pick its reply:
// each front end has the one table mapping a Reason to its wire code and
// the manual's text (sftphandler's status.go, ftpgateway's status.go).
// The image package sends nothing to clients.
type Reason uint8

// The reasons. The zero Reason is not one: a front end answers it with its
// generic refusal.
const (
	ReasonUnknownType         Reason = iota + 1 // UNKNOWN: a known name whose bytes are not an image
	ReasonLength                                // LENGTH: the size does not match the declared lengths
	ReasonCRC                                   // CRC: the header checksum or the payload CRC-32 is wrong
	ReasonUnsigned                              // SIGNATURE: no signature record
	ReasonUnknownKey                            // SIGNATURE: signed by a key that is not trusted
	ReasonBadSignature                          // SIGNATURE: the signature does not verify
	ReasonHWLevel                               // HARDWARE: the image's level (Rcvd) is below the device's (Reqd)
	ReasonHWSupported                           // HW-SUPPORTED: the device's hardware ID is not in the image's list
	ReasonBIOS                                  // BIOS: the image needs a newer BIOS than the device's
	ReasonProfile                               // PROFILE: the image's profile is not the device's
	ReasonOlder                                 // VERSION: older than the newest version committed
	ReasonFirmwareMisbuilt                      // FIRMWARE: lists requirements itself, or is older than the application requires
	ReasonFirmwareUnknown                       // FIRMWARE: no active application to say which firmware is used
	ReasonFirmwareNotRequired                   // FIRMWARE: the active application does not require it
	ReasonTargetPath                            // PATH: a known file written straight into a checked file system
	ReasonAltFS                                 // PATH: the file system the image belongs on is not loaded
)

var reasonNames = [...]string{
	ReasonUnknownType:         "unknown type",
	ReasonLength:              "bad length",
	ReasonCRC:                 "bad crc",
	ReasonUnsigned:            "unsigned",
	ReasonUnknownKey:          "unknown key",
	ReasonBadSignature:        "bad signature",
	ReasonHWLevel:             "hardware level too low",
	ReasonHWSupported:         "hardware not supported",
	ReasonBIOS:                "bios not supported",
	ReasonProfile:             "profile incompatible",
	ReasonOlder:               "older than stored",
	ReasonFirmwareMisbuilt:    "firmware misbuilt",
	ReasonFirmwareUnknown:     "firmware unknown",
	ReasonFirmwareNotRequired: "firmware not required",
	ReasonTargetPath:          "target path",
	ReasonAltFS:               "alternate file system not loaded",
}

// String returns a short lower-case name ("bad crc", "older than
// stored"), for logs and tests; "reason(N)" for an undefined value.
func (r Reason) String() string {
	if r == 0 || int(r) >= len(reasonNames) {
		return fmt.Sprintf("reason(%d)", uint8(r))
	}
	return reasonNames[r]
}

// CheckError is a failed check: which check, why (Reason), and for what
// (Kind, and the hardware levels for ReasonHWLevel). It carries no wire
// code or client text; each front end maps Reason, Kind and the levels to
// the manual's reply (see docs/image-format.md, "The checks").
//
// Error returns an English message for the log, in the manual's SFTP
// wording ("Bad crc of checked file"). No front end sends it: clients see
// only the front ends' own tables. Detail and Err are for the log too.
type CheckError struct {
	Check  Check  // the check that refused the file (CheckPath for ReasonTargetPath, ReasonAltFS)
	Reason Reason // why
	// Kind is the image's kind, the word the manual's texts start with
	// ("Application not supported by present BIOS"). It is 0 when the file
	// is not a readable image (UNKNOWN, LENGTH, a bad header checksum).
	// For ReasonTargetPath, where the bytes are not read, it is
	// KindFirmware for a .BFW name and 0 for a .BIN (BIOS or application).
	Kind Kind
	// Rcvd and Reqd are, for ReasonHWLevel, the image's hardware level and
	// the level the device requires ("rcvd. 3, reqd. 5").
	Rcvd, Reqd uint32
	Detail     string
	Err        error // the cause, if any: a *ParseError, ErrBadSignature ...
}

func (e *CheckError) Error() string {
	label := e.Kind.label()
	switch e.Reason {
	case ReasonUnknownType:
		return "Unknown checked file type"
	case ReasonLength:
		return "Bad length of checked file"
	case ReasonCRC:
		return "Bad crc of checked file"
	case ReasonUnsigned:
		return "Unsigned checked file"
	case ReasonUnknownKey:
		return "Unknown signing key of checked file"
	case ReasonBadSignature:
		return "Bad signature of checked file"
	case ReasonHWLevel:
		s := fmt.Sprintf("%s not supported by hardware level (rcvd. %d, reqd. %d)", label, e.Rcvd, e.Reqd)
		if e.Kind == KindFirmware || e.Kind == KindBIOS {
			s += "." // as the manual's SFTP texts have it
		}
		return s
	case ReasonHWSupported:
		return label + " not supported by present hardware"
	case ReasonBIOS:
		return label + " not supported by present BIOS"
	case ReasonProfile:
		return label + " incompatible with the stored profile"
	case ReasonOlder:
		switch e.Kind {
		case KindBIOS:
			return "BIOS older than the stored one"
		case KindBoot:
			return "Version older than the stored one"
		}
		return label + " older than the one stored"
	case ReasonFirmwareMisbuilt:
		return "Firmware misbuilt"
	case ReasonFirmwareUnknown:
		return "Firmware unknown"
	case ReasonFirmwareNotRequired:
		return "Firmware not required"
	case ReasonTargetPath:
		if e.Kind == KindFirmware {
			return "Check target path for possible firmware file"
		}
		return "Check target path for possible bios/application file"
	case ReasonAltFS:
		return "Alternate file system not loaded"
	}
	return ErrCheck.Error() + ": " + e.Reason.String()
}

// Unwrap returns the cause.
func (e *CheckError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCheck) true.
func (e *CheckError) Is(target error) bool { return target == ErrCheck }
