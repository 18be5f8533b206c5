package sftphandler

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/vfs"
)

// Client sequences from DESIGN §5 ("Clients, as their sources show them").

// TestWinSCP replays WinSCP's upload of a file of 100 KiB or more: to
// NAME.filepart, REMOVE of the existing target, RENAME, then a times-only
// SETSTAT.
func TestWinSCP(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "os_file.bin", []byte("previous image"))
	c := startConn(t, e, supervisor(), Options{WinSCPCompat: true})
	data := pattern(300<<10, 11)

	h := c.mustOpen("/dsk/os_file.bin.filepart", fxfWrite|openCreat|openTrunc)
	for off := 0; off < len(data); off += 32 << 10 {
		expectStatus(t, "WRITE", c.write(h, uint64(off), data[off:min(off+32<<10, len(data))]), fxOK, "Write file OK")
	}
	// WinSCP with "preserve timestamp" may also set times on the handle
	// before closing; they are applied, for every client (DESIGN §5).
	expectStatus(t, "FSETSTAT times", c.do(fxpFsetstat, h, attrsTimes()), fxOK, "")
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	expectStatus(t, "REMOVE target", c.do(fxpRemove, "/dsk/os_file.bin"), fxOK, "File removed OK")
	expectStatus(t, "RENAME", c.do(fxpRename, "/dsk/os_file.bin.filepart", "/dsk/os_file.bin"), fxOK, "File renamed OK")
	expectStatus(t, "SETSTAT times", c.do(fxpSetstat, "/dsk/os_file.bin", attrsTimes()), fxOK, "")
	// The mode the file reports is accepted with the times; another is not.
	expectStatus(t, "SETSTAT times+permissions", c.do(fxpSetstat, "/dsk/os_file.bin", uint32(attrPermissions|attrACModTime),
		uint32(0o100644), uint32(1700000000), uint32(1700000002)), fxOK, "")
	expectStatus(t, "SETSTAT times+other permissions", c.do(fxpSetstat, "/dsk/os_file.bin", uint32(attrPermissions|attrACModTime),
		uint32(0o600), uint32(1700000000), uint32(1800000000)), fxOpUnsupported, msgOpUnsupported)

	if b, err := os.ReadFile(filepath.Join(e.dsk, "os_file.bin")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("os_file.bin: %v, %s", err, firstDiff(b, data))
	}
	if fi, err := os.Stat(filepath.Join(e.dsk, "os_file.bin")); err != nil || fi.ModTime().Unix() != 1700000002 {
		t.Errorf("os_file.bin mtime: got %v, %v; want %d (the refused SETSTAT changed nothing)", fi.ModTime().Unix(), err, 1700000002)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "os_file.bin.filepart")); !os.IsNotExist(err) {
		t.Errorf(".filepart after rename: %v", err)
	}
	// WinSCP's download sends FSTAT.
	h = c.mustOpen("/dsk/os_file.bin", fxfRead)
	if r := c.do(fxpFstat, h); r.typ != fxpAttrs || r.attrs.size != uint64(len(data)) {
		t.Errorf("FSTAT: got %s, want ATTRS with size %d", r, len(data))
	}
	expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
}

