package sftphandler

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// Tests of the supported requests' success replies and their effects.

func TestWriteReadClose(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})

	data := pattern(100<<10, 3)
	c.put("/dsk/a.bin", data)
	if b, err := os.ReadFile(filepath.Join(e.dsk, "a.bin")); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("a.bin on disk: %v, %s", err, firstDiff(b, data))
	}
	if got := c.get("/dsk/a.bin"); !bytes.Equal(got, data) {
		t.Errorf("downloaded: %s", firstDiff(got, data))
	}

	h := c.mustOpen("/dsk/a.bin", fxfRead)
	tests := []struct {
		name string
		off  uint64
		n    uint32
		want []byte // nil: EOF
	}{
		{name: "start", off: 0, n: 10, want: data[:10]},
		{name: "last byte", off: uint64(len(data) - 1), n: 10, want: data[len(data)-1:]},
		{name: "at end", off: uint64(len(data)), n: 10},
		{name: "past end", off: uint64(len(data)) + 1000, n: 10},
		{name: "far past end", off: 1 << 62, n: 10},
		{name: "zero length inside", off: 5, n: 0, want: []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.read(h, tt.off, tt.n)
			if tt.want == nil {
				expectStatus(t, "READ", r, fxEOF, "Read end of file")
				return
			}
			if r.typ != fxpData || !bytes.Equal(r.data, tt.want) {
				t.Errorf("got %s %x, want DATA %x", r, r.data, tt.want)
			}
		})
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")

	// A large READ is capped at the advertised 261120 bytes.
	big := pattern(300<<10, 4)
	writeHost(t, e.dsk, "big.bin", big)
	h = c.mustOpen("/dsk/big.bin", fxfRead)
	r := c.read(h, 0, 1<<20)
	if r.typ != fxpData || len(r.data) != 261120 || !bytes.Equal(r.data, big[:261120]) {
		t.Errorf("READ of 1 MiB: got %s, want DATA of 261120 bytes", r)
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
}

func TestReaddir(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "one.bin", []byte("1"))
	writeHost(t, e.dsk, "two.bin", []byte("22"))
	writeHost(t, e.dsk, ".sluice-tmp-leftover", []byte("x")) // hidden
	if err := os.Mkdir(filepath.Join(e.dsk, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := startConn(t, e, supervisor(), Options{})

	list := func(p string) map[string]fileAttrs {
		t.Helper()
		h := c.mustOpendir(p)
		got := map[string]fileAttrs{}
		for {
			r := c.do(fxpReaddir, h)
			if r.typ == fxpStatus {
				expectStatus(t, "READDIR "+p, r, fxEOF, "No more files")
				break
			}
			if r.typ != fxpName {
				t.Fatalf("READDIR %s: got %s, want NAME", p, r)
			}
			for _, n := range r.names {
				got[n.name] = n.attrs
			}
		}
		// READDIR after the end stays at the end.
		expectStatus(t, "READDIR again", c.do(fxpReaddir, h), fxEOF, "No more files")
		expectStatus(t, "CLOSE dir", c.close(h), fxOK, "File/Dir closed OK")
		return got
	}

	root := list("/")
	var names []string
	for n, a := range root {
		names = append(names, n)
		// The read-only files of "/" (virtual.go) next to the file
		// systems.
		if isFile := n == verdictsFile || n == stateFile; a.isDir() == isFile {
			t.Errorf("/%s: got mode %o, want a directory: %v", n, a.perm, !isFile)
		}
	}
	slices.Sort(names)
	if want := []string{"bio", "dsk", "mem", stateFile, "ts1", "tst", verdictsFile}; !slices.Equal(names, want) {
		t.Errorf("root listing: got %q, want %q", names, want)
	}

	dsk := list("/dsk")
	if len(dsk) != 2 || dsk["one.bin"].size != 1 || dsk["two.bin"].size != 2 {
		t.Errorf("/dsk listing: got %+v, want one.bin (1 byte) and two.bin (2 bytes)", dsk)
	}
	for n, a := range dsk {
		if a.isDir() {
			t.Errorf("/dsk/%s: got a directory mode", n)
		}
	}
	if got := list("/mem"); len(got) != 0 {
		t.Errorf("/mem listing: got %+v, want empty", got)
	}
	if got := list("/DSK/"); len(got) != 2 {
		t.Errorf("/DSK/ listing: got %d entries, want 2", len(got))
	}
}

func TestStat(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "f.bin", []byte("12345"))
	c := startConn(t, e, supervisor(), Options{})
	tests := []struct {
		name string
		typ  byte
		path string
		dir  bool
		size uint64
	}{
		{name: "stat root", typ: fxpStat, path: "/", dir: true},
		{name: "stat dsk", typ: fxpStat, path: "/dsk", dir: true},
		{name: "stat dsk slash", typ: fxpStat, path: "/dsk/", dir: true},
		{name: "stat mem", typ: fxpStat, path: "/mem", dir: true},
		{name: "stat tst", typ: fxpStat, path: "/tst", dir: true},
		{name: "lstat dsk", typ: fxpLstat, path: "/dsk", dir: true},
		{name: "stat relative", typ: fxpStat, path: "dsk", dir: true},
		{name: "stat file", typ: fxpStat, path: "/dsk/f.bin", size: 5},
		{name: "lstat file", typ: fxpLstat, path: "/dsk/f.bin", size: 5},
		{name: "stat test-sink number", typ: fxpStat, path: "/tst/1000", size: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.typ, tt.path)
			if r.typ != fxpAttrs {
				t.Fatalf("got %s, want ATTRS", r)
			}
			if r.attrs.isDir() != tt.dir {
				t.Errorf("got mode %o, want directory %v", r.attrs.perm, tt.dir)
			}
			if !tt.dir && r.attrs.size != tt.size {
				t.Errorf("got size %d, want %d", r.attrs.size, tt.size)
			}
		})
	}
}

