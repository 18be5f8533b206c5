package sftphandler

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPOSIXWriteHandles: OPEN without TRUNC keeps the existing bytes,
// APPEND appends whatever offsets the client sends (the guard numbers
// them in request order), on host files and staged files (DESIGN §5).
func TestPOSIXWriteHandles(t *testing.T) {
	old := pattern(100<<10, 21)
	tail := pattern(70<<10, 22)
	tests := []struct {
		name   string
		pflags uint32
		// offsets the client puts in its WRITEs for the chunks of tail
		offsets func(i, chunk int) uint64
		want    []byte
	}{
		{name: "keep, rewrite a middle part", pflags: fxfWrite | openCreat,
			offsets: func(i, chunk int) uint64 { return uint64(1000 + i*chunk) },
			want:    append(append(append([]byte{}, old[:1000]...), tail...), old[1000+len(tail):]...)},
		{name: "keep, write past the end", pflags: fxfWrite | openCreat,
			offsets: func(i, chunk int) uint64 { return uint64(len(old) + i*chunk) },
			want:    append(append([]byte{}, old...), tail...)},
		// OpenSSH reput: APPEND with the real offsets.
		{name: "append, real offsets", pflags: fxfWrite | openCreat | openAppend,
			offsets: func(i, chunk int) uint64 { return uint64(len(old) + i*chunk) },
			want:    append(append([]byte{}, old...), tail...)},
		// paramiko 'a' and pkg/sftp O_APPEND: APPEND from offset 0.
		{name: "append, offsets from 0", pflags: fxfWrite | openAppend,
			offsets: func(i, chunk int) uint64 { return uint64(i * chunk) },
			want:    append(append([]byte{}, old...), tail...)},
		{name: "append, every offset 0", pflags: fxfWrite | openAppend,
			offsets: func(int, int) uint64 { return 0 },
			want:    append(append([]byte{}, old...), tail...)},
	}
	for _, fs := range []string{"dsk", "mem"} {
		for _, tt := range tests {
			t.Run(fs+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, 4<<20)
				c := startConn(t, e, supervisor(), Options{})
				p := "/" + fs + "/f.dat"
				c.put(p, old)
				h := c.mustOpen(p, tt.pflags)
				// Pipelined, as clients send them: the library runs
				// them on several workers, out of order.
				const chunk = 8 << 10
				var ids []uint32
				for i := 0; i*chunk < len(tail); i++ {
					id := c.id()
					ids = append(ids, id)
					c.send(pkt(fxpWrite, id, h, tt.offsets(i, chunk), tail[i*chunk:min((i+1)*chunk, len(tail))]))
				}
				for range ids {
					if r := c.recv(); r.typ != fxpStatus || r.code != fxOK {
						t.Fatalf("WRITE: got %s", r)
					}
				}
				expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
				if got := c.get(p); !bytes.Equal(got, tt.want) {
					t.Errorf("content: %s", firstDiff(got, tt.want))
				}
			})
		}
	}
}

// TestWriteHole: bytes below the end never written make CLOSE fail, and
// nothing is published; the old file stays.
func TestWriteHole(t *testing.T) {
	for _, p := range []string{"/dsk/h.dat", "/mem/h.dat"} {
		t.Run(p, func(t *testing.T) {
			e := newEnv(t, 1<<20)
			c := startConn(t, e, supervisor(), Options{})
			h := c.mustOpen(p, fxfWrite|openCreat|openTrunc)
			expectStatus(t, "WRITE past the end", c.write(h, 1000, []byte("tail")), fxOK, "Write file OK")
			expectStatus(t, "CLOSE", c.close(h), fxFailure, "Unable to write file")
			expectStatus(t, "OPEN after", c.open(p, fxfRead), fxNoSuchFile, "File not found")

			// Over an existing file: a grown size is a hole too.
			c.put(p, []byte("old content"))
			h = c.mustOpen(p, fxfWrite|openCreat|openTrunc)
			expectStatus(t, "WRITE", c.write(h, 0, []byte("new")), fxOK, "Write file OK")
			expectStatus(t, "FSETSTAT grow", c.do(fxpFsetstat, h, attrsSize(50)), fxOK, "")
			expectStatus(t, "CLOSE", c.close(h), fxFailure, "Unable to write file")
			if got := c.get(p); string(got) != "old content" {
				t.Errorf("after a refused CLOSE: got %q, want the old content", got)
			}
			if tmp := tempFiles(t, e.dsk); len(tmp) != 0 {
				t.Errorf("temporary files left: %q", tmp)
			}
		})
	}
}