// TestFsetstatSize replays OpenSSH scp's upload: OPEN WRITE|CREAT without
// TRUNC, WRITEs, FSETSTAT{size}, CLOSE.
func TestFsetstatSize(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		old     []byte // existing content; nil for none
		written []byte
		size    uint64
	}{
		{name: "shrink dsk", path: "/dsk/s.bin", written: pattern(100, 12), size: 40},
		{name: "exact dsk", path: "/dsk/s.bin", written: pattern(100, 12), size: 100},
		{name: "replace longer dsk file", path: "/dsk/s.bin", old: pattern(1000, 13), written: []byte("short"), size: 5},
		{name: "empty upload over file", path: "/dsk/s.bin", old: pattern(1000, 13), size: 0},
		{name: "shrink mem", path: "/mem/s.bin", written: pattern(300<<10, 14), size: 1000},
		{name: "replace longer mem file", path: "/mem/s.bin", old: pattern(5000, 15), written: []byte("short"), size: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1<<20)
			c := startConn(t, e, supervisor(), Options{})
			if tt.old != nil {
				c.put(tt.path, tt.old)
			}
			h := c.mustOpen(tt.path, fxfWrite|openCreat)
			for off := 0; off < len(tt.written); off += 32 << 10 {
				expectStatus(t, "WRITE", c.write(h, uint64(off), tt.written[off:min(off+32<<10, len(tt.written))]), fxOK, "Write file OK")
			}
			expectStatus(t, "FSETSTAT size", c.do(fxpFsetstat, h, attrsSize(tt.size)), fxOK, "")
			expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
			want := make([]byte, tt.size)
			copy(want, tt.written)
			if got := c.get(tt.path); !bytes.Equal(got, want) {
				t.Errorf("content: %s", firstDiff(got, want))
			}
		})
	}
}

// TestDisconnectMidUpload: a client that goes away with a write handle
// open leaves the previous file (or none) and no temporary file.
func TestDisconnectMidUpload(t *testing.T) {
	tests := []struct {
		name   string
		old    []byte
		cancel bool // end by cancelling Serve's context instead
	}{
		{name: "new file"},
		{name: "existing file", old: []byte("previous content")},
		{name: "server shutdown", old: []byte("previous content"), cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1<<20)
			if tt.old != nil {
				writeHost(t, e.dsk, "x", tt.old)
			}
			staged(t, e.mem, "keep", []byte("staged before"))
			before := e.mem.Stats()
			c := startConn(t, e, supervisor(), Options{})
			hd := c.mustOpen("/dsk/x", fxfWrite|openCreat|openTrunc)
			hm := c.mustOpen("/mem/x", fxfWrite|openCreat|openTrunc)
			hb := c.mustOpen("/bio/x", fxfWrite|openCreat|openTrunc)
			for _, h := range []string{hd, hm, hb} {
				expectStatus(t, "WRITE", c.write(h, 0, pattern(200<<10, 16)), fxOK, "Write file OK")
			}
			// Half a WRITE frame, then gone.
			f := pkt(fxpWrite, uint32(77), hd, uint64(200<<10), pattern(1000, 17))
			c.send(f[:len(f)/2])
			c.abrupt = true
			if tt.cancel {
				c.cancel()
			} else {
				c.w.Close()
			}
			if err := c.wait(); err != nil && strings.Contains(err.Error(), "did not return") {
				t.Fatal(err)
			}

			b, err := os.ReadFile(filepath.Join(e.dsk, "x"))
			switch {
			case tt.old == nil && !os.IsNotExist(err):
				t.Errorf("/dsk/x after disconnect: got %d bytes, %v; want no file", len(b), err)
			case tt.old != nil && !bytes.Equal(b, tt.old):
				t.Errorf("/dsk/x after disconnect: got %q, %v; want %q", b, err, tt.old)
			}
			if _, err := os.Stat(filepath.Join(e.bio, "x")); !os.IsNotExist(err) {
				t.Errorf("/bio/x after disconnect: %v", err)
			}
			for _, dir := range []string{e.dsk, e.bio} {
				if tmp := tempFiles(t, dir); len(tmp) != 0 {
					t.Errorf("temporary files left in %s: %q", dir, tmp)
				}
			}
			// Into /mem the upload stays, incomplete, for its owner to
			// resume; it cannot be read or committed.
			if mi, err := e.mem.Stat("x"); err != nil || !mi.Incomplete || mi.Size != 200<<10 {
				t.Errorf("/mem/x after disconnect: got %+v, %v; want incomplete, %d bytes", mi, err, 200<<10)
			}
			if _, err := e.mem.Open("x"); !errors.Is(err, mem.ErrIncomplete) {
				t.Errorf("open /mem/x after disconnect: got %v, want ErrIncomplete", err)
			}
			if err := e.mem.Remove("x"); err != nil {
				t.Fatal(err)
			}
			if st := e.mem.Stats(); st != before {
				t.Errorf("mem stats after removing the incomplete file: got %+v, want %+v", st, before)
			}
			// The exclusive file system and the names are free again.
			sess := supervisor()
			for _, p := range []string{"/dsk/x", "/mem/x", "/bio/x"} {
				w, err := e.fs.OpenWrite(sess, p, vfs.WriteTrunc)
				if err != nil {
					t.Errorf("OpenWrite %s after disconnect: %v", p, err)
					continue
				}
				w.Abort()
			}
		})
	}
}

