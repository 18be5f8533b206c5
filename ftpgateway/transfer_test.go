package ftpgateway

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"github.com/sluice/sluice/image"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Telnet bytes clients send before ABOR (RFC 854, RFC 959 §4.1.3).
const (
	tIAC = 0xff
	tIP  = 0xf4
	tDM  = 0xf2
)

func crcOf(b []byte) string { return fmt.Sprintf("%08X", crc32.ChecksumIEEE(b)) }

func md5Of(b []byte) string {
	s := md5.Sum(b)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// TestChecksums checks XCRC and XMD5 (manual §1.3) against hash/crc32 and
// crypto/md5 over the same byte ranges.
func TestChecksums(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	data := testPattern(200_000, 5)
	writeHost(t, e.dsk, "sum.dat", data)
	writeHost(t, e.dsk, "with space.dat", data[:1000])
	writeHost(t, e.dsk, "empty.dat", nil)
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	n := len(data)
	tests := []struct {
		name   string
		arg    string
		lo, hi int
		file   []byte
	}{
		{"whole file", "sum.dat", 0, n, data},
		{"quoted name", `"sum.dat"`, 0, n, data},
		{"offset", "sum.dat 1000", 1000, n, data},
		{"offset and size", "sum.dat 1000 5000", 1000, 6000, data},
		{"quoted, offset and size", `"sum.dat" 7 13`, 7, 20, data},
		{"offset at the end", "sum.dat 200000", n, n, data},
		{"size zero", "sum.dat 5 0", 5, 5, data},
		{"size to the end", "sum.dat 100 199900", 100, n, data},
		{"absolute path", "/dsk/sum.dat 3 4", 3, 7, data},
		{"quoted name with a space", `"with space.dat" 10 20`, 10, 30, data},
		{"empty file", "empty.dat", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.want("XCRC "+tt.arg, "250 "+crcOf(tt.file[tt.lo:tt.hi]))
			c.want("XMD5 "+tt.arg, "250 "+md5Of(tt.file[tt.lo:tt.hi]))
		})
	}
	c.t = t
	errs := []struct {
		arg, want string
	}{
		{"sum.dat 200001", "550 CRC offset past eof."},
		{"sum.dat 100 199901", "550 CRC size past eof."},
		{"sum.dat 0 200001", "550 CRC size past eof."},
		{"sum.dat -1", "501 Invalid filename."},
		{"sum.dat 1 -1", "501 Invalid filename."},
		{"sum.dat 1 2 3", "501 Invalid filename."},
		{`"sum.dat`, "501 Invalid filename."},
		{"/nofs/sum.dat", "501 Invalid pathname."},
	}
	for _, tt := range errs {
		c.want("XCRC "+tt.arg, tt.want)
		c.want("XMD5 "+tt.arg, tt.want)
	}
	// A missing file: the manual's XCRC/XMD5 replies have no "File not
	// found."; opening fails.
	c.want("XCRC missing.dat", "550 Unable to open file.")
	c.want("XMD5 missing.dat", "550 Unable to open file.")
}

// TestChecksumLastFile: without a name, XCRC and XMD5 work on the last
// file transferred (checksum's documented behaviour; the manual's syntax
// makes the name optional).
func TestChecksumLastFile(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	data := testPattern(50_000, 9)
	writeHost(t, e.dsk, "last.dat", data)
	c := e.login(t, "root")
	if got := c.retr("/dsk/last.dat"); !bytes.Equal(got, data) {
		t.Fatal("RETR: wrong data")
	}
	c.want("XCRC", "250 "+crcOf(data))
	c.want("XCRC 1000 5000", "250 "+crcOf(data[1000:6000]))
	c.want("XMD5 10", "250 "+md5Of(data[10:]))
}

