package image

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Device is the identity the checks compare an image with. It is
// configuration. Zero fields are the strictest values, not "anything
// goes": a zero BIOSVersion refuses every application that names a
// minimum BIOS, no TrustedKeys refuses every file when SIGNATURE is on.
type Device struct {
	SystemID    string // SITE SYSTID; not used by the checks
	HardwareID  uint32 // must be in an image's hardware IDs (HW-SUPPORTED)
	HWLevel     uint32 // level required of applications, firmware and boot images (GETHDWLVL "APPL")
	BIOSHWLevel uint32 // level required of BIOS images (GETHDWLVL "BIOS"); 0: HWLevel
	BIOSVersion Version
	Profile     string // profile extension of the active software; compared case-insensitively
	TrustedKeys []ed25519.PublicKey
}

func (dev *Device) levelFor(k Kind) uint32 {
	if k == KindBIOS && dev.BIOSHWLevel != 0 {
		return dev.BIOSHWLevel
	}
	return dev.HWLevel
}

// State is the device-state record the checks read: the newest version
// committed for each kind and imprinted name, and the active boot
// application. It is kept apart from the files on disk so that deleting a
// file first opens no downgrade path.
type State interface {
	// Stored returns the newest version ever committed for kind and the
	// imprinted name (upper case, e.g. "OS_FILE.BIN").
	Stored(kind Kind, name string) (Version, bool)
	// ActiveApp returns the active boot application's imprinted name and
	// the firmware it requires; ok is false when there is none.
	ActiveApp() (name string, fw []FirmwareReq, ok bool)
}

// Errors besides *CheckError.
var (
	// ErrCheck matches every *CheckError with errors.Is.
	ErrCheck = errors.New("image check failed")
	// ErrChanged: the bytes streamed to a Digest are not the bytes Parse
	// read (the staged file changed, or was cut, between Precheck and the
	// copy). The commit must be abandoned.
	ErrChanged = errors.New("image changed between check and commit")
	// ErrNoState: VERSION or FIRMWARE is on but no State was given.
	ErrNoState = errors.New("image: the version and firmware checks need the device state")

	// Causes wrapped by a SIGNATURE *CheckError, and returned by
	// VerifySignature.
	ErrUnsigned     = errors.New("image is not signed")
	ErrUnknownKey   = errors.New("image is signed by a key that is not trusted")
	ErrBadSignature = errors.New("image signature does not verify")
)

func checkErr(c Check, r Reason, k Kind, detail string, cause error) *CheckError {
	return &CheckError{Check: c, Reason: r, Kind: k, Detail: detail, Err: cause}
}

func errUnknownType(detail string, cause error) *CheckError {
	return checkErr(CheckUnknown, ReasonUnknownType, 0, detail, cause)
}

func errLength(detail string, cause error) *CheckError {
	return checkErr(CheckLength, ReasonLength, 0, detail, cause)
}

func errCRC(k Kind, detail string, cause error) *CheckError {
	return checkErr(CheckCRC, ReasonCRC, k, detail, cause)
}

func errSignature(k Kind, cause error, detail string) *CheckError {
	r := ReasonBadSignature
	switch {
	case errors.Is(cause, ErrUnsigned):
		r = ReasonUnsigned
	case errors.Is(cause, ErrUnknownKey):
		r = ReasonUnknownKey
	}
	return checkErr(CheckSignature, r, k, detail, cause)
}

// Precheck parses the staged file (size bytes, to be stored as name) and
// runs every check that the header decides, before any byte is written:
// UNKNOWN, LENGTH, CRC of the header, SIGNATURE (present, by a trusted
// key), HARDWARE, HW-SUPPORTED, BIOS, PROFILE, VERSION and FIRMWARE, in
// that order; the first failure is returned as a *CheckError.
//
// If name is not a known file (.BIN/.BFW), Precheck returns nil, nil: no
// checks apply. It also returns nil, nil for a known name that is not an
// image when UNKNOWN (and, for a bad length or header checksum, LENGTH or
// CRC) is off: the manual then accepts it as an ordinary file. Otherwise
// the image is returned, with the error when a check failed (for the
// audit log), and is what PATH (TargetFS), RENAME (Image.Name) and
// Postcheck need. A non-*CheckError error is an I/O error of r or
// ErrNoState.
//
// st may be nil only when VERSION and FIRMWARE are off.
func Precheck(r io.ReaderAt, size int64, name string, dev Device, st State, on Check) (*Image, error) {
	if !IsKnownName(name) {
		return nil, nil
	}
	im, err := Parse(r, size)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return nil, err
		}
		switch {
		case errors.Is(err, ErrLength) && on&CheckLength != 0:
			return nil, errLength(pe.Error(), err)
		case errors.Is(err, ErrHeaderCRC) && on&CheckCRC != 0:
			return nil, errCRC(0, pe.Error(), err)
		case on&CheckUnknown != 0:
			return nil, errUnknownType(pe.Error(), err)
		}
		return nil, nil
	}
	if st == nil && on&(CheckVersion|CheckFirmware) != 0 {
		return im, ErrNoState
	}
	if err := precheck(im, &dev, st, on); err != nil {
		return im, err
	}
	return im, nil
}