// TestDuplicateOpenIDs pipelines a read OPEN and a write OPEN with the same
// request id. Whatever the server answers, a handle it hands out must keep
// its own mode: READ on the write handle must never reach the library
// (which would turn it into a zero-filled WriteAt).
func TestDuplicateOpenIDs(t *testing.T) {
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "r.bin", []byte("readable"))
	for i := range 50 {
		c := startConn(t, e, supervisor(), Options{})
		id := uint32(7)
		c.send(append(pkt(fxpOpen, id, "/dsk/r.bin", uint32(fxfRead), uint32(0)),
			pkt(fxpOpen, id, "/mem/w.bin", uint32(fxfWrite|openCreat|openTrunc), uint32(0))...))
		var hs []string
		for range 2 {
			if r := c.recv(); r.typ == fxpHandle {
				hs = append(hs, r.handle)
			}
		}
		// The library numbers handles in the order it opens them; the read
		// OPEN came first, but its worker may finish second. Probe both.
		for _, h := range hs {
			r := c.read(h, 0, 4)
			w := c.write(h, 0, []byte("WXYZ"))
			isRead := r.typ == fxpData
			isWrite := w.typ == fxpStatus && w.code == fxOK
			switch {
			case isRead && isWrite:
				t.Fatalf("round %d: handle %q accepts both READ and WRITE", i, h)
			case !isRead && !isWrite:
				t.Errorf("round %d: handle %q is unusable: READ %s, WRITE %s", i, h, r, w)
			}
			if isRead && string(r.data) != "read" {
				t.Errorf("round %d: READ on handle %q: got %q, want %q", i, h, r.data, "read")
			}
		}
		for _, h := range hs {
			c.close(h)
		}
		if t.Failed() {
			return
		}
		c.w.Close()
		if err := c.wait(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(e.dsk, "r.bin")); string(b) != "readable" {
			t.Fatalf("round %d: r.bin changed to %q", i, b)
		}
	}
}