// TestAbortRetr: ABOR during a RETR answers 426 then 226, and only 226
// when idle (manual §1.4.2). Clients send ABOR plainly, after Telnet IP and
// Synch in band, or as urgent (out-of-band) data.
func TestAbortRetr(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	iacIP := []byte{tIAC, tIP}
	tests := []struct {
		name string
		send func(c *tCtl)
	}{
		{"plain", func(c *tCtl) { c.send("ABOR") }},
		{"telnet IP and synch in band", func(c *tCtl) {
			c.sendRaw(append(append(iacIP, tIAC, tDM), "ABOR\r\n"...))
		}},
		// tnftp (BSD ftp) abort_remote: send(IAC IP IAC, MSG_OOB), then
		// DM "ABOR\r\n". The last IAC is the urgent byte.
		{"tnftp urgent", func(c *tCtl) {
			sendOOB(c, []byte{tIAC, tIP, tIAC})
			c.sendRaw(append([]byte{tDM}, "ABOR\r\n"...))
		}},
		// Python's ftplib FTP.abort: sendall(b"ABOR\r\n", MSG_OOB). The
		// final LF is the urgent byte.
		{"python ftplib urgent", func(c *tCtl) { sendOOB(c, []byte("ABOR\r\n")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.login(t, "root")
			dc := c.epsv()
			c.want("RETR /tst/100000000", "150 Data connection open, file transfer in process...")
			dc.SetReadDeadline(time.Now().Add(testTimeout))
			if _, err := io.ReadFull(dc, make([]byte, 1<<20)); err != nil {
				t.Fatalf("reading the first MiB: %v", err)
			}
			// STAT and other commands during the transfer.
			// STAT during the transfer reports its progress: at least the
			// MiB already read.
			r := c.cmd("STAT")
			m := regexp.MustCompile(`(?m)^211-Transfer : RETR /tst/100000000, (\d+) bytes processed$`).FindStringSubmatch(r.String())
			if r.lines[0] != "211-Server Status: BUSY" || m == nil {
				t.Errorf("STAT during RETR: got %q", r)
			} else if n, _ := strconv.Atoi(m[1]); n < 1<<20 {
				t.Errorf("STAT during RETR: %d bytes processed, want at least the %d already received", n, 1<<20)
			}
			c.want("SIZE /tst/5", "450 Error, system busy.")
			c.want("NOOP", "200 OK.")
			tt.send(c)
			c.wantRead("ABOR", "426 Aborting RETR command...")
			c.wantRead("ABOR", "226 Command ABOR successfully processed.")
			dc.SetReadDeadline(time.Now().Add(testTimeout))
			if _, err := io.Copy(io.Discard, dc); err != nil && !isReset(err) {
				t.Errorf("data connection after ABOR: %v", err)
			}
			c.want("NOOP", "200 OK.")
			c.want("ABOR", "226 Command ABOR successfully processed.")
			c.want("STAT", "211-Server Status: READY", "211-Direct mode : OFF", "211-Immediate : ON", "211-Keepalive : OFF",
				"211-Reply 119 : OFF", "211-Reload code : OFF", "211-Savebuffer : OFF", "211 Checks : NONE")
		})
	}
}

// sendOOB sends b with MSG_OOB: its last byte is TCP urgent data.
func sendOOB(c *tCtl, b []byte) {
	c.t.Helper()
	rc, err := c.conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		c.t.Fatal(err)
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, unix.MSG_OOB, nil)
		return serr != unix.EAGAIN
	})
	if err != nil || serr != nil {
		c.t.Fatalf("send MSG_OOB: %v, %v", err, serr)
	}
}

// TestAbortStor: ABOR during a STOR discards the upload.
func TestAbortStor(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	writeHost(t, e.dsk, "keep.dat", []byte("old"))
	c := e.login(t, "root")
	dc := c.epsv()
	c.want("STOR /dsk/keep.dat", "150 Data connection open, file transfer in process...")
	if _, err := dc.Write(testPattern(100_000, 1)); err != nil {
		t.Fatal(err)
	}
	c.send("ABOR")
	c.wantRead("ABOR", "426 Aborting STOR command...")
	c.wantRead("ABOR", "226 Command ABOR successfully processed.")
	if b := readHost(t, e.dsk, "keep.dat"); string(b) != "old" {
		t.Errorf("file after an aborted STOR: %q, want the old content", truncBytes(b))
	}
	if tf := tempFiles(t, e.dsk); len(tf) != 0 {
		t.Errorf("temporary files left: %q", tf)
	}
}