func TestRealpath(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	tests := []struct{ name, path, want string }{
		{name: "dot", path: ".", want: "/"},
		{name: "empty", path: "", want: "/"},
		{name: "root", path: "/", want: "/"},
		{name: "relative fs", path: "dsk", want: "/dsk"},
		{name: "dot dot", path: "/dsk/..", want: "/"},
		{name: "above root", path: "../../..", want: "/"},
		{name: "file", path: "/mem/x.bin", want: "/mem/x.bin"},
		{name: "trailing slash", path: "/dsk/", want: "/dsk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(fxpRealpath, tt.path)
			if r.typ != fxpName || len(r.names) != 1 || r.names[0].name != tt.want {
				t.Errorf("got %s %+v, want NAME %q", r, r.names, tt.want)
			}
		})
	}
}

func TestRemoveRename(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	data := pattern(70000, 5)

	// REMOVE.
	writeHost(t, e.dsk, "gone.bin", data)
	expectStatus(t, "REMOVE", c.do(fxpRemove, "/dsk/gone.bin"), fxOK, "File removed OK")
	if _, err := os.Stat(filepath.Join(e.dsk, "gone.bin")); !os.IsNotExist(err) {
		t.Errorf("gone.bin after REMOVE: %v", err)
	}
	expectStatus(t, "REMOVE again", c.do(fxpRemove, "/dsk/gone.bin"), fxNoSuchFile, "File not found")
	c.put("/mem/gone.bin", data)
	expectStatus(t, "REMOVE mem", c.do(fxpRemove, "/mem/gone.bin"), fxOK, "File removed OK")
	if st := e.mem.Stats(); st.Req != 0 {
		t.Errorf("mem Req after REMOVE: got %d, want 0", st.Req)
	}

	// Moved from /mem to /dsk: the manual's secure download.
	c.put("/mem/x.bin", data)
	expectStatus(t, "RENAME mem to dsk", c.do(fxpRename, "/mem/x.bin", "/dsk/x.bin"), fxOK, "File moved OK")
	if b, err := os.ReadFile(filepath.Join(e.dsk, "x.bin")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("x.bin on disk: %v, %s", err, firstDiff(b, data))
	}
	expectStatus(t, "STAT moved source", c.do(fxpStat, "/mem/x.bin"), fxNoSuchFile, "File not found")
	if st := e.mem.Stats(); st.Req != 0 {
		t.Errorf("mem Req after move: got %d, want 0", st.Req)
	}
	if tmp := tempFiles(t, e.dsk); len(tmp) != 0 {
		t.Errorf("temporary files after move: %q", tmp)
	}

	// Renamed within /dsk, replacing an existing target.
	writeHost(t, e.dsk, "y.bin", []byte("old"))
	expectStatus(t, "RENAME within dsk", c.do(fxpRename, "/dsk/x.bin", "/dsk/y.bin"), fxOK, "File renamed OK")
	if b, _ := os.ReadFile(filepath.Join(e.dsk, "y.bin")); !bytes.Equal(b, data) {
		t.Errorf("y.bin after rename: %s", firstDiff(b, data))
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "x.bin")); !os.IsNotExist(err) {
		t.Errorf("x.bin after rename: %v", err)
	}

	// Renamed within /mem.
	c.put("/mem/m1", data)
	expectStatus(t, "RENAME within mem", c.do(fxpRename, "/mem/m1", "/mem/m2"), fxOK, "File renamed OK")
	if got := c.get("/mem/m2"); !bytes.Equal(got, data) {
		t.Errorf("/mem/m2: %s", firstDiff(got, data))
	}

	// Moved from /dsk to /mem and on to /bio.
	expectStatus(t, "RENAME dsk to mem", c.do(fxpRename, "/dsk/y.bin", "/mem/y.bin"), fxOK, "File moved OK")
	expectStatus(t, "RENAME mem to bio", c.do(fxpRename, "/mem/y.bin", "/bio/y.bin"), fxOK, "File moved OK")
	if b, _ := os.ReadFile(filepath.Join(e.bio, "y.bin")); !bytes.Equal(b, data) {
		t.Errorf("bio/y.bin: %s", firstDiff(b, data))
	}
	// Rename onto itself changes nothing.
	expectStatus(t, "RENAME onto itself", c.do(fxpRename, "/bio/y.bin", "/bio/y.bin"), fxFailure, "Computed paths are identical")
	if b, _ := os.ReadFile(filepath.Join(e.bio, "y.bin")); !bytes.Equal(b, data) {
		t.Errorf("bio/y.bin after identical rename: %s", firstDiff(b, data))
	}
}

