package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// Fuzz targets for the parsers of client-supplied paths and offsets. Their
// seed corpora run in plain `go test`.

// fuzzNames are names and paths from the unit tables and the manual.
var fuzzNames = []string{
	"", "/", ".", "..", "/.", "/..", "//", "/dsk", "/DSK/", "dsk", "/dsk/", "/dsk//",
	"/dsk/OS_FILE.BIN", "mem/x", "/dsk/a/b", "/../x", "/dsk/.", "/dsk/..", `/dsk/a\b`,
	"/dsk/a\x00b", "/dsk/a\nb", "/dsk/\xff", "/dsk/" + tempPrefix + "x", "/dsk//file",
	"/dsk/file/", "/dsk/os_file.bin.filepart", "/tst/100000000", "/ts1/1", "/mem/é",
	"/mem/\u0085", "/mem/\u202e", "/mem/a\x7f", "/İ/x", "/\u212a/x", " /dsk", "/dsk/ ",
	"/" + strings.Repeat("a", 65), "/dsk/" + strings.Repeat("a", 64), "/dsk/" + strings.Repeat("a", 65),
	"/dsk/" + strings.Repeat("é", 33),
}

// checkName fails unless name is one the device can store: what
// ValidateName promises of an accepted name.
func checkName(t *testing.T, name string, max int) {
	t.Helper()
	switch {
	case name == "" || name == "." || name == "..":
		t.Fatalf("accepted name %q", name)
	case len(name) > max:
		t.Fatalf("accepted name of %d bytes, max %d", len(name), max)
	case strings.ContainsAny(name, "/\\\x00"):
		t.Fatalf("accepted name %q with a separator or NUL", name)
	case !utf8.ValidString(name):
		t.Fatalf("accepted invalid UTF-8 %q", name)
	case strings.HasPrefix(name, tempPrefix):
		t.Fatalf("accepted temporary name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			t.Fatalf("accepted name %q with control character %U", name, r)
		}
	}
}

// checkKind fails unless err is a vfs *Error of one of kinds.
func checkKind(t *testing.T, what string, err error, kinds ...Kind) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: got %T %v, want *Error", what, err, err)
	}
	for _, k := range kinds {
		if e.Kind == k {
			return
		}
	}
	t.Fatalf("%s: got kind %v, want one of %v", what, e.Kind, kinds)
}

func FuzzValidateName(f *testing.F) {
	for _, n := range fuzzNames {
		f.Add(strings.TrimPrefix(n, "/dsk/"), 64)
		f.Add(n, 0)
	}
	f.Fuzz(func(t *testing.T, name string, max int) {
		max = int(uint(max) % 300)
		err := ValidateName(name, max)
		if err != nil {
			checkKind(t, "ValidateName", err, KindInvalidName, KindPathTooLong)
			if (KindOf(err) == KindPathTooLong) != (len(name) > max) {
				t.Fatalf("ValidateName(%q, %d): got %v", name, max, err)
			}
			return
		}
		checkName(t, name, max)
	})
}