func precheck(im *Image, dev *Device, st State, on Check) error {
	k := im.Kind
	if on&CheckSignature != 0 {
		if err := im.signedByTrusted(dev.TrustedKeys); err != nil {
			return errSignature(k, err, fmt.Sprintf("key id %x", im.KeyID))
		}
	}
	if on&CheckHardware != 0 {
		if want := dev.levelFor(k); im.HWLevel < want {
			ce := checkErr(CheckHardware, ReasonHWLevel, k, fmt.Sprintf("hardware level %d, device requires %d", im.HWLevel, want), nil)
			ce.Rcvd, ce.Reqd = im.HWLevel, want
			return ce
		}
	}
	if on&CheckHWSupported != 0 && !containsID(im.HardwareIDs, dev.HardwareID) {
		return checkErr(CheckHWSupported, ReasonHWSupported, k,
			fmt.Sprintf("hardware id %#x not in %#x", dev.HardwareID, im.HardwareIDs), nil)
	}
	if on&CheckBIOS != 0 && k != KindBIOS && im.MinBIOS.Compare(dev.BIOSVersion) > 0 {
		return checkErr(CheckBIOS, ReasonBIOS, k,
			fmt.Sprintf("needs bios %v, device has %v", im.MinBIOS, dev.BIOSVersion), nil)
	}
	if on&CheckProfile != 0 && im.Profile != "" && !strings.EqualFold(im.Profile, dev.Profile) {
		return checkErr(CheckProfile, ReasonProfile, k,
			fmt.Sprintf("profile %q, device %q", im.Profile, dev.Profile), nil)
	}
	if on&CheckVersion != 0 {
		if v, ok := st.Stored(k, im.Name); ok && im.Version.Compare(v) < 0 {
			return checkErr(CheckVersion, ReasonOlder, k, fmt.Sprintf("version %v, stored %v", im.Version, v), nil)
		}
	}
	if on&CheckFirmware != 0 && k == KindFirmware {
		return firmwareCheck(im, st)
	}
	return nil
}

// firmwareCheck: a firmware image must be well built (no requirements of
// its own), the device must have an active application to know it, and
// that application must require it at this version or older (§2.1.4.5:
// "checked to see if they are necessary and suitable").
func firmwareCheck(im *Image, st State) error {
	if len(im.Firmware) > 0 {
		return checkErr(CheckFirmware, ReasonFirmwareMisbuilt, im.Kind, "firmware image lists firmware requirements", nil)
	}
	app, reqs, ok := st.ActiveApp()
	if !ok {
		return checkErr(CheckFirmware, ReasonFirmwareUnknown, im.Kind, "no active application", nil)
	}
	for _, r := range reqs {
		if !strings.EqualFold(r.Name, im.Name) {
			continue
		}
		if im.Version.Compare(r.MinVersion) < 0 {
			return checkErr(CheckFirmware, ReasonFirmwareMisbuilt, im.Kind,
				fmt.Sprintf("version %v, %s requires %v or newer", im.Version, app, r.MinVersion), nil)
		}
		return nil
	}
	return checkErr(CheckFirmware, ReasonFirmwareNotRequired, im.Kind,
		fmt.Sprintf("%s does not require %s", app, im.Name), nil)
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// Postcheck runs the checks that need every byte, after d has seen the
// whole file: CRC (the payload CRC-32) and SIGNATURE (the signature over
// the signed digest verifies with a trusted key). It first confirms that
// d saw exactly the bytes Parse read, and returns an error wrapping
// ErrChanged if not, whatever the checks. im nil (not a known file, or
// accepted as unknown) returns nil.
func Postcheck(im *Image, d *Digest, dev Device, on Check) error {
	if im == nil {
		return nil
	}
	if d == nil || d.im != im {
		return errors.New("image: postcheck: the digest is not of this image")
	}
	if !d.complete() {
		return fmt.Errorf("image: %w: %d bytes streamed, %d parsed", ErrChanged, d.n, im.Size)
	}
	if on&CheckCRC != 0 && d.crc != im.PayloadCRC {
		return errCRC(im.Kind, fmt.Sprintf("payload crc32 %08x, header says %08x", d.crc, im.PayloadCRC), nil)
	}
	if on&CheckSignature != 0 {
		digest, _ := d.SignedSHA256()
		if err := im.VerifySignature(digest, dev.TrustedKeys); err != nil {
			return errSignature(im.Kind, err, fmt.Sprintf("key id %x", im.KeyID))
		}
	}
	return nil
}

// VerifySignature checks the image's signature over digest (Digest's
// SignedSHA256) with the keys whose key ID matches. It returns nil,
// ErrUnsigned, ErrUnknownKey or ErrBadSignature.
func (im *Image) VerifySignature(digest [32]byte, keys []ed25519.PublicKey) error {
	if err := im.signedByTrusted(keys); err != nil {
		return err
	}
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && bytes.Equal(KeyID(k), im.KeyID) &&
			ed25519.Verify(k, digest[:], im.Signature) {
			return nil
		}
	}
	return ErrBadSignature
}

// signedByTrusted reports whether the image carries a signature whose key
// ID is one of keys'.
func (im *Image) signedByTrusted(keys []ed25519.PublicKey) error {
	if !im.Signed() {
		return ErrUnsigned
	}
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && bytes.Equal(KeyID(k), im.KeyID) {
			return nil
		}
	}
	return ErrUnknownKey
}

// TargetFS returns the file system CHECK PATH stores an image in (manual
// §4.9): "bio" for BIOS, "dsk" for applications, firmware and boot images,
// and "" for nil.
func TargetFS(im *Image) string {
	switch {
	case im == nil:
		return ""
	case im.Kind == KindBIOS:
		return "bio"
	}
	return "dsk"
}