func TestBusy(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.bio, "old.bin", []byte("old"))
	c := startConn(t, e, supervisor(), Options{})
	other := startConn(t, e, &vfs.Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "s2"}, Options{})
	c.put("/mem/src.bin", []byte("source"))

	const busy = "Filesystem busy"
	// A write handle on /mem/f.
	wh := c.mustOpen("/mem/f", fxfWrite|openCreat|openTrunc)
	expectStatus(t, "WRITE", c.write(wh, 0, []byte("abc")), fxOK, "Write file OK")
	tests := []struct {
		name   string
		c      *tconn
		typ    byte
		fields []any
		code   uint32
		msg    string
	}{
		{name: "second write open same session", c: c, typ: fxpOpen, fields: []any{"/mem/f", uint32(fxfWrite | openCreat | openTrunc), uint32(0)}, code: fxPermDenied, msg: busy},
		{name: "second write open other session", c: other, typ: fxpOpen, fields: []any{"/mem/f", uint32(fxfWrite | openCreat), uint32(0)}, code: fxPermDenied, msg: busy},
		{name: "read open while writing", c: other, typ: fxpOpen, fields: []any{"/mem/f", uint32(fxfRead), uint32(0)}, code: fxPermDenied, msg: busy},
		{name: "remove while writing", c: other, typ: fxpRemove, fields: []any{"/mem/f"}, code: fxPermDenied, msg: busy},
		{name: "rename from while writing", c: other, typ: fxpRename, fields: []any{"/mem/f", "/dsk/f"}, code: fxPermDenied, msg: "Source filesystem busy"},
		{name: "rename onto while writing", c: other, typ: fxpRename, fields: []any{"/mem/src.bin", "/mem/f"}, code: fxPermDenied, msg: "Target filesystem busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectStatus(t, tt.name, tt.c.do(tt.typ, tt.fields...), tt.code, tt.msg)
		})
	}
	expectStatus(t, "CLOSE", c.close(wh), fxOK, "File/Dir closed OK")
	if got := other.get("/mem/f"); string(got) != "abc" {
		t.Errorf("/mem/f: got %q, want %q", got, "abc")
	}
	// Free again.
	h := other.mustOpen("/mem/f", fxfWrite|openCreat|openTrunc)
	expectStatus(t, "CLOSE", other.close(h), fxOK, "File/Dir closed OK")

	// The same on a host file system.
	wh = c.mustOpen("/dsk/f", fxfWrite|openCreat)
	expectStatus(t, "second write open dsk", other.open("/dsk/f", fxfWrite|openCreat), fxPermDenied, busy)
	expectStatus(t, "CLOSE", c.close(wh), fxOK, "File/Dir closed OK")

	// Exclusive /bio: one operation at a time on the whole file system.
	wh = c.mustOpen("/bio/a", fxfWrite|openCreat|openTrunc)
	exclusive := []struct {
		name   string
		c      *tconn
		typ    byte
		fields []any
		msg    string
	}{
		{name: "other file same session", c: c, typ: fxpOpen, fields: []any{"/bio/b", uint32(fxfWrite | openCreat), uint32(0)}, msg: busy},
		{name: "other file other session", c: other, typ: fxpOpen, fields: []any{"/bio/b", uint32(fxfWrite | openCreat), uint32(0)}, msg: busy},
		{name: "read other file", c: other, typ: fxpOpen, fields: []any{"/bio/old.bin", uint32(fxfRead), uint32(0)}, msg: busy},
		{name: "opendir", c: other, typ: fxpOpendir, fields: []any{"/bio"}, msg: busy},
		{name: "remove", c: other, typ: fxpRemove, fields: []any{"/bio/old.bin"}, msg: busy},
		{name: "rename within", c: other, typ: fxpRename, fields: []any{"/bio/old.bin", "/bio/new.bin"}, msg: "Source filesystem busy"},
		{name: "move into", c: other, typ: fxpRename, fields: []any{"/mem/src.bin", "/bio/src.bin"}, msg: "Target filesystem busy"},
	}
	for _, tt := range exclusive {
		t.Run("bio "+tt.name, func(t *testing.T) {
			expectStatus(t, tt.name, tt.c.do(tt.typ, tt.fields...), fxPermDenied, tt.msg)
		})
	}
	expectStatus(t, "CLOSE bio", c.close(wh), fxOK, "File/Dir closed OK")
	h = other.mustOpen("/bio/b", fxfWrite|openCreat)
	expectStatus(t, "CLOSE bio b", other.close(h), fxOK, "File/Dir closed OK")

	// A read handle holds /bio too.
	rh := c.mustOpen("/bio/old.bin", fxfRead)
	expectStatus(t, "open while reading", other.open("/bio/b", fxfRead), fxPermDenied, busy)
	expectStatus(t, "CLOSE", c.close(rh), fxOK, "File/Dir closed OK")
}

