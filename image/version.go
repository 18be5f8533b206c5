package image

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind says what a known file is for. It decides which checks apply, which
// of the manual's texts a front end answers a failure with, and where
// CHECK PATH sends the file.
type Kind uint8

// The kinds of known file. The numbers are the header's kind byte.
const (
	KindApplication Kind = 1 // the device's operating software ("OS file", .BIN)
	KindBIOS        Kind = 2 // BIOS code, stored in /bio (.BIN)
	KindFirmware    Kind = 3 // firmware an application loads into hardware (.BFW)
	KindBoot        Kind = 4 // boot code (.BIN)
)

var kindNames = [...]string{
	KindApplication: "application",
	KindBIOS:        "bios",
	KindFirmware:    "firmware",
	KindBoot:        "boot",
}

// kindLabels are the words CheckError's log messages start with, as the
// manual's texts do ("Application not supported by present BIOS", "BIOS
// older than the stored one"). The front ends keep their own.
var kindLabels = [...]string{
	KindApplication: "Application",
	KindBIOS:        "BIOS",
	KindFirmware:    "Firmware",
	KindBoot:        "Boot",
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= KindApplication && k <= KindBoot }

// String returns "application", "bios", "firmware" or "boot" ("kind(N)" for
// an undefined value).
func (k Kind) String() string {
	if !k.Valid() {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindNames[k]
}

func (k Kind) label() string {
	if !k.Valid() {
		return "File"
	}
	return kindLabels[k]
}

// ParseKind parses a kind name as String returns it, in any case.
func ParseKind(s string) (Kind, error) {
	for k := KindApplication; k <= KindBoot; k++ {
		if strings.EqualFold(s, kindNames[k]) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("image: unknown kind %q (application, bios, firmware, boot)", s)
}

// Version is an imprinted version, compared component by component.
type Version struct{ Major, Minor, Patch, Build uint16 }

// ParseVersion parses one to four dot-separated decimal components, each
// 0..65535: "11.7.3", "2.1", "10.6.69.1". Missing components are zero.
func ParseVersion(s string) (Version, error) {
	var c [4]uint16
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 4 {
		return Version{}, fmt.Errorf("image: bad version %q: want 1 to 4 dot-separated numbers", s)
	}
	for i, p := range parts {
		// ParseUint accepts neither signs nor spaces; reject "+1" style
		// leading characters anyway by insisting on digits.
		if p == "" || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, fmt.Errorf("image: bad version %q: component %q is not a number", s, p)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return Version{}, fmt.Errorf("image: bad version %q: component %q is over 65535", s, p)
		}
		c[i] = uint16(n)
	}
	return Version{c[0], c[1], c[2], c[3]}, nil
}

// String formats v as ParseVersion reads it: major.minor always, then patch
// and build only when needed ("2.1", "11.7.3", "1.0.0.5").
func (v Version) String() string {
	switch {
	case v.Build != 0:
		return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, v.Build)
	case v.Patch != 0:
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	a := [4]uint16{v.Major, v.Minor, v.Patch, v.Build}
	b := [4]uint16{o.Major, o.Minor, o.Patch, o.Build}
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}

// IsZero reports whether v is 0.0.0.0.
func (v Version) IsZero() bool { return v == Version{} }

// FirmwareReq is one firmware file an application requires: the imprinted
// name of a firmware image (NAME.BFW) and the oldest version that will do.
type FirmwareReq struct {
	Name       string
	MinVersion Version
}

// IsKnownName reports whether a file name has a known extension, .BIN or
// .BFW in any case (manual §3.8, §4.6). Only known files are checked.
func IsKnownName(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	ext := name[i+1:]
	return strings.EqualFold(ext, "BIN") || strings.EqualFold(ext, "BFW")
}

var errName = errors.New("want an 8.3 name: 1 to 8 of A-Z 0-9 _ -, a dot, and BIN or BFW")

// validName checks an imprinted name: upper case 8.3, base of A-Z, 0-9,
// '_' and '-', extension BIN or BFW.
func validName(s string) error {
	base, ext, ok := strings.Cut(s, ".")
	if !ok || len(base) < 1 || len(base) > 8 || (ext != "BIN" && ext != "BFW") {
		return errName
	}
	for i := 0; i < len(base); i++ {
		if !nameChar(base[i]) {
			return errName
		}
	}
	return nil
}

// validProfile checks a profile extension: 0 to 8 of A-Z, 0-9, '_', '-'.
func validProfile(s string) error {
	if len(s) > ProfileSize {
		return fmt.Errorf("profile %q is longer than %d characters", s, ProfileSize)
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			return fmt.Errorf("profile %q: want only A-Z 0-9 _ -", s)
		}
	}
	return nil
}

func nameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
