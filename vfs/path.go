package vfs

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// tempPrefix starts the names of temporary files in host directories. Such
// names are hidden from listings, refused as user names, and removed at
// start-up (left over from a crash).
const tempPrefix = ".sluice-tmp-"

// Name validation errors; their kinds carry the manual's texts to clients.
var (
	errBadName  = errors.New("name has a character or form the device cannot store")
	errTooLong  = errors.New("name too long")
	errNested   = errors.New("file systems are flat")
	errNoMount  = errors.New("no such file system")
	errRootFile = errors.New("the root holds no files")

	errNegativeOffset = errors.New("negative offset")
	errFileTooLarge   = errors.New("past the file size limit")
)

// Split parses an absolute device path into its file system and file name.
// "/" gives ("", ""); "/dsk" and "/dsk/" give ("dsk", ""). The mount name is
// matched case-insensitively and returned lower-case; whether it is mounted
// is checked by the caller. Relative paths are taken from "/".
func Split(p string, maxName int) (fs, name string, err error) {
	p = strings.TrimLeft(p, "/")
	if p == "" || p == "." {
		return "", "", nil
	}
	fs, name, _ = strings.Cut(p, "/")
	name = strings.TrimRight(name, "/")
	if strings.Contains(name, "/") {
		return "", "", newErr(KindInvalidPath, "path", p, errNested)
	}
	// Mount names are ASCII letters and digits; checking before folding
	// keeps invalid bytes and Unicode case folds (K, U+212A) out.
	if !asciiAlnum(fs) {
		return "", "", newErr(KindInvalidPath, "path", p, errNoMount)
	}
	fs = strings.ToLower(fs)
	if name == "" {
		return fs, "", nil
	}
	if err := ValidateName(name, maxName); err != nil {
		return "", "", err
	}
	return fs, name, nil
}

// ValidateName checks a file name: no "/", "\", NUL or control characters,
// not "." or "..", not a temporary file name, valid UTF-8, and at most max
// bytes. The errors carry KindInvalidName ("Invalid filename") or
// KindPathTooLong ("Path too long").
func ValidateName(name string, max int) error {
	if len(name) > max {
		return newErr(KindPathTooLong, "name", name, errTooLong)
	}
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, tempPrefix) ||
		strings.ContainsAny(name, `/\`) || !validChars(name) ||
		// Windows drops trailing dots and spaces: "a.bin." and "a.bin"
		// would be two names on the device and one on a client.
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return newErr(KindInvalidName, "name", name, errBadName)
	}
	return nil
}

func asciiAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

func validChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || bidiControl(r) {
			return false
		}
	}
	return true
}

// bidiControl reports the Unicode bidirectional controls, which make a
// name display as another ("fw\u202Enib.exe" shows as "fwexe.bin"; CVE-2021-42574).
func bidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