func TestMemLimit(t *testing.T) {
	const budget = 1 << 20
	e := newEnv(t, budget)
	c := startConn(t, e, supervisor(), Options{})

	h := c.mustOpen("/mem/big", fxfWrite|openCreat|openTrunc)
	const chunk = 128 << 10
	data := pattern(budget, 6)
	for off := 0; off < budget; off += chunk {
		expectStatus(t, "WRITE", c.write(h, uint64(off), data[off:off+chunk]), fxOK, "Write file OK")
	}
	expectStatus(t, "WRITE past the budget", c.write(h, budget, []byte("x")), fxFailure, "Unable to allocate write buffer")
	expectStatus(t, "WRITE far past the budget", c.write(h, 1<<40, []byte("x")), fxFailure, "Unable to allocate write buffer")
	// Another file finds the budget spent.
	h2 := c.mustOpen("/mem/other", fxfWrite|openCreat)
	expectStatus(t, "WRITE second file", c.write(h2, 0, []byte("x")), fxFailure, "Unable to allocate write buffer")
	// A failed WRITE is sticky: CLOSE reports it and publishes nothing
	// (exact or nothing), and the memory is returned.
	expectStatus(t, "CLOSE second", c.close(h2), fxFailure, "Unable to write file")
	expectStatus(t, "CLOSE", c.close(h), fxFailure, "Unable to write file")
	for _, p := range []string{"/mem/big", "/mem/other"} {
		expectStatus(t, "OPEN "+p, c.open(p, fxfRead), fxNoSuchFile, "File not found")
	}
	if st := e.mem.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("after the failed CLOSEs: got Req %d Busy %d, want 0 0", st.Req, st.Busy)
	}

}