// TestTypeASCII: TYPE A sends CRLF on the wire and stores LF (RFC 959
// §3.1.1.1); a lone CR is kept; TYPE I moves bytes as they are.
func TestTypeASCII(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	c := e.login(t, "root")
	c.want("CWD dsk", "250 CWD command successful.")
	c.want("TYPE A", "200 TYPE is set to ASCII NON PRINT.")

	// Upload: CRLF becomes LF, also when CR and LF arrive in separate
	// segments.
	dc := c.epsv()
	c.want("STOR text.txt", "150 Data connection open, file transfer in process...")
	for _, part := range []string{"line1\r\nline2\r", "\nlone\rcr\r\n", "\r", "\r\n", "end\r"} {
		if _, err := dc.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dc.Close()
	r := c.read()
	if !strings.HasPrefix(r.String(), "226 STOR completed, ") {
		t.Fatalf("STOR: got %q", r)
	}
	want := "line1\nline2\nlone\rcr\n\r\nend\r"
	if got := string(readHost(t, e.dsk, "text.txt")); got != want {
		t.Errorf("stored: got %q, want %q", got, want)
	}

	// Download: LF becomes CRLF; an existing CRLF is not doubled.
	writeHost(t, e.dsk, "unix.txt", []byte("a\nb\r\nc\n\nd"))
	if got := string(c.retr("unix.txt")); got != "a\r\nb\r\nc\r\n\r\nd" {
		t.Errorf("TYPE A RETR: got %q", got)
	}
	// A large file crosses buffer boundaries.
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 20_000)
	writeHost(t, e.dsk, "big.txt", big)
	if got := c.retr("big.txt"); !bytes.Equal(got, bytes.ReplaceAll(big, []byte("\n"), []byte("\r\n"))) {
		t.Errorf("TYPE A RETR of %d bytes: %s", len(big), firstDiff(got, bytes.ReplaceAll(big, []byte("\n"), []byte("\r\n"))))
	}

	c.want("TYPE I", "200 TYPE is set to IMAGE.")
	if got := string(c.retr("unix.txt")); got != "a\nb\r\nc\n\nd" {
		t.Errorf("TYPE I RETR: got %q", got)
	}
	c.stor("bin.txt", []byte("x\r\ny"))
	if got := string(readHost(t, e.dsk, "bin.txt")); got != "x\r\ny" {
		t.Errorf("TYPE I STOR: got %q", got)
	}
	c.want("TYPE L 8", "200 TYPE is set to LOCAL 8.")
	if got := string(c.retr("unix.txt")); got != "a\nb\r\nc\n\nd" {
		t.Errorf("TYPE L 8 RETR: got %q", got)
	}
}

// TestActiveMode: PORT and EPRT to the control peer; the server connects
// from the configured data port.
func TestActiveMode(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dataPort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	e := newTestEnv(t, tOpts{ftp: fmt.Sprintf("direct = true\ndata_port = %d", dataPort)})
	data := testPattern(250_000, 7)
	writeHost(t, e.dsk, "act.dat", data)
	c := e.login(t, "root")

	listen := func() (net.Listener, int) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l, l.Addr().(*net.TCPAddr).Port
	}
	accept := func(l net.Listener) net.Conn {
		t.Helper()
		l.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
		conn, err := l.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	// PORT + RETR.
	l, port := listen()
	c.want(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff),
		fmt.Sprintf("200 PORT is set to IP ADDR = 127.0.0.1 PORT = %d", port))
	c.want("RETR /dsk/act.dat", "150 Data connection open, file transfer in process...")
	dc := accept(l)
	if ra := dc.RemoteAddr().(*net.TCPAddr); ra.Port != dataPort || !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("active connection from %v, want 127.0.0.1:%d (data_port)", ra, dataPort)
	}
	if got := readData(t, dc); !bytes.Equal(got, data) {
		t.Errorf("active RETR: %s", firstDiff(got, data))
	}
	c.wantRead("RETR end", fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(data)))

	// EPRT + STOR.
	l2, port2 := listen()
	c.want(fmt.Sprintf("EPRT |1|127.0.0.1|%d|", port2), "200 Extended PORT is set to |1|127.0.0.1|")
	c.want("STOR /dsk/up.dat", "150 Data connection open, file transfer in process...")
	dc = accept(l2)
	if _, err := dc.Write(data[:12345]); err != nil {
		t.Fatal(err)
	}
	dc.Close()
	c.wantRead("STOR end", "226 STOR completed, 12345 bytes processed, data connection is closed.")
	if got := readHost(t, e.dsk, "up.dat"); !bytes.Equal(got, data[:12345]) {
		t.Errorf("active STOR: %s", firstDiff(got, data[:12345]))
	}

	// PORT + LIST, twice to the same listener (the data port is then
	// still in TIME_WAIT towards it: the server falls back to any port).
	for i := range 2 {
		c.want(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff),
			fmt.Sprintf("200 PORT is set to IP ADDR = 127.0.0.1 PORT = %d", port))
		c.want("NLST /dsk", "150 Data connection open, list transfer in process...")
		if got := string(readData(t, accept(l))); got != "act.dat\r\nup.dat\r\n" {
			t.Errorf("active NLST %d: got %q", i, got)
		}
		c.wantRead("NLST end", "226 List transfer completed, data connection is closed.")
	}

	// A transfer without PORT or PASV.
	c.want("RETR /dsk/act.dat", "150 Data connection open, file transfer in process...")
	c.wantRead("RETR without a data connection", "425 Unable to open data transport.")
	// PORT to a closed port.
	closed, cport := listen()
	closed.Close()
	c.want(fmt.Sprintf("EPRT |1|127.0.0.1|%d|", cport), "200 Extended PORT is set to |1|127.0.0.1|")
	c.want("RETR /dsk/act.dat", "150 Data connection open, file transfer in process...")
	c.wantRead("RETR to a closed port", "425 Unable to open data transport.")
}

