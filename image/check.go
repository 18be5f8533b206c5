package image

import (
	"fmt"
	"strings"
)

// Check is a set of the manual's CHECK options (§2.1.4, §3.8, §4.9) plus
// SIGNATURE. Some are checks on a known file; DELETE, PATH, RENAME and
// SYSTEM are actions ("strictly speaking, this is not a check") that the
// caller performs.
type Check uint16

// The checks. Their bit values are internal; configuration uses the names
// (ParseChecks, String).
const (
	CheckBIOS        Check = 1 << iota // an application's minimum BIOS is not above the device's BIOS
	CheckCRC                           // the payload CRC-32 and the header checksum match
	CheckDelete                        // action: clear the staging buffer after a save
	CheckFirmware                      // a firmware image is well built and needed by the active application
	CheckHardware                      // the image's hardware level is not below the device's
	CheckHWSupported                   // the device's hardware ID is in the image's list
	CheckLength                        // the size matches the declared lengths and is a multiple of 128
	CheckPath                          // action: BIOS to /bio, everything else to /dsk (TargetFS)
	CheckProfile                       // the profile extension matches the device's
	CheckRename                        // action: store under the imprinted name
	CheckSystem                        // action: pick the default file system at log-in
	CheckUnknown                       // a .BIN/.BFW file must be an image
	CheckVersion                       // not older than the newest version committed
	CheckSignature                     // new: signed by a trusted key, and the signature verifies

	// CheckAll is every check and action: the default.
	CheckAll = CheckBIOS | CheckCRC | CheckDelete | CheckFirmware | CheckHardware |
		CheckHWSupported | CheckLength | CheckPath | CheckProfile | CheckRename |
		CheckSystem | CheckUnknown | CheckVersion | CheckSignature

	// Actions are the options that change what happens rather than refuse
	// a file.
	Actions = CheckDelete | CheckPath | CheckRename | CheckSystem
)

// checkInfo lists the checks in configuration order: the manual's names,
// and the letters of the FTP STAT "Checks" line.
var checkInfo = []struct {
	c      Check
	name   string
	letter byte
}{
	// The manual's STAT line, "PCLBFVRDSUH" (§1.4.x STAT, §3.8): each
	// active check shows its initial, an inactive one a hyphen.
	{CheckPath, "path", 'P'},
	{CheckCRC, "crc", 'C'},
	{CheckLength, "length", 'L'},
	{CheckBIOS, "bios", 'B'},
	{CheckFirmware, "firmware", 'F'},
	{CheckVersion, "version", 'V'},
	{CheckRename, "rename", 'R'},
	{CheckDelete, "delete", 'D'},
	{CheckSystem, "system", 'S'},
	{CheckUnknown, "unknown", 'U'},
	{CheckHardware, "hardware", 'H'},
	// Not in the manual's STAT line, whose initials they would repeat:
	// appended, with a distinct letter each.
	{CheckHWSupported, "hw-supported", 'W'},
	{CheckProfile, "profile", 'E'}, // profile Extension
	{CheckSignature, "signature", 'G'},
}

// ParseChecks parses check names as the configuration lists them: "all",
// "none", or the manual's names ("bios", "crc", "delete", "firmware",
// "hardware", "hw-supported", "length", "path", "profile", "rename",
// "system", "unknown", "version") and "signature", in any case. A name
// prefixed with "no " or "no-" removes it, like the manual's "no check",
// so ["all", "no signature"] is everything but SIGNATURE. Entries apply in
// order, starting from none.
func ParseChecks(names []string) (Check, error) {
	var c Check
	for _, s := range names {
		s = strings.ToLower(strings.TrimSpace(s))
		neg := false
		if rest, ok := strings.CutPrefix(s, "no "); ok {
			s, neg = strings.TrimSpace(rest), true
		} else if rest, ok := strings.CutPrefix(s, "no-"); ok {
			s, neg = rest, true
		}
		var v Check
		s = strings.NewReplacer("_", "-", " ", "-").Replace(s)
		switch s {
		case "all":
			v = CheckAll
		case "none":
			// "none" clears; "no none" is meaningless.
			if neg {
				return 0, fmt.Errorf("image: unknown check %q", "no none")
			}
			c = 0
			continue
		case "hwsupported":
			v = CheckHWSupported
		default:
			for _, ci := range checkInfo {
				if ci.name == s {
					v = ci.c
				}
			}
		}
		if v == 0 {
			return 0, fmt.Errorf("image: unknown check %q (all, none, bios, crc, delete, firmware, hardware, hw-supported, length, path, profile, rename, signature, system, unknown, version)", s)
		}
		if neg {
			c &^= v
		} else {
			c |= v
		}
	}
	return c, nil
}

// String returns "all", "none", or the names in c separated by commas, in
// the order of the STAT letters ("path,crc,length").
func (c Check) String() string {
	switch c & CheckAll {
	case CheckAll:
		return "all"
	case 0:
		return "none"
	}
	var b strings.Builder
	for _, ci := range checkInfo {
		if c&ci.c != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(ci.name)
		}
	}
	return b.String()
}

// Names returns the name of each check in c, in the order String uses.
func (c Check) Names() []string {
	var out []string
	for _, ci := range checkInfo {
		if c&ci.c != 0 {
			out = append(out, ci.name)
		}
	}
	return out
}

// Letters returns the FTP STAT form: "ALL", "NONE", or one position per
// check, its letter when on and '-' when off. The first eleven positions
// are the manual's "PCLBFVRDSUH"; W (HW-SUPPORTED), E (PROFILE, profile
// Extension) and G (SIGNATURE) follow.
func (c Check) Letters() string {
	switch c & CheckAll {
	case CheckAll:
		return "ALL"
	case 0:
		return "NONE"
	}
	b := make([]byte, len(checkInfo))
	for i, ci := range checkInfo {
		b[i] = '-'
		if c&ci.c != 0 {
			b[i] = ci.letter
		}
	}
	return string(b)
}

// Evaluated returns the checks in on that are evaluated for an image of
// kind k (Precheck and Postcheck together), for an audit record that lists
// each check with its result. Actions are not included.
func Evaluated(k Kind, on Check) Check {
	c := on &^ Actions
	if k == KindBIOS {
		c &^= CheckBIOS
	}
	if k != KindFirmware {
		c &^= CheckFirmware
	}
	return c
}