// TestTruncateNoSpace: an FSETSTAT{size} beyond the staging budget is the
// same failure as a WRITE beyond it.
func TestTruncateNoSpace(t *testing.T) {
	const budget = 1 << 20
	e := newEnv(t, budget)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/mem/t", fxfWrite|openCreat)
	expectStatus(t, "FSETSTAT size past the budget", c.do(fxpFsetstat, h, attrsSize(budget+1)), fxFailure, "Unable to allocate write buffer")
	expectStatus(t, "CLOSE", c.close(h), fxFailure, "Unable to write file")
	expectStatus(t, "REMOVE", c.do(fxpRemove, "/mem/t"), fxNoSuchFile, "File not found")
	if st := e.mem.Stats(); st.Req != 0 {
		t.Errorf("Req at the end: got %d, want 0", st.Req)
	}
}

// TestPipelinedWrites sends all WRITEs of a file before reading any reply,
// at shuffled offsets, as OpenSSH and pkg/sftp clients do; the library runs
// them on several workers.
func TestPipelinedWrites(t *testing.T) {
	for _, p := range []string{"/mem/p.bin", "/dsk/p.bin", "/bio/p.bin"} {
		t.Run(p, func(t *testing.T) {
			e := newEnv(t, 8<<20)
			c := startConn(t, e, supervisor(), Options{})
			const chunk, n = 16 << 10, 200
			data := pattern(chunk*n-1000, 7) // the last chunk is short
			h := c.mustOpen(p, fxfWrite|openCreat|openTrunc)

			order := make([]int, n)
			for i := range order {
				order[i] = i
			}
			// A deterministic shuffle.
			for i := n - 1; i > 0; i-- {
				j := (i*7919 + 13) % (i + 1)
				order[i], order[j] = order[j], order[i]
			}
			var buf []byte
			ids := map[uint32]bool{}
			for _, k := range order {
				off := k * chunk
				id := 1000 + uint32(k)
				ids[id] = true
				buf = append(buf, pkt(fxpWrite, id, h, uint64(off), data[off:min(off+chunk, len(data))])...)
			}
			c.send(buf)
			for range n {
				r := c.recv()
				if !ids[r.id] {
					t.Fatalf("unexpected or repeated reply %s", r)
				}
				delete(ids, r.id)
				expectStatus(t, "WRITE", r, fxOK, "Write file OK")
			}
			expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
			if got := c.get(p); !bytes.Equal(got, data) {
				t.Errorf("content: %s", firstDiff(got, data))
			}
		})
	}
}