func FuzzSplit(f *testing.F) {
	for _, n := range fuzzNames {
		f.Add(n, 64)
	}
	f.Fuzz(func(t *testing.T, p string, max int) {
		max = int(uint(max) % 300)
		fs, name, err := Split(p, max)
		if err != nil {
			checkKind(t, "Split", err, KindInvalidPath, KindInvalidName, KindPathTooLong)
			if fs != "" || name != "" {
				t.Fatalf("Split(%q) failed but returned (%q, %q)", p, fs, name)
			}
			return
		}
		if fs == "" {
			if name != "" {
				t.Fatalf("Split(%q): a name %q without a file system", p, name)
			}
			return
		}
		if strings.ContainsAny(fs, "/\x00") || fs == "." || fs == ".." || fs != strings.ToLower(fs) {
			t.Fatalf("Split(%q): file system %q", p, fs)
		}
		for _, r := range fs {
			if unicode.IsControl(r) {
				t.Fatalf("Split(%q): file system %q with %U", p, fs, r)
			}
		}
		// The mount name as the client sent it must be valid too, not only
		// after lower-casing (strings.ToLower turns invalid bytes into
		// U+FFFD).
		if raw, _, _ := strings.Cut(strings.TrimLeft(p, "/"), "/"); !utf8.ValidString(raw) {
			t.Fatalf("Split(%q): accepted invalid UTF-8 mount name %q as %q", p, raw, fs)
		}
		if name != "" {
			checkName(t, name, max)
		}
		// The canonical form splits the same way.
		canon := "/" + fs
		if name != "" {
			canon += "/" + name
		}
		fs2, name2, err := Split(canon, max)
		if err != nil || fs2 != fs || name2 != name {
			t.Fatalf("Split(%q) = (%q, %q), but Split(%q) = (%q, %q, %v)", p, fs, name, canon, fs2, name2, err)
		}
	})
}

// fuzzTree is a device tree holding the same bytes at /dsk/f and /mem/f.
func fuzzTree(t testing.TB, data []byte) (*FS, *Session) {
	t.Helper()
	store, err := mem.New(mem.Config{MaxBytes: 1 << 20, ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dir}}, Mem: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	s := &Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "fuzz"}
	w, err := fs.OpenWrite(s, "/mem/f", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return fs, s
}

// FuzzReaderAt reads every kind of file at client-chosen offsets and
// lengths: SFTP READ offsets are uint64 on the wire and reach ReadAt as
// int64, negative from 2^63 up. A panic here is in a pkg/sftp worker
// goroutine, which nothing recovers: the whole server would stop.
func FuzzReaderAt(f *testing.F) {
	f.Add(int64(0), uint16(10))
	f.Add(int64(4090), uint16(100))
	f.Add(int64(90), uint16(1))
	f.Add(int64(91), uint16(1))
	f.Add(int64(10), uint16(0))
	f.Add(int64(1<<40), uint16(100))
	f.Add(int64(1<<63-1), uint16(100))
	data := bytes.Repeat([]byte("0123456789abcdef"), 6)[:91]
	fs, s := fuzzTree(f, data)
	f.Fuzz(func(t *testing.T, off int64, n uint16) {
		for _, p := range []string{"/dsk/f", "/mem/f", "/tst/91"} {
			r, err := fs.OpenRead(s, p)
			if err != nil {
				t.Fatalf("open %s: %v", p, err)
			}
			buf := make([]byte, n)
			got, err := func() (got int, err error) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s: ReadAt of %d bytes at %d panicked: %v", p, n, off, v)
					}
				}()
				return r.ReadAt(buf, off)
			}()
			r.Close()
			what := fmt.Sprintf("%s: ReadAt of %d bytes at %d", p, n, off)
			switch {
			case got < 0 || got > len(buf):
				t.Fatalf("%s: got n = %d", what, got)
			case off < 0 && err == nil:
				t.Fatalf("%s: negative offset accepted", what)
			case off < 0 && got != 0:
				t.Fatalf("%s: read %d bytes at a negative offset", what, got)
			case err == nil && got != len(buf):
				t.Fatalf("%s: short read of %d without an error", what, got)
			case err != nil && err != io.EOF && off >= 0 && off < int64(len(data)):
				// Beyond the end a host file may say EINVAL (off+n
				// overflows) instead of EOF; within it, no error.
				t.Fatalf("%s: %v", what, err)
			}
			if off < 0 || n == 0 {
				continue
			}
			want := int64(len(buf))
			if rest := int64(len(data)) - off; rest < want {
				want = max(rest, 0)
			}
			if int64(got) != want {
				t.Fatalf("%s: got %d bytes, want %d", what, got, want)
			}
			if p != "/tst/91" && want > 0 && !bytes.Equal(buf[:got], data[off:off+want]) {
				t.Fatalf("%s: wrong bytes", what)
			}
		}
	})
}
