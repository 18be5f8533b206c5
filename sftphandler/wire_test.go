package sftphandler

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tests of the replies the manual fixes (§1.6, §1.7) and DESIGN §5's wire
// guard, one request at a time over raw frames.

func TestInit(t *testing.T) {
	tests := []struct {
		name    string
		version uint32
		want    uint32
	}{
		{name: "version 3", version: 3, want: 3},
		{name: "version 2", version: 2, want: 2},
		{name: "version 1", version: 1, want: 1},
		{name: "version 6", version: 6, want: 3},
		{name: "version 0xffffffff", version: 0xffffffff, want: 3},
	}
	e := newEnv(t, 1<<20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serveConn(t, e.fs, supervisor(), Options{})
			c.send(pkt(fxpInit, tt.version))
			r := c.recv()
			if r.typ != fxpVersion || r.id != tt.want {
				t.Fatalf("got %s, want VERSION %d", r, tt.want)
			}
			// Only limits@openssh.com: advertising posix-rename or
			// hardlink would make clients use what the server refuses.
			want := [][2]string{{"limits@openssh.com", "1"}}
			if len(r.exts) != 1 || r.exts[0] != want[0] {
				t.Errorf("got extensions %q, want %q", r.exts, want)
			}
		})
	}
}

func TestInitWithExtensionData(t *testing.T) {
	// Clients may append extension pairs to INIT (filexfer-02 §4).
	e := newEnv(t, 1<<20)
	c := serveConn(t, e.fs, supervisor(), Options{})
	c.send(pkt(fxpInit, uint32(3), "foo@example.com", "1"))
	if r := c.recv(); r.typ != fxpVersion || r.id != 3 {
		t.Fatalf("got %s, want VERSION 3", r)
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	r := c.do(fxpExtended, "limits@openssh.com")
	if r.typ != fxpExtendedReply {
		t.Fatalf("got %s, want EXTENDED_REPLY", r)
	}
	if len(r.data) != 32 {
		t.Fatalf("got %d bytes of limits, want 32", len(r.data))
	}
	names := []string{"max-packet-length", "max-read-length", "max-write-length", "max-open-handles"}
	want := []uint64{262144, 261120, 261120, 64}
	for i, n := range names {
		if got := binary.BigEndian.Uint64(r.data[8*i:]); got != want[i] {
			t.Errorf("%s: got %d, want %d", n, got, want[i])
		}
	}
}

// attrsTimes, attrsSize and attrsPerm build the ATTRS field of
// SETSTAT, FSETSTAT and OPEN.
func attrsTimes() rawBytes {
	b := binary.BigEndian.AppendUint32(nil, attrACModTime)
	b = binary.BigEndian.AppendUint32(b, 1700000000)
	return binary.BigEndian.AppendUint32(b, 1700000001)
}

func attrsSize(n uint64) rawBytes {
	b := binary.BigEndian.AppendUint32(nil, attrSize)
	return binary.BigEndian.AppendUint64(b, n)
}

func attrsPerm(p uint32) rawBytes {
	b := binary.BigEndian.AppendUint32(nil, attrPermissions)
	return binary.BigEndian.AppendUint32(b, p)
}

const (
	msgOpUnsupported = "Operation not supported by this system"
	tooLongName      = "0123456789012345678901234567890123456789012345678901234567890123x" // 65 bytes
)

// TestRequestStatus sends one request per row on one session and checks
// the STATUS code and the manual's text.
func TestRequestStatus(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "exists.bin", []byte("hello"))
	c := startConn(t, e, supervisor(), Options{})

	rh := c.mustOpen("/dsk/exists.bin", fxfRead)
	wh := c.mustOpen("/dsk/w.bin", fxfWrite|openCreat|openTrunc)
	dh := c.mustOpendir("/dsk")
	const badHandle = "999"

	type row struct {
		name   string
		typ    byte
		fields []any // after the id
		code   uint32
		msg    string
	}
	open := func(name, p string, pflags uint32, code uint32, msg string) row {
		return row{name: name, typ: fxpOpen, fields: []any{p, pflags, uint32(0)}, code: code, msg: msg}
	}
	tests := []row{
		// OPEN (manual §1.6: read or write, never both).
		open("open read|write", "/dsk/exists.bin", fxfRead|fxfWrite, fxOpUnsupported, "READ/WRITE simultaneous not supported by this system"),
		open("open read|write|creat", "/dsk/new.bin", fxfRead|fxfWrite|openCreat, fxOpUnsupported, "READ/WRITE simultaneous not supported by this system"),
		open("open no flags", "/dsk/exists.bin", 0, fxOpUnsupported, "R/W operation not defined"),
		open("open creat only", "/dsk/new.bin", openCreat, fxOpUnsupported, "R/W operation not defined"),
		open("open creat|trunc", "/dsk/new.bin", openCreat|openTrunc, fxOpUnsupported, "R/W operation not defined"),
		open("open append only", "/dsk/new.bin", openAppend, fxOpUnsupported, "R/W operation not defined"),
		open("open missing file", "/dsk/nope", fxfRead, fxNoSuchFile, "File not found"),
		open("open missing mem file", "/mem/nope", fxfRead, fxNoSuchFile, "File not found"),
		open("open read unknown fs", "/nofs/x", fxfRead, fxNoSuchFile, "Invalid Path"),
		open("open write unknown fs", "/nofs/x", fxfWrite|openCreat, fxNoSuchFile, "Invalid Path"),
		open("open nested read", "/dsk/a/b", fxfRead, fxNoSuchFile, "Invalid Path"),
		open("open nested write", "/dsk/a/b", fxfWrite|openCreat, fxNoSuchFile, "Invalid Path"),
		open("open backslash", `/dsk/a\b`, fxfWrite|openCreat, fxFailure, "Invalid filename"),
		open("open control char", "/dsk/a\x01b", fxfWrite|openCreat, fxFailure, "Invalid filename"),
		open("open DEL", "/dsk/a\x7fb", fxfWrite|openCreat, fxFailure, "Invalid filename"),
		open("open invalid utf-8", "/dsk/a\xffb", fxfWrite|openCreat, fxFailure, "Invalid filename"),
		open("open temp name", "/dsk/.sluice-tmp-0123", fxfWrite|openCreat, fxFailure, "Invalid filename"),
		open("open name too long write", "/dsk/"+tooLongName, fxfWrite|openCreat, fxFailure, "Path too long"),
		open("open name too long read", "/dsk/"+tooLongName, fxfRead, fxFailure, "Path too long"),
		open("open file system", "/dsk", fxfRead, fxFailure, "Unable to open file"),
		open("open root", "/", fxfRead, fxFailure, "Unable to open file"),

		// Requests the manual lists as not supported.
		// FSTAT and SETSTAT of times, and of the mode the file has, are
		// served (DESIGN §5; see TestFstatSetstat).
		{name: "setstat permissions", typ: fxpSetstat, fields: []any{"/dsk/exists.bin", attrsPerm(0o600)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "setstat size", typ: fxpSetstat, fields: []any{"/dsk/exists.bin", attrsSize(1)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "setstat owner", typ: fxpSetstat, fields: []any{"/dsk/exists.bin", uint32(attrUIDGID), uint32(0), uint32(0)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fsetstat permissions", typ: fxpFsetstat, fields: []any{wh, attrsPerm(0o600)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fsetstat times on dir handle", typ: fxpFsetstat, fields: []any{dh, attrsTimes()}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fstat dir handle", typ: fxpFstat, fields: []any{dh}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fstat unknown handle", typ: fxpFstat, fields: []any{badHandle}, code: fxFailure, msg: "Invalid handler"},
		{name: "fsetstat size on read handle", typ: fxpFsetstat, fields: []any{rh, attrsSize(1)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fsetstat size on dir handle", typ: fxpFsetstat, fields: []any{dh, attrsSize(1)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fsetstat unknown handle", typ: fxpFsetstat, fields: []any{badHandle, attrsSize(1)}, code: fxFailure, msg: "Invalid handler"},
		{name: "mkdir", typ: fxpMkdir, fields: []any{"/dsk/d", uint32(0)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "rmdir", typ: fxpRmdir, fields: []any{"/dsk"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "readlink", typ: fxpReadlink, fields: []any{"/dsk/exists.bin"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "symlink", typ: fxpSymlink, fields: []any{"/dsk/exists.bin", "/dsk/link"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "statvfs", typ: fxpExtended, fields: []any{"statvfs@openssh.com", "/dsk"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fstatvfs", typ: fxpExtended, fields: []any{"fstatvfs@openssh.com", rh}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "posix-rename", typ: fxpExtended, fields: []any{"posix-rename@openssh.com", "/dsk/exists.bin", "/dsk/moved.bin"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "hardlink", typ: fxpExtended, fields: []any{"hardlink@openssh.com", "/dsk/exists.bin", "/dsk/link.bin"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "fsync", typ: fxpExtended, fields: []any{"fsync@openssh.com", wh}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "copy-data", typ: fxpExtended, fields: []any{"copy-data", rh, uint64(0), uint64(0), wh, uint64(0)}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "extended empty name", typ: fxpExtended, fields: []any{""}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "extended limits with junk", typ: fxpExtended, fields: []any{"limits@openssh.comX"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "unknown type 99", typ: 99, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "unknown type 0", typ: 0, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "unknown type 255 with body", typ: 255, fields: []any{"junk"}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "VERSION from client", typ: fxpVersion, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "STATUS from client", typ: fxpStatus, fields: []any{uint32(0), "", ""}, code: fxOpUnsupported, msg: msgOpUnsupported},
		{name: "EXTENDED_REPLY from client", typ: fxpExtendedReply, code: fxOpUnsupported, msg: msgOpUnsupported},

		// Handle misuse (DESIGN §5: the library would turn these into a
		// zero-filled WriteAt or a ReadAt into the write buffer).
		{name: "read on write handle", typ: fxpRead, fields: []any{wh, uint64(0), uint32(10)}, code: fxFailure, msg: "Illegal operation"},
		{name: "write on read handle", typ: fxpWrite, fields: []any{rh, uint64(0), []byte("xx")}, code: fxFailure, msg: "Illegal operation"},
		{name: "readdir on read handle", typ: fxpReaddir, fields: []any{rh}, code: fxFailure, msg: "Illegal operation"},
		{name: "readdir on write handle", typ: fxpReaddir, fields: []any{wh}, code: fxFailure, msg: "Illegal operation"},
		{name: "read on dir handle", typ: fxpRead, fields: []any{dh, uint64(0), uint32(10)}, code: fxFailure, msg: "Illegal operation"},
		{name: "write on dir handle", typ: fxpWrite, fields: []any{dh, uint64(0), []byte("xx")}, code: fxFailure, msg: "Illegal operation"},
		{name: "read unknown handle", typ: fxpRead, fields: []any{badHandle, uint64(0), uint32(10)}, code: fxFailure, msg: "Invalid handler"},
		{name: "read empty handle", typ: fxpRead, fields: []any{"", uint64(0), uint32(10)}, code: fxFailure, msg: "Invalid handler"},
		{name: "write unknown handle", typ: fxpWrite, fields: []any{badHandle, uint64(0), []byte("xx")}, code: fxFailure, msg: "Invalid handler"},
		{name: "readdir unknown handle", typ: fxpReaddir, fields: []any{badHandle}, code: fxFailure, msg: "Invalid handler"},
		{name: "close unknown handle", typ: fxpClose, fields: []any{badHandle}, code: fxFailure, msg: "Invalid handler"},

		// Path requests.
		{name: "remove missing", typ: fxpRemove, fields: []any{"/dsk/nope"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "remove missing mem", typ: fxpRemove, fields: []any{"/mem/nope"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "remove unknown fs", typ: fxpRemove, fields: []any{"/nofs/x"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "remove nested", typ: fxpRemove, fields: []any{"/dsk/a/b"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "remove file system", typ: fxpRemove, fields: []any{"/dsk"}, code: fxFailure, msg: "Unable to remove file"},
		{name: "remove bad name", typ: fxpRemove, fields: []any{`/dsk/a\b`}, code: fxFailure, msg: "Invalid filename"},
		{name: "remove name too long", typ: fxpRemove, fields: []any{"/dsk/" + tooLongName}, code: fxFailure, msg: "Path too long"},
		{name: "stat missing", typ: fxpStat, fields: []any{"/dsk/nope"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "lstat missing", typ: fxpLstat, fields: []any{"/dsk/nope"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "stat unknown fs", typ: fxpStat, fields: []any{"/nofs"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "stat nested", typ: fxpStat, fields: []any{"/dsk/a/b"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "stat name too long", typ: fxpStat, fields: []any{"/dsk/" + tooLongName}, code: fxFailure, msg: "Path too long"},
		{name: "opendir unknown fs", typ: fxpOpendir, fields: []any{"/nofs"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "opendir file", typ: fxpOpendir, fields: []any{"/dsk/exists.bin"}, code: fxNoSuchFile, msg: "Invalid Path"},
		{name: "realpath nested", typ: fxpRealpath, fields: []any{"/dsk/a/b"}, code: fxNoSuchFile, msg: "Invalid Path"},

		// RENAME (manual §1.7).
		{name: "rename missing source", typ: fxpRename, fields: []any{"/dsk/nope", "/dsk/x"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "rename missing mem source", typ: fxpRename, fields: []any{"/mem/nope", "/dsk/x"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "rename missing source across", typ: fxpRename, fields: []any{"/dsk/nope", "/mem/x"}, code: fxNoSuchFile, msg: "File not found"},
		{name: "rename from unknown fs", typ: fxpRename, fields: []any{"/nofs/x", "/dsk/x"}, code: fxNoSuchFile, msg: "Invalid Old Path"},
		{name: "rename to unknown fs", typ: fxpRename, fields: []any{"/dsk/exists.bin", "/nofs/x"}, code: fxNoSuchFile, msg: "Invalid New Path"},
		{name: "rename to file system", typ: fxpRename, fields: []any{"/dsk/exists.bin", "/mem"}, code: fxNoSuchFile, msg: "Invalid New Path"},
		{name: "rename from file system", typ: fxpRename, fields: []any{"/dsk", "/mem/x"}, code: fxNoSuchFile, msg: "Invalid Old Path"},
		{name: "rename onto itself", typ: fxpRename, fields: []any{"/dsk/exists.bin", "/dsk/exists.bin"}, code: fxFailure, msg: "Computed paths are identical"},
		{name: "rename onto itself other case fs", typ: fxpRename, fields: []any{"/dsk/exists.bin", "/DSK/exists.bin"}, code: fxFailure, msg: "Computed paths are identical"},
		{name: "rename old too long", typ: fxpRename, fields: []any{"/dsk/" + tooLongName, "/dsk/x"}, code: fxFailure, msg: "Old Path too long"},
		{name: "rename new too long", typ: fxpRename, fields: []any{"/dsk/exists.bin", "/dsk/" + tooLongName}, code: fxFailure, msg: "New Path too long"},
		{name: "rename new bad name", typ: fxpRename, fields: []any{"/dsk/exists.bin", `/dsk/a\b`}, code: fxFailure, msg: "Invalid filename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.typ, tt.fields...)
			expectStatus(t, tt.name, r, tt.code, tt.msg)
		})
	}

	// Refused requests changed nothing.
	if b, err := os.ReadFile(filepath.Join(e.dsk, "exists.bin")); err != nil || string(b) != "hello" {
		t.Errorf("exists.bin after refused requests: got %q, %v; want %q", b, err, "hello")
	}
	for _, n := range []string{"moved.bin", "link.bin", "link", "d", "new.bin", "x"} {
		if _, err := os.Lstat(filepath.Join(e.dsk, n)); err == nil {
			t.Errorf("%s exists after a refused request", n)
		}
	}
	// The handles survived the misuse.
	if r := c.read(rh, 0, 100); r.typ != fxpData || string(r.data) != "hello" {
		t.Errorf("READ after misuse: got %s %q, want DATA \"hello\"", r, r.data)
	}
	for _, h := range []string{rh, wh, dh} {
		expectStatus(t, "CLOSE "+h, c.close(h), fxOK, "File/Dir closed OK")
	}
	// A closed handle is unknown.
	expectStatus(t, "READ closed handle", c.read(rh, 0, 1), fxFailure, "Invalid handler")
	expectStatus(t, "CLOSE twice", c.close(rh), fxFailure, "Invalid handler")
}

// TestMalformed sends broken frames on one session; each gets BAD_MESSAGE
// and the session keeps working (the library alone would close it).
func TestMalformed(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/dsk/w.bin", fxfWrite|openCreat)

	// lengthFrame is a frame whose length word is n but whose body is body.
	lengthFrame := func(n uint32, body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), body...)
	}
	// withID prefixes type and id.
	withID := func(typ byte, id uint32, rest []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{typ}, id), rest...)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	str := func(s string) []byte { return append(u32(uint32(len(s))), s...) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	long := "/dsk/" + strings.Repeat("a", 4092) // 4097 bytes

	tests := []struct {
		name  string
		frame []byte
		id    uint32
		code  uint32
		msg   string
	}{
		{name: "empty frame", frame: lengthFrame(0, nil), id: 0, code: fxBadMessage, msg: "Bad message length"},
		{name: "type only", frame: lengthFrame(1, []byte{fxpStat}), id: 0, code: fxBadMessage, msg: "Bad message length"},
		{name: "type and 3 bytes", frame: lengthFrame(4, []byte{fxpStat, 0, 0, 7}), id: 0, code: fxBadMessage, msg: "Bad message length"},
		{name: "short init", frame: lengthFrame(3, []byte{fxpInit, 0, 0}), id: 0, code: fxBadMessage, msg: "Bad message length"},
		{name: "stat without path", frame: pkt(fxpStat, uint32(11)), id: 11, code: fxBadMessage, msg: "Bad message length"},
		{name: "open without pflags", frame: pkt(fxpOpen, uint32(12), "/dsk/x"), id: 12, code: fxBadMessage, msg: "Bad message length"},
		{name: "open without attrs", frame: pkt(fxpOpen, uint32(13), "/dsk/x", uint32(fxfRead)), id: 13, code: fxBadMessage, msg: "Bad message length"},
		{name: "open attrs size missing", frame: pkt(fxpOpen, uint32(14), "/dsk/x", uint32(fxfRead), uint32(attrSize)), id: 14, code: fxBadMessage, msg: "Bad message length"},
		{name: "open attrs huge extended count", frame: pkt(fxpOpen, uint32(15), "/dsk/x", uint32(fxfRead), uint32(attrExtended), uint32(1e9)), id: 15, code: fxBadMessage, msg: "Bad message length"},
		{name: "path length beyond frame", frame: lengthFrame(5+4+3, cat(withID(fxpStat, 16, u32(100)), []byte("/ds"))), id: 16, code: fxBadMessage, msg: "Bad message length"},
		{name: "rename without new path", frame: pkt(fxpRename, uint32(17), "/dsk/a"), id: 17, code: fxBadMessage, msg: "Bad message length"},
		{name: "read without length", frame: pkt(fxpRead, uint32(18), h, uint64(0)), id: 18, code: fxBadMessage, msg: "Bad message length"},
		{name: "write data beyond frame", frame: lengthFrame(uint32(5+len(str(h))+8+4+2), cat(withID(fxpWrite, 19, str(h)), make([]byte, 8), u32(10), []byte("ab"))), id: 19, code: fxBadMessage, msg: "Bad message length"},
		{name: "write without data", frame: pkt(fxpWrite, uint32(20), h, uint64(0)), id: 20, code: fxBadMessage, msg: "Bad message length"},
		{name: "close without handle", frame: pkt(fxpClose, uint32(21)), id: 21, code: fxBadMessage, msg: "Bad message length"},
		{name: "setstat without attrs", frame: pkt(fxpSetstat, uint32(22), "/dsk/x"), id: 22, code: fxBadMessage, msg: "Bad message length"},
		{name: "fsetstat attrs truncated", frame: pkt(fxpFsetstat, uint32(23), h, uint32(attrACModTime), uint32(1)), id: 23, code: fxBadMessage, msg: "Bad message length"},
		{name: "extended without name", frame: pkt(fxpExtended, uint32(24)), id: 24, code: fxBadMessage, msg: "Bad message length"},
		{name: "path too long", frame: pkt(fxpStat, uint32(30), long), id: 30, code: fxBadMessage, msg: "String too long for this system"},
		{name: "open path too long", frame: pkt(fxpOpen, uint32(31), long, uint32(fxfRead), uint32(0)), id: 31, code: fxBadMessage, msg: "String too long for this system"},
		{name: "rename new path too long", frame: pkt(fxpRename, uint32(32), "/dsk/a", long), id: 32, code: fxBadMessage, msg: "String too long for this system"},
		{name: "handle too long", frame: pkt(fxpRead, uint32(33), strings.Repeat("1", 4097), uint64(0), uint32(1)), id: 33, code: fxBadMessage, msg: "String too long for this system"},
		{name: "string length 0xffffffff", frame: lengthFrame(5+4, withID(fxpStat, 34, u32(0xffffffff))), id: 34, code: fxBadMessage, msg: "String too long for this system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.frame)
			r := c.recv()
			if r.id != tt.id {
				t.Errorf("got reply id %d, want %d", r.id, tt.id)
			}
			expectStatus(t, tt.name, r, tt.code, tt.msg)
			// Still alive.
			if r := c.do(fxpRealpath, "."); r.typ != fxpName {
				t.Fatalf("REALPATH after %s: got %s, want NAME", tt.name, r)
			}
		})
	}

	// A path of exactly 4096 bytes is within the limit (and then too long
	// a name for the device).
	expectStatus(t, "path of 4096", c.do(fxpStat, "/dsk/"+strings.Repeat("a", 4091)), fxFailure, "Path too long")

	// The handle still works.
	expectStatus(t, "WRITE", c.write(h, 0, []byte("ok")), fxOK, "Write file OK")
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
}

// TestFrameLength checks the 256 KiB frame limit on both sides of it.
func TestFrameLength(t *testing.T) {
	e := newEnv(t, 4<<20)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/mem/big", fxfWrite|openCreat)

	// A WRITE frame of exactly 262144 bytes is accepted.
	hdr := 1 + 4 + 4 + len(h) + 8 + 4
	data := pattern(maxFrame-hdr, 1)
	f := pkt(fxpWrite, uint32(40), h, uint64(0), data)
	if n := binary.BigEndian.Uint32(f); n != 262144 {
		t.Fatalf("test frame is %d bytes, want 262144", n)
	}
	c.send(f)
	r := c.recv()
	if r.id != 40 {
		t.Errorf("got reply id %d, want 40", r.id)
	}
	expectStatus(t, "WRITE of 262144", r, fxOK, "Write file OK")

	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	if got := c.get("/mem/big"); firstDiff(got, data) != "" {
		t.Errorf("content: %s", firstDiff(got, data))
	}

	// Over-long frames: the guard answers with their id and ends the
	// session, without waiting for a body that may never come (a frame
	// that declares 2 GiB). The upload open on it is cut, never committed.
	for _, n := range []uint32{maxFrame + 1, maxFrame + 4096, 1 << 31} {
		c := startConn(t, e, supervisor(), Options{})
		h := c.mustOpen("/mem/cut", fxfWrite|openCreat|openTrunc)
		expectStatus(t, "WRITE", c.write(h, 0, []byte("head")), fxOK, "Write file OK")
		body := make([]byte, 5+4+len(h))
		body[0] = fxpWrite
		binary.BigEndian.PutUint32(body[1:], 41)
		copy(body[5:], []byte{0, 0, 0, byte(len(h))})
		copy(body[9:], h)
		c.send(append(binary.BigEndian.AppendUint32(nil, n), body...))
		r := c.recv()
		if r.id != 41 {
			t.Errorf("length %d: got reply id %d, want 41", n, r.id)
		}
		expectStatus(t, "frame too long", r, fxBadMessage, "Bad message length")
		c.abrupt = true
		if err := c.wait(); err == nil || !strings.Contains(err.Error(), "frame over the maximum") {
			t.Errorf("length %d: session ended with %v, want the frame error", n, err)
		}
		if mi, err := e.mem.Stat("cut"); err != nil || !mi.Incomplete {
			t.Errorf("length %d: /mem/cut after the session: %+v, %v; want incomplete", n, mi, err)
		}
	}
}