// TestPipelinedReads reads a file with all READs sent at once.
func TestPipelinedReads(t *testing.T) {
	e := newEnv(t, 1<<20)
	data := pattern(1<<20+17, 8)
	writeHost(t, e.dsk, "r.bin", data)
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpen("/dsk/r.bin", fxfRead)
	const chunk = 32 << 10
	n := (len(data) + chunk - 1) / chunk
	var buf []byte
	for k := range n + 2 { // two beyond the end
		buf = append(buf, pkt(fxpRead, uint32(5000+k), h, uint64(k*chunk), uint32(chunk))...)
	}
	c.send(buf)
	got := make([]byte, len(data))
	eofs := 0
	for range n + 2 {
		r := c.recv()
		k := int(r.id) - 5000
		switch {
		case r.typ == fxpData:
			copy(got[k*chunk:], r.data)
		case r.typ == fxpStatus && k >= n:
			expectStatus(t, "READ past end", r, fxEOF, "Read end of file")
			eofs++
		default:
			t.Fatalf("READ %d: got %s", k, r)
		}
	}
	if eofs != 2 {
		t.Errorf("got %d EOF replies, want 2", eofs)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("content: %s", firstDiff(got, data))
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
}

func TestPolicy(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "f.bin", []byte("content"))
	const denied = "Operation denied to this client"
	user := func(name string, level policy.Level, fss ...string) *vfs.Session {
		return &vfs.Session{User: &policy.User{Name: name, Level: level, FileSystems: fss}, ID: name}
	}

	t.Run("guest", func(t *testing.T) {
		c := startConn(t, e, user("guest", policy.Guest), Options{})
		h := c.mustOpendir("/dsk")
		if r := c.do(fxpReaddir, h); r.typ != fxpName || len(r.names) != 1 || r.names[0].name != "f.bin" {
			t.Errorf("READDIR: got %s %+v, want f.bin", r, r.names)
		}
		c.close(h)
		if got := c.get("/dsk/f.bin"); string(got) != "content" {
			t.Errorf("read: got %q", got)
		}
		expectStatus(t, "OPEN write", c.open("/dsk/g.bin", fxfWrite|openCreat), fxPermDenied, denied)
		expectStatus(t, "OPEN write mem", c.open("/mem/g.bin", fxfWrite|openCreat), fxPermDenied, denied)
		expectStatus(t, "REMOVE", c.do(fxpRemove, "/dsk/f.bin"), fxPermDenied, denied)
		expectStatus(t, "RENAME", c.do(fxpRename, "/dsk/f.bin", "/dsk/g.bin"), fxPermDenied, denied)
		expectStatus(t, "RENAME move", c.do(fxpRename, "/dsk/f.bin", "/mem/g.bin"), fxPermDenied, denied)
	})
	t.Run("viewer", func(t *testing.T) {
		c := startConn(t, e, user("viewer", policy.Viewer), Options{})
		h := c.mustOpendir("/dsk")
		c.close(h)
		if r := c.do(fxpStat, "/dsk/f.bin"); r.typ != fxpAttrs {
			t.Errorf("STAT: got %s, want ATTRS", r)
		}
		expectStatus(t, "OPEN read", c.open("/dsk/f.bin", fxfRead), fxPermDenied, denied)
		expectStatus(t, "OPEN write", c.open("/dsk/g.bin", fxfWrite|openCreat), fxPermDenied, denied)
		expectStatus(t, "REMOVE", c.do(fxpRemove, "/dsk/f.bin"), fxPermDenied, denied)
	})
	t.Run("sandbox", func(t *testing.T) {
		c := startConn(t, e, user("boxed", policy.Supervisor, "mem"), Options{})
		expectStatus(t, "OPEN outside", c.open("/dsk/f.bin", fxfRead), fxNoSuchFile, "Invalid Path")
		expectStatus(t, "STAT outside", c.do(fxpStat, "/dsk"), fxNoSuchFile, "Invalid Path")
		expectStatus(t, "OPENDIR outside", c.do(fxpOpendir, "/dsk"), fxNoSuchFile, "Invalid Path")
		expectStatus(t, "RENAME into", c.do(fxpRename, "/mem/x", "/dsk/x"), fxNoSuchFile, "Invalid New Path")
		h := c.mustOpendir("/")
		r := c.do(fxpReaddir, h)
		// Of the file systems only mem; the read-only files of "/"
		// (virtual.go) are every user's.
		if r.typ != fxpName || len(r.names) != 3 || r.names[0].name != "mem" ||
			r.names[1].name != stateFile || r.names[2].name != verdictsFile {
			t.Errorf("root listing: got %s %+v, want only mem, %s and %s", r, r.names, stateFile, verdictsFile)
		}
		c.close(h)
	})
	if b, _ := os.ReadFile(filepath.Join(e.dsk, "f.bin")); string(b) != "content" {
		t.Errorf("f.bin after refused requests: %q", b)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "g.bin")); err == nil {
		t.Errorf("g.bin was created")
	}
}