// TestFailedWriteIsSticky: after a failed WRITE (here the file size
// limit), later WRITEs fail too and CLOSE discards the upload.
func TestFailedWriteIsSticky(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "cfg.dat", []byte("old configuration"))
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/mem/cfg.dat", fxfWrite|openCreat|openTrunc)
	writeAll(t, c, h, 0, pattern(1<<20, 3))
	expectStatus(t, "WRITE past the budget", c.write(h, 1<<20, pattern(128<<10, 4)), fxFailure, "Unable to allocate write buffer")
	expectStatus(t, "WRITE after the failure", c.write(h, 0, []byte("x")), fxFailure, "Unable to allocate write buffer")
	expectStatus(t, "CLOSE", c.close(h), fxFailure, "Unable to write file")
	// Nothing to commit: the old file stays.
	expectStatus(t, "RENAME", c.do(fxpRename, "/mem/cfg.dat", "/dsk/cfg.dat"), fxNoSuchFile, "File not found")
	if b, _ := os.ReadFile(filepath.Join(e.dsk, "cfg.dat")); string(b) != "old configuration" {
		t.Errorf("/dsk/cfg.dat: got %q", b)
	}
}

// TestFstatSetstat: FSTAT describes the handle (a file being written as
// written so far); times set on a staged file are kept through the commit.
func TestFstatSetstat(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/mem/t.cfg", fxfWrite|openCreat|openTrunc)
	if r := c.do(fxpFstat, h); r.typ != fxpAttrs || r.attrs.size != 0 || r.attrs.perm&0o777 != 0o644 {
		t.Errorf("FSTAT new file: got %s, want ATTRS size 0 mode 0644", r)
	}
	expectStatus(t, "WRITE", c.write(h, 0, []byte("hello")), fxOK, "Write file OK")
	if r := c.do(fxpFstat, h); r.typ != fxpAttrs || r.attrs.size != 5 {
		t.Errorf("FSTAT after WRITE: got %s, want ATTRS size 5", r)
	}
	expectStatus(t, "FSETSTAT times", c.do(fxpFsetstat, h, attrsTimes()), fxOK, "")
	expectStatus(t, "FSETSTAT same mode", c.do(fxpFsetstat, h, attrsPerm(0o644)), fxOK, "")
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	mi, err := e.mem.Stat("t.cfg")
	if err != nil || !mi.ModTime.Equal(time.Unix(1700000001, 0)) {
		t.Errorf("staged mtime: got %v, %v; want %v", mi.ModTime, err, time.Unix(1700000001, 0))
	}
	expectStatus(t, "RENAME", c.do(fxpRename, "/mem/t.cfg", "/dsk/t.cfg"), fxOK, "File moved OK")
	fi, err := os.Stat(filepath.Join(e.dsk, "t.cfg"))
	if err != nil || fi.ModTime().Unix() != 1700000001 {
		t.Errorf("committed mtime: got %v, %v; want %d", fi.ModTime(), err, 1700000001)
	}
	// A path SETSTAT of times on a host file.
	expectStatus(t, "SETSTAT times", c.do(fxpSetstat, "/dsk/t.cfg", attrsTimes()), fxOK, "")
	expectStatus(t, "SETSTAT missing", c.do(fxpSetstat, "/dsk/nope", attrsTimes()), fxNoSuchFile, "File not found")
}