// TestSecureModeBuffer: in secure mode (DIRECT OFF) STOR goes to the
// staging buffer; SITE STATBUFFER reports it as mem.Stats does; SITE
// SAVEBUFFER commits it; SITE CLEARBUFFER frees it (manual §3.5).
func TestSecureModeBuffer(t *testing.T) {
	// CHECK DELETE on: SAVEBUFFER moves the staged file.
	e := newTestEnv(t, tOpts{memMax: 8 << 20, checks: image.CheckDelete})
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	statbuf := func(name string) string {
		st := e.mem.Stats()
		return fmt.Sprintf(`211 Buffer status: MAX-REQ-BUSY %d-%d-%d filename: "%s".`, st.Max, st.Req, st.Busy, name)
	}
	c.want("SITE STATBUFFER", statbuf(""))
	c.want("SITE SAVEBUFFER", "503 No Temporal buffer present.")
	c.want("SITE CLEARBUFFER", "503 No Temporal buffer present.")

	data := testPattern(150_000, 6)
	c.stor("fw.dat", data)
	if _, err := os.Stat(filepath.Join(e.dsk, "fw.dat")); !os.IsNotExist(err) {
		t.Fatalf("secure STOR reached /dsk: %v", err)
	}
	st := e.mem.Stats()
	if st.Max != 8<<20 || st.Busy != int64(len(data)) || st.Req < st.Busy {
		t.Errorf("mem.Stats after STOR: %+v", st)
	}
	c.want("SITE STATBUFFER", statbuf("fw.dat"))
	c.want("SITE STOREDEVICE", "211 DSK: is permanent storage device, direct mode is OFF.")
	c.want("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
	if got := readHost(t, e.dsk, "fw.dat"); !bytes.Equal(got, data) {
		t.Errorf("saved file: %s", firstDiff(got, data))
	}
	if st := e.mem.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("mem.Stats after SAVEBUFFER: %+v, want Req and Busy 0", st)
	}
	c.want("SITE STATBUFFER", statbuf(""))
	c.want("SITE SAVEBUFFER", "503 No Temporal buffer present.")

	// SAVEBUFFER to another file system, and a refused target.
	c.stor("b.dat", data[:777])
	c.want("SITE SAVEBUFFER /nofs", "501 File system not recognized.")
	c.want("SITE SAVEBUFFER tst", "503 Target file system not supports SAVEBUFFER.")
	c.want("SITE SAVEBUFFER bio", "200 SAVEBUFFER completed O.K.")
	if got := readHost(t, e.bio, "b.dat"); !bytes.Equal(got, data[:777]) {
		t.Errorf("saved to /bio: %s", firstDiff(got, data[:777]))
	}

	// CLEARBUFFER frees the memory.
	c.stor("tmp.dat", data)
	if st := e.mem.Stats(); st.Req == 0 {
		t.Fatalf("mem.Stats after STOR: %+v", st)
	}
	c.want("SITE CLEARBUFFER", "211 Temporal buffer cleared and deallocated.")
	if st := e.mem.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("mem.Stats after CLEARBUFFER: %+v, want Req and Busy 0", st)
	}
	c.want("SITE STATBUFFER", statbuf(""))
	c.want("SITE CLEARBUFFER", "503 No Temporal buffer present.")

	// A staged file larger than the buffer: "550 Error writing file." in
	// DIRECT OFF mode (manual §5.1.1).
	r := c.store("STOR", "huge.dat", testPattern(9<<20, 1))
	if r.String() != "550 Error writing file." {
		t.Errorf("STOR past the buffer: got %q", r)
	}
	if st := e.mem.Stats(); st.Req != 0 {
		t.Errorf("mem.Stats after a refused STOR: %+v, want Req 0", st)
	}

	// From the root (NUL) there is no SAVEBUFFER target.
	c.stor("/dsk/root.dat", data[:10])
	c.want("CWD /", "250 CWD root dir successful.")
	c.want("SITE SAVEBUFFER", "503 Target file system not supports SAVEBUFFER.")
}