// TestMemOwner: a staged file belongs to its uploader (DESIGN §3).
func TestMemOwner(t *testing.T) {
	e := newEnv(t, 1<<20)
	perm := true
	op := &vfs.Session{User: &policy.User{Name: "op", Level: policy.Guest,
		Permissions: policy.Permissions{Write: &perm, Delete: &perm, Rename: &perm, Commit: &perm}}, ID: "op"}
	other := &vfs.Session{User: &policy.User{Name: "other", Level: policy.Guest,
		Permissions: policy.Permissions{Write: &perm, Delete: &perm, Rename: &perm, Commit: &perm}}, ID: "other"}
	a := startConn(t, e, op, Options{})
	b := startConn(t, e, other, Options{})
	a.put("/mem/fw.bin", []byte("firmware"))
	const denied = "Operation denied to this client"
	expectStatus(t, "REMOVE by other", b.do(fxpRemove, "/mem/fw.bin"), fxPermDenied, denied)
	expectStatus(t, "RENAME by other", b.do(fxpRename, "/mem/fw.bin", "/dsk/fw.bin"), fxPermDenied, denied)
	expectStatus(t, "overwrite by other", b.open("/mem/fw.bin", fxfWrite|openCreat), fxPermDenied, denied)
	expectStatus(t, "RENAME by owner", a.do(fxpRename, "/mem/fw.bin", "/dsk/fw.bin"), fxOK, "File moved OK")
}

func TestHandleLimit(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	var hs []string
	for i := range maxHandles {
		if i%2 == 0 {
			hs = append(hs, c.mustOpen("/tst/100", fxfRead))
		} else {
			hs = append(hs, c.mustOpendir("/tst"))
		}
	}
	expectStatus(t, "OPEN 65th", c.open("/tst/100", fxfRead), fxFailure, "Unable to allocate handler")
	expectStatus(t, "OPENDIR 65th", c.do(fxpOpendir, "/tst"), fxFailure, "Unable to allocate handler")
	expectStatus(t, "CLOSE", c.close(hs[0]), fxOK, "File/Dir closed OK")
	h := c.mustOpen("/tst/100", fxfRead)
	expectStatus(t, "OPEN 65th again", c.open("/tst/100", fxfRead), fxFailure, "Unable to allocate handler")
	// Failed opens do not use up handles.
	for range 3 * maxHandles {
		if r := c.open("/dsk/nope", fxfRead); r.typ != fxpStatus {
			t.Fatalf("OPEN missing: got %s", r)
		}
	}
	for _, x := range append(hs[1:], h) {
		expectStatus(t, "CLOSE", c.close(x), fxOK, "File/Dir closed OK")
	}
	for range maxHandles {
		h := c.mustOpen("/dsk/nope2", fxfWrite|openCreat)
		expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	}
}

// TestTestSink reads a numeric test-sink file, which the device serves as
// pseudo-random bytes of that length.
func TestTestSink(t *testing.T) {
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	if got := c.get("/tst/100000"); len(got) != 100000 {
		t.Errorf("got %d bytes, want 100000", len(got))
	}
	c.put("/ts1/up.bin", pattern(5000, 9))
	if r := c.do(fxpStat, "/ts1/up.bin"); r.typ != fxpAttrs || r.attrs.size != 5000 {
		t.Errorf("STAT /ts1/up.bin: got %s", r)
	}
}