// TestResumeIncomplete: an upload cut by the connection stays in /mem as
// an incomplete file that cannot be committed; APPEND (OpenSSH reput)
// completes it in place.
func TestResumeIncomplete(t *testing.T) {
	e := newEnv(t, 4<<20)
	data := pattern(600<<10, 9)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/mem/fw.dat", fxfWrite|openCreat|openTrunc)
	writeAll(t, c, h, 0, data[:200<<10])
	c.abrupt = true
	c.w.Close()
	c.wait()

	c = startConn(t, e, supervisor(), Options{})
	r := c.do(fxpStat, "/mem/fw.dat")
	if r.typ != fxpAttrs || r.attrs.size != 200<<10 || r.attrs.perm&0o777 != 0o200 {
		t.Fatalf("STAT incomplete: got %s, want size %d mode 0200", r, 200<<10)
	}
	expectStatus(t, "RENAME incomplete", c.do(fxpRename, "/mem/fw.dat", "/dsk/fw.dat"), fxFailure, "Unable to read source file, operation aborted...")
	expectStatus(t, "OPEN incomplete for read", c.open("/mem/fw.dat", fxfRead), fxFailure, "Unable to open file")
	h = c.mustOpen("/mem/fw.dat", fxfWrite|openAppend)
	writeAll(t, c, h, 200<<10, data[200<<10:])
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	expectStatus(t, "RENAME", c.do(fxpRename, "/mem/fw.dat", "/dsk/fw.dat"), fxOK, "File moved OK")
	if b, _ := os.ReadFile(filepath.Join(e.dsk, "fw.dat")); !bytes.Equal(b, data) {
		t.Errorf("committed: %s", firstDiff(b, data))
	}
}

// writeAll writes data at off in WRITEs of 128 KiB, waiting for each.
func writeAll(t *testing.T, c *tconn, h string, off uint64, data []byte) {
	t.Helper()
	for i := 0; i < len(data); i += 128 << 10 {
		expectStatus(t, "WRITE", c.write(h, off+uint64(i), data[i:min(i+128<<10, len(data))]), fxOK, "Write file OK")
	}
}

// TestOpenFreshReadWrite: READ|WRITE with CREAT and EXCL or TRUNC makes
// a new, empty file (mkstemp through sshfs, pkg/sftp Create): served as a
// write handle, whose READs are refused.
func TestOpenFreshReadWrite(t *testing.T) {
	for _, fl := range []uint32{openCreat | openExcl, openCreat | openTrunc} {
		e := newEnv(t, 1<<20)
		c := startConn(t, e, supervisor(), Options{})
		h := c.mustOpen("/mem/sedXYZ", fxfRead|fxfWrite|fl)
		expectStatus(t, "WRITE", c.write(h, 0, []byte("edited")), fxOK, "Write file OK")
		expectStatus(t, "READ", c.read(h, 0, 10), fxFailure, "Illegal operation")
		expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
		if got := c.get("/mem/sedXYZ"); string(got) != "edited" {
			t.Errorf("flags %#x: got %q", fl, got)
		}
		if fl&openExcl != 0 {
			expectStatus(t, "OPEN EXCL of an existing file", c.open("/mem/sedXYZ", fxfRead|fxfWrite|fl), fxFailure, "Unable to open file")
		}
	}
}

// TestOpenReadWithWriteFlags: CREAT, TRUNC or APPEND without WRITE is a
// read handle, as the guard records it: nothing is created or emptied
// (pkg/sftp made READ|TRUNC a write handle whose CLOSE committed an empty
// file over the old one).
func TestOpenReadWithWriteFlags(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "cfg", []byte("keep me"))
	c := startConn(t, e, supervisor(), Options{})
	for _, fl := range []uint32{openTrunc, openCreat, openCreat | openTrunc, fxfAppend} {
		h := c.mustOpen("/dsk/cfg", fxfRead|fl)
		if r := c.read(h, 0, 100); r.typ != fxpData || string(r.data) != "keep me" {
			t.Errorf("flags %#x: READ got %s, want the file", fl, r)
		}
		expectStatus(t, "WRITE", c.write(h, 0, []byte("x")), fxFailure, "Illegal operation")
		expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
		if got, _ := os.ReadFile(filepath.Join(e.dsk, "cfg")); string(got) != "keep me" {
			t.Errorf("flags %#x: the file became %q", fl, got)
		}
	}
	expectStatus(t, "OPEN READ|CREAT of a missing file", c.open("/dsk/new", fxfRead|openCreat), fxNoSuchFile, "File not found")
	if _, err := os.Stat(filepath.Join(e.dsk, "new")); !os.IsNotExist(err) {
		t.Errorf("READ|CREAT created a file: %v", err)
	}
}