// TestSecureStorAtRoot: in secure mode STOR goes to the staging buffer
// whatever the current directory (issue 4; manual §3.5), also at the
// root (NUL), where a session starts without ftp.default_fs: "ftp> put
// os_file.bin" right after login.
func TestSecureStorAtRoot(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	c.want("PWD", `257 "/" is the current directory.`)
	for _, name := range []string{"os_file.bin", "CONFIG.CFG", "plain"} {
		c.stor(name, []byte("staged "+name))
		if i, err := e.mem.Stat(name); err != nil || i.Size != int64(len("staged "+name)) {
			t.Errorf("STOR %s at the root: staged file %+v, %v", name, i, err)
		}
		c.want("SITE CLEARBUFFER", "211 Temporal buffer cleared and deallocated.")
	}
}

// TestDirectModeAtomic: in DIRECT ON mode STOR writes to the file
// system, atomically: while the data moves, and after the data connection
// dies, the old file (or no file) is what readers see.
func TestDirectModeAtomic(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	old := []byte("the old content")
	writeHost(t, e.dsk, "old.dat", old)
	c := e.login(t, "root")
	c.want("SITE DIRECT ON", "200 DIRECT is set to ON.")
	c.want("SITE STOREDEVICE", "503 Target file system not supports SAVEBUFFER.")
	c.want("CWD /dsk", "250 CWD command successful.")
	other := e.login(t, "root") // lists while c transfers
	fresh := testPattern(400_000, 8)
	for _, name := range []string{"old.dat", "new.dat"} {
		dc := c.epsv()
		c.want("STOR "+name, "150 Data connection open, file transfer in process...")
		if _, err := dc.Write(fresh[:200_000]); err != nil {
			t.Fatal(err)
		}
		// Wait until the server has written part of it.
		deadline := time.Now().Add(testTimeout)
		for {
			if partialSize(t, e.dsk) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no temporary file appeared during STOR")
			}
			time.Sleep(5 * time.Millisecond)
		}
		checkUnchanged := func(when string) {
			t.Helper()
			b, err := os.ReadFile(filepath.Join(e.dsk, name))
			switch {
			case name == "old.dat" && !bytes.Equal(b, old):
				t.Errorf("%s %s: got %d bytes %q..., want the old content", when, name, len(b), truncBytes(b))
			case name == "new.dat" && !os.IsNotExist(err):
				t.Errorf("%s %s: visible (%d bytes, %v)", when, name, len(b), err)
			}
		}
		checkUnchanged("during STOR")
		if got := other.list("NLST", "/dsk"); strings.Join(got, ",") != "old.dat" {
			t.Errorf("NLST during STOR: got %q, want only old.dat", got)
		}
		// The data connection dies: a reset, not a clean end of file.
		dc.(*net.TCPConn).SetLinger(0)
		dc.Close()
		c.wantRead("STOR cut", "426 Unexpected data link close.")
		checkUnchanged("after a cut STOR")
		if tf := tempFiles(t, e.dsk); len(tf) != 0 {
			t.Errorf("temporary files left: %q", tf)
		}
	}
	c.stor("old.dat", fresh)
	if got := readHost(t, e.dsk, "old.dat"); !bytes.Equal(got, fresh) {
		t.Errorf("complete direct STOR: %s", firstDiff(got, fresh))
	}
	if st := e.mem.Stats(); st.Busy != 0 {
		t.Errorf("direct STOR used the staging buffer: %+v", st)
	}
}