// staged puts data into the store directly, as another front end would.
func staged(t *testing.T, s *mem.Store, name string, data []byte) {
	t.Helper()
	w, err := s.Create(name, mem.Owner{User: "root", Session: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadStaged(t *testing.T) {
	e := newEnv(t, 1<<20)
	data := pattern(300000, 10)
	staged(t, e.mem, "s.bin", data)
	c := startConn(t, e, supervisor(), Options{})
	if got := c.get("/mem/s.bin"); !bytes.Equal(got, data) {
		t.Errorf("content: %s", firstDiff(got, data))
	}
	// A snapshot stays readable after the name is removed.
	h := c.mustOpen("/mem/s.bin", fxfRead)
	expectStatus(t, "REMOVE", c.do(fxpRemove, "/mem/s.bin"), fxOK, "File removed OK")
	if r := c.read(h, 0, 4); r.typ != fxpData || !bytes.Equal(r.data, data[:4]) {
		t.Errorf("READ after REMOVE: got %s", r)
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	if st := e.mem.Stats(); st.Req != 0 {
		t.Errorf("Req: got %d, want 0", st.Req)
	}
}

// TestReaddirMany lists a directory that takes several NAME replies.
func TestReaddirMany(t *testing.T) {
	e := newEnv(t, 1<<20)
	want := map[string]bool{}
	for i := range 250 {
		n := fmt.Sprintf("file-%03d.bin", i)
		writeHost(t, e.dsk, n, []byte(n))
		want[n] = true
	}
	c := startConn(t, e, supervisor(), Options{})
	h := c.mustOpendir("/dsk")
	pages := 0
	for {
		r := c.do(fxpReaddir, h)
		if r.typ == fxpStatus {
			expectStatus(t, "READDIR end", r, fxEOF, "No more files")
			break
		}
		if r.typ != fxpName || len(r.names) == 0 {
			t.Fatalf("READDIR: got %s", r)
		}
		pages++
		for _, n := range r.names {
			if !want[n.name] {
				t.Errorf("unexpected or repeated entry %q", n.name)
			}
			delete(want, n.name)
			if n.attrs.size != uint64(len(n.name)) {
				t.Errorf("%s: got size %d, want %d", n.name, n.attrs.size, len(n.name))
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("%d entries missing", len(want))
	}
	if pages < 2 {
		t.Errorf("got %d pages, want several", pages)
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
}

// TestPipelinedWritesThenClose sends the WRITEs and the CLOSE in one
// batch: the CLOSE must wait for the WRITEs (pkg/sftp's packet manager
// does) and commit all of them.
func TestPipelinedWritesThenClose(t *testing.T) {
	for _, p := range []string{"/mem/pc.bin", "/dsk/pc.bin"} {
		t.Run(p, func(t *testing.T) {
			e := newEnv(t, 4<<20)
			c := startConn(t, e, supervisor(), Options{})
			const chunk, n = 32 << 10, 64
			data := pattern(chunk*n, 19)
			h := c.mustOpen(p, fxfWrite|openCreat|openTrunc)
			var buf []byte
			for k := n - 1; k >= 0; k-- {
				buf = append(buf, pkt(fxpWrite, uint32(100+k), h, uint64(k*chunk), data[k*chunk:(k+1)*chunk])...)
			}
			buf = append(buf, pkt(fxpClose, uint32(99), h)...)
			buf = append(buf, pkt(fxpWrite, uint32(98), h, uint64(0), []byte("late"))...)
			c.send(buf)
			for range n + 2 {
				r := c.recv()
				switch {
				case r.id == 99:
					expectStatus(t, "CLOSE", r, fxOK, "File/Dir closed OK")
				case r.id == 98:
					expectStatus(t, "WRITE after CLOSE", r, fxFailure, "Invalid handler")
				case r.id >= 100 && r.id < 100+n:
					expectStatus(t, "WRITE", r, fxOK, "Write file OK")
				default:
					t.Fatalf("unexpected reply %s", r)
				}
			}
			if got := c.get(p); !bytes.Equal(got, data) {
				t.Errorf("content: %s", firstDiff(got, data))
			}
		})
	}
}