// TestPkgSFTPClient runs pkg/sftp's client, which pipelines and
// parallelises reads and writes, through the guard.
func TestPkgSFTPClient(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []sftp.ClientOption
	}{
		{name: "default packets"},
		{name: "255 KiB packets", opts: []sftp.ClientOption{sftp.MaxPacketUnchecked(maxReadWrite)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 16<<20)
			s := servePipes(t, e.fs, supervisor(), Options{})
			cl, err := sftp.NewClientPipe(s.r, s.w, tt.opts...)
			if err != nil {
				t.Fatalf("NewClientPipe: %v", err)
			}
			defer cl.Close()
			data := pattern(5<<20+123, 18)

			put := func(p string) {
				t.Helper()
				f, err := cl.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
				if err != nil {
					t.Fatalf("OpenFile %s: %v", p, err)
				}
				if n, err := f.ReadFrom(bytes.NewReader(data)); err != nil || n != int64(len(data)) {
					t.Fatalf("ReadFrom %s: %d, %v", p, n, err)
				}
				if err := f.Close(); err != nil {
					t.Fatalf("Close %s: %v", p, err)
				}
			}
			get := func(p string) []byte {
				t.Helper()
				f, err := cl.Open(p)
				if err != nil {
					t.Fatalf("Open %s: %v", p, err)
				}
				defer f.Close()
				var buf bytes.Buffer
				if _, err := f.WriteTo(&buf); err != nil {
					t.Fatalf("WriteTo %s: %v", p, err)
				}
				return buf.Bytes()
			}

			put("/mem/fw.bin")
			if got := get("/mem/fw.bin"); !bytes.Equal(got, data) {
				t.Errorf("/mem/fw.bin: %s", firstDiff(got, data))
			}
			if err := cl.Rename("/mem/fw.bin", "/dsk/fw.bin"); err != nil {
				t.Fatalf("Rename: %v", err)
			}
			if got := get("/dsk/fw.bin"); !bytes.Equal(got, data) {
				t.Errorf("/dsk/fw.bin: %s", firstDiff(got, data))
			}
			if b, _ := os.ReadFile(filepath.Join(e.dsk, "fw.bin")); !bytes.Equal(b, data) {
				t.Errorf("dsk/fw.bin on disk: %s", firstDiff(b, data))
			}
			put("/dsk/direct.bin")
			if got := get("/dsk/direct.bin"); !bytes.Equal(got, data) {
				t.Errorf("/dsk/direct.bin: %s", firstDiff(got, data))
			}
			// io.Copy-style sequential read through Read.
			f, err := cl.Open("/dsk/direct.bin")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(f)
			f.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("ReadAll: %v, %s", err, firstDiff(got, data))
			}

			fi, err := cl.Stat("/dsk")
			if err != nil || !fi.IsDir() {
				t.Errorf("Stat /dsk: %v, dir %v", err, fi != nil && fi.IsDir())
			}
			if wd, err := cl.Getwd(); err != nil || wd != "/" {
				t.Errorf("Getwd: got %q, %v; want /", wd, err)
			}
			ents, err := cl.ReadDir("/dsk")
			if err != nil || len(ents) != 2 {
				t.Errorf("ReadDir /dsk: %d entries, %v; want 2", len(ents), err)
			}
			if st := e.mem.Stats(); st.Req != 0 {
				t.Errorf("mem Req after the move: %d", st.Req)
			}

			// Refusals reach the client with the manual's code and text.
			refused := []struct {
				name string
				err  error
				code error
				msg  string
			}{
				{name: "OpenFile O_RDWR of an existing file", err: errOf(cl.OpenFile("/dsk/fw.bin", os.O_RDWR)), code: sftp.ErrSSHFxOpUnsupported, msg: "READ/WRITE simultaneous not supported by this system"},
				{name: "Mkdir", err: cl.Mkdir("/dsk/d"), code: sftp.ErrSSHFxOpUnsupported, msg: msgOpUnsupported},
				{name: "Chmod", err: cl.Chmod("/dsk/fw.bin", 0o600), code: sftp.ErrSSHFxOpUnsupported, msg: msgOpUnsupported},
				{name: "Symlink", err: cl.Symlink("/dsk/fw.bin", "/dsk/l"), code: sftp.ErrSSHFxOpUnsupported, msg: msgOpUnsupported},
				{name: "Open missing", err: errOf(cl.Open("/dsk/nope")), code: sftp.ErrSSHFxNoSuchFile, msg: "File not found"},
				{name: "Remove missing", err: cl.Remove("/dsk/nope"), code: sftp.ErrSSHFxNoSuchFile, msg: "File not found"},
			}
			for _, r := range refused {
				if r.code == sftp.ErrSSHFxNoSuchFile {
					// The client turns NO_SUCH_FILE into os.ErrNotExist
					// and drops the text.
					if !errors.Is(r.err, os.ErrNotExist) {
						t.Errorf("%s: got %v, want os.ErrNotExist", r.name, r.err)
					}
					continue
				}
				var se *sftp.StatusError
				if !errors.As(r.err, &se) {
					t.Errorf("%s: got %v, want a status error", r.name, r.err)
					continue
				}
				if se.FxCode() != r.code || !strings.Contains(se.Error(), `"`+r.msg+`"`) {
					t.Errorf("%s: got %v, want code %v and %q", r.name, se, r.code, r.msg)
				}
			}
			if err := cl.Remove("/dsk/fw.bin"); err != nil {
				t.Errorf("Remove: %v", err)
			}
		})
	}
}

func errOf(_ *sftp.File, err error) error { return err }

// *vfs.FS is what cmd/ passes as the Store.
var _ Store = (*vfs.FS)(nil)