// partialSize is the size of the vfs temporary file in dir, 0 if none.
func partialSize(t *testing.T, dir string) int64 {
	var n int64
	for _, name := range tempFiles(t, dir) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestTestMode: ACCT TEST0/TEST1 confine the session to /tst or /ts1,
// where numeric names read that many bytes and uploads are discarded
// (manual §1.4.1, §3.3).
func TestTestMode(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	for _, tt := range []struct{ acct, fs string }{{"TEST0", "tst"}, {"TEST1", "ts1"}} {
		t.Run(tt.acct, func(t *testing.T) {
			c := e.login(t, "root")
			c.want("ACCT "+tt.acct, "200 FTP server test account enabled.")
			c.want("PWD", fmt.Sprintf(`257 "/%s" is the current directory.`, tt.fs))
			if b := c.retr("123456"); len(b) != 123456 {
				t.Errorf("RETR 123456: %d bytes", len(b))
			}
			b1, b2 := c.retr("1000"), c.retr("/"+tt.fs+"/1000")
			if len(b1) != 1000 || !bytes.Equal(b1, b2) {
				t.Errorf("RETR 1000 twice: %d and %d bytes, equal %v", len(b1), len(b2), bytes.Equal(b1, b2))
			}
			c.want("SIZE 77", "213 77")
			// A known file name is not checked in TEST mode: no "checked
			// file transfer" (§3.3, §3.8).
			dc := c.epsv()
			c.want("STOR os_file.bin", "150 Data connection open, file transfer in process...")
			dc.Write([]byte("not an image"))
			dc.Close()
			c.wantRead("STOR os_file.bin end", "226 STOR completed, 12 bytes processed, data connection is closed.")
			c.stor("upload.bin", testPattern(5000, 1))
			if got := c.list("NLST", ""); strings.Join(got, ",") != "upload.bin" {
				t.Errorf("NLST after STOR: %q", got)
			}
			if st := e.mem.Stats(); st.Busy != 0 {
				t.Errorf("TEST mode STOR used the staging buffer: %+v", st)
			}
			c.want("CWD /dsk", "501 Pathname not allowed in test mode.")
			c.want("CDUP", "501 Pathname not allowed in test mode.")
			c.want("RETR /dsk/x", "501 Invalid pathname.") // RETR's text (§1.4.3); the SITE one is SMNT's
			c.want("SMNT dsk", "501 File system not allowed in test mode.")
			c.want("SITE DIRECT OFF", "500 DTP cannot process this SITE command.")
			c.want("ACCT OTHER", "202 Command superfluous at this site.")
			c.want("PWD", fmt.Sprintf(`257 "/%s" is the current directory.`, tt.fs))
		})
	}
}

// TestTransferWithoutDataConnection: a RETR or STOR whose data connection
// never opens (425) releases what the command opened: no reader holding an
// exclusive file system, no temporary file, no locked name, no staged
// file left "being written".
func TestTransferWithoutDataConnection(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	writeHost(t, e.bio, "f.dat", []byte("bio data"))
	noData := func(c *tCtl, cmd string) {
		c.t.Helper()
		c.want(cmd, "150 Data connection open, file transfer in process...")
		c.wantRead(cmd+" without PORT or PASV", "425 Unable to open data transport.")
	}
	t.Run("RETR from an exclusive file system", func(t *testing.T) {
		c := e.login(t, "root")
		noData(c, "RETR /bio/f.dat")
		// A reader left open would keep /bio busy.
		c2 := e.login(t, "root")
		dc := c2.epsv()
		if r := c2.cmd("RETR /bio/f.dat"); r.code != 150 && r.code != 125 {
			t.Errorf("RETR /bio/f.dat after a RETR without data connection: got %q, want 150", r)
		} else if got := readData(t, dc); string(got) != "bio data" {
			t.Errorf("RETR /bio/f.dat: got %q", got)
		}
	})
	t.Run("direct STOR", func(t *testing.T) {
		c := e.login(t, "root")
		noData(c, "STOR /dsk/leak.dat")
		if tf := tempFiles(t, e.dsk); len(tf) != 0 {
			t.Errorf("temporary files left after a STOR without data connection: %q", tf)
		}
		c2 := e.login(t, "root")
		if r := c2.store("STOR", "/dsk/leak.dat", []byte("ok")); r.code != 226 {
			t.Errorf("STOR /dsk/leak.dat after a 425: got %q, want 226", r)
		}
	})
	t.Run("secure STOR", func(t *testing.T) {
		c := e.login(t, "root")
		c.want("SITE DIRECT OFF", "200 DIRECT is set to OFF.")
		noData(c, "STOR /dsk/staged.dat")
		if i, err := e.mem.Stat("staged.dat"); err == nil && i.Writing {
			t.Errorf("staged file still being written after a STOR without data connection: %+v", i)
		}
		c.want("SITE CLEARBUFFER", "503 No Temporal buffer present.")
	})
}

// TestSecureStorPath: in secure mode the directory part of a STOR name
// must be a file system; anything else is refused before any data.
func TestSecureStorPath(t *testing.T) {
	e := newTestEnv(t, tOpts{memMax: 8 << 20})
	c := e.login(t, "root")
	for _, arg := range []string{"../../x.dat", "/nofs/x.dat", "/dsk/sub/x.dat", "/x.dat"} {
		c.want("STOR "+arg, "501 Invalid pathname.")
	}
	if st := e.mem.Stats(); st.Busy != 0 {
		t.Errorf("mem.Stats after refused STORs: %+v", st)
	}
	c.stor("/bio/ok.dat", []byte("staged"))
	if _, err := e.mem.Stat("ok.dat"); err != nil {
		t.Errorf("STOR /bio/ok.dat in secure mode: %v, want it staged as /mem/ok.dat", err)
	}
}

// TestAlreadyOpen: a passive data connection the client made before the
// transfer command gets "125 Data connection already open" (manual
// §1.4.3), one made after it "150 Data connection open". The NOOP round
// trip after the connect makes sure the server has it queued.
func TestAlreadyOpen(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	writeHost(t, e.dsk, "f.dat", []byte("hello"))
	c := e.login(t, "root")
	c.want("TYPE I", "200 TYPE is set to IMAGE.")

	pre := func(cmd, want string) net.Conn {
		t.Helper()
		dc := c.epsv()
		c.want("NOOP", "200 OK.")
		r := c.cmd(cmd)
		if r.String() != want {
			t.Fatalf("%s with the data connection open: got %q, want %q", cmd, r, want)
		}
		return dc
	}
	dc := pre("RETR /dsk/f.dat", "125 Data connection already open, file transfer in process...")
	if b := readData(t, dc); string(b) != "hello" {
		t.Errorf("RETR: got %q", b)
	}
	c.wantRead("RETR end", "226 RETR completed, 5 bytes processed, data connection is closed.")
	dc = pre("LIST /dsk", "125 Data connection already open, list transfer in process...")
	readData(t, dc)
	c.wantRead("LIST end", "226 List transfer completed, data connection is closed.")
	dc = pre("STOR /dsk/g.dat", "125 Data connection already open, file transfer in process...")
	dc.Write([]byte("12345678"))
	dc.Close()
	c.wantRead("STOR end", "226 STOR completed, 8 bytes processed, data connection is closed.")

	// Connected only after the command: 150.
	r := c.cmd("EPSV")
	m := regexp.MustCompile(`\(\|\|\|(\d+)\|\)`).FindStringSubmatch(r.String())
	if m == nil {
		t.Fatalf("EPSV: got %q", r)
	}
	c.want("RETR /dsk/g.dat", "150 Data connection open, file transfer in process...")
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	if b := readData(t, c.dialData(net.JoinHostPort(host, m[1]))); string(b) != "12345678" {
		t.Errorf("RETR after 150: got %q", b)
	}
	c.wantRead("RETR end", "226 RETR completed, 8 bytes processed, data connection is closed.")
}

// TestDirectLocalPath: in DIRECT ON, a STOR whose name carries the
// client's local path names a directory the device does not have: "550
// Unable to open file." (manual §5.1.4), and nothing is written.
func TestDirectLocalPath(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	for _, name := range []string{"../_85xx/os_file.bin", "sub/os_file.bin", "/dsk/sub/x.cfg", "/x.cfg"} {
		dc := c.epsv()
		c.want("STOR "+name, "550 Unable to open file.")
		dc.Close()
	}
	c.stor("../bio/ok.cfg", []byte("ok")) // another file system the user sees is fine
	if b, err := os.ReadFile(filepath.Join(e.bio, "ok.cfg")); err != nil || string(b) != "ok" {
		t.Errorf("DATA/bio/ok.cfg: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(e.dsk); len(ents) != 0 {
		t.Errorf("/dsk after the refused STORs: %v", ents)
	}
}

// TestSpliceUpload: a binary upload into a host file system past recvBuf
// goes on by splice (receiveAt, vfs.Writer.ReadFromAt) and still arrives
// byte for byte, whole or not at all: the file is exact, the size limit
// refuses it with the same reply as on the buffered path (a small upload),
// and a refused upload leaves the old file.
func TestSpliceUpload(t *testing.T) {
	const limit = 1<<20 + 5
	e := newTestEnv(t, tOpts{ftp: "direct = true", limits: defaultLimits + fmt.Sprintf("max_file_bytes = %d\n", limit)})
	c := e.login(t, "root")
	c.want("TYPE I", "200 TYPE is set to IMAGE.")
	c.want("CWD /dsk", "250 CWD command successful.")
	for _, n := range []int{recvBuf + 1, 3*recvBuf - 7, limit} {
		data := testPattern(n, byte(n))
		c.stor(fmt.Sprintf("f%d.bin", n), data)
		if got := readHost(t, e.dsk, fmt.Sprintf("f%d.bin", n)); !bytes.Equal(got, data) {
			t.Errorf("STOR of %d bytes: /dsk holds %d bytes, not the same", n, len(got))
		}
	}
	old := []byte("old contents\n")
	// APPE past recvBuf: the spliced part lands after the old end.
	writeHost(t, e.dsk, "app.bin", old)
	more := testPattern(2*recvBuf+3, 5)
	if r := c.store("APPE", "app.bin", more); r.code != 226 {
		t.Fatalf("APPE: got %q", r)
	}
	if got, want := readHost(t, e.dsk, "app.bin"), append(append([]byte(nil), old...), more...); !bytes.Equal(got, want) {
		t.Errorf("APPE: /dsk holds %d bytes, want the %d of old and new", len(got), len(want))
	}
	writeHost(t, e.dsk, "big.bin", old)
	spliced := c.store("STOR", "big.bin", testPattern(2<<20, 3))
	if spliced.code/100 != 5 {
		t.Fatalf("STOR over max_file_bytes: got %q, want a 5xx refusal", spliced)
	}
	if got := readHost(t, e.dsk, "big.bin"); !bytes.Equal(got, old) {
		t.Errorf("big.bin after the refused STOR: %d bytes, want the old %d", len(got), len(old))
	}
	if tmp := tempFiles(t, e.dsk); len(tmp) != 0 {
		t.Errorf("temporary files left: %q", tmp)
	}
	// The same refusal on the buffered path: a limit below recvBuf.
	e2 := newTestEnv(t, tOpts{ftp: "direct = true", limits: defaultLimits + "max_file_bytes = 1000\n"})
	c2 := e2.login(t, "root")
	c2.want("TYPE I", "200 TYPE is set to IMAGE.")
	c2.want("CWD /dsk", "250 CWD command successful.")
	if buffered := c2.store("STOR", "big.bin", testPattern(5000, 3)); buffered.String() != spliced.String() {
		t.Errorf("refusal on the splice path %q, on the buffered path %q", spliced, buffered)
	}
}
