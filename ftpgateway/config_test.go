package ftpgateway

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The configuration keys of manual chapter 2 and mTCP that the gateway
// reads: MOTD, OS, default file system, passive range and address, data
// socket options, backup directory, reload command.

func TestMOTD(t *testing.T) {
	motd := filepath.Join(t.TempDir(), "motd.txt")
	if err := os.WriteFile(motd, []byte("Welcome to the device.\nAuthorised users only.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, tOpts{ftp: fmt.Sprintf("motd = %q", motd)})
	c := e.dial(t)
	c.want("USER root", "331 User name accepted, password needed.")
	c.want("PASS "+testPassword, "230-Welcome to the device.", "230-Authorised users only.", "230 User login successful.")
}

// TestBannerFile: [ftp] banner is sent as 220- lines before the manual's 220
// greeting (§1.4), before login; a tab becomes a space.
func TestBannerFile(t *testing.T) {
	banner := filepath.Join(t.TempDir(), "banner.txt")
	if err := os.WriteFile(banner, []byte("Authorised access only.\r\n\tActivity is logged.\n220 not an end\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, tOpts{ftp: fmt.Sprintf("banner = %q", banner)})
	r := e.dialRaw(t).read()
	want := []string{"220-Authorised access only.", "220- Activity is logged.", "220-220 not an end",
		"220 FTP server ready, 1 active clients of 64 simultaneous clients allowed."}
	if strings.Join(r.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("greeting: got %q, want %q", r.lines, want)
	}
}

func TestDefaultFSAndOS(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "default_fs = \"dsk\"\nos = \"msdos\""})
	writeHost(t, e.dsk, "a.txt", []byte("12345"))
	c := e.login(t, "root")
	c.want("PWD", `257 "/dsk" is the current directory.`)
	c.want("SYST", "215 MSDOS system type.")
	dos := regexp.MustCompile(`^\d\d-\d\d-\d\d  \d\d:\d\d[AP]M +5 a\.txt$`)
	if got := c.list("LIST", ""); len(got) != 1 || !dos.MatchString(got[0]) {
		t.Errorf("MS-DOS LIST: got %q", got)
	}
	c.want("SITE SYSTMODE UNIX", "200 SYST is set to UNIX.")
	unix := regexp.MustCompile(`^-rw-r--r-- +1 \w+ +\w+ +5 [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) a\.txt$`)
	if got := c.list("LIST", ""); len(got) != 1 || !unix.MatchString(got[0]) {
		t.Errorf("UNIX LIST: got %q", got)
	}
	c.want("CWD /", "250 CWD root dir successful.")
	c.want("SITE SYSTMODE MSDOS", "200 SYST is set to MSDOS.")
	dir := regexp.MustCompile(`^\d\d-\d\d-\d\d  \d\d:\d\d[AP]M +<DIR> +dsk$`)
	found := false
	for _, l := range c.list("LIST", "") {
		found = found || dir.MatchString(l)
	}
	if !found {
		t.Errorf("MS-DOS LIST /: no <DIR> line for dsk")
	}
	// LIST options that clients add are ignored.
	c.want("CWD /dsk", "250 CWD command successful.")
	if got := c.list("LIST", "-la"); len(got) != 1 {
		t.Errorf("LIST -la: got %q", got)
	}
}

// TestPassivePortRange: each PASV/EPSV picks a port inside the range.
func TestPassivePortRange(t *testing.T) {
	base := 40000 + rand.IntN(20000)
	e := newTestEnv(t, tOpts{ftp: fmt.Sprintf("pasv_min_port = %d\npasv_max_port = %d\npasv_address = \"203.0.113.7\"", base, base+15)})
	writeHost(t, e.dsk, "f.dat", []byte("range"))
	c := e.login(t, "root")
	seen := map[int]bool{}
	for i := range 8 {
		var addr string
		if i%2 == 0 {
			r := c.cmd("PASV")
			a, err := parse227(r.lines[0])
			if err != nil {
				t.Fatalf("PASV: %q", r)
			}
			// The client is on the server's own network: the external
			// address is not advertised to it.
			if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
				t.Errorf("PASV advertised %s to a loopback client, want 127.0.0.1", host)
			}
			addr = a
		} else {
			r := c.cmd("EPSV")
			m := regexp.MustCompile(`\(\|\|\|(\d+)\|\)`).FindStringSubmatch(r.lines[0])
			if m == nil {
				t.Fatalf("EPSV: %q", r)
			}
			addr = "127.0.0.1:" + m[1]
		}
		_, ps, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(ps)
		if p < base || p > base+15 {
			t.Errorf("passive port %d outside %d..%d", p, base, base+15)
		}
		seen[p] = true
		dc := c.dialData(addr)
		c.want("RETR /dsk/f.dat", "150 Data connection open, file transfer in process...")
		if got := readData(t, dc); string(got) != "range" {
			t.Errorf("RETR: %q", got)
		}
		c.read()
	}
	if len(seen) < 2 {
		t.Errorf("8 passive commands used the ports %v: want them picked at random", seen)
	}
}

// TestDataSocketOptions: KEEPALIVE, MSS, RX-BUFF and TX-BUFF apply to data
// connections without breaking transfers.
func TestDataSocketOptions(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "keepalive = true\nmss = 1200\nrx_buff = 65536\ntx_buff = 65536\ndirect = true"})
	data := testPattern(500_000, 4)
	c := e.login(t, "root")
	c.want("STAT", "211-Server Status: READY", "211-Direct mode : ON", "211-Immediate : ON", "211-Keepalive : ON",
		"211-Reply 119 : OFF", "211-Reload code : OFF", "211-Savebuffer : OFF", "211 Checks : NONE")
	c.stor("/dsk/opt.dat", data)
	if got := c.retr("/dsk/opt.dat"); !bytes.Equal(got, data) {
		t.Errorf("RETR with socket options: %s", firstDiff(got, data))
	}
	c.want("SITE KEEPALIVE OFF", "200 KEEPALIVE mode is set to OFF.")
	if got := c.retr("/dsk/opt.dat"); !bytes.Equal(got, data) {
		t.Errorf("RETR without keepalive: %s", firstDiff(got, data))
	}
}

func TestSiteBackup(t *testing.T) {
	backup := t.TempDir()
	e := newTestEnv(t, tOpts{ftp: fmt.Sprintf("backup_dir = %q\nreply = true", backup)})
	writeHost(t, e.dsk, "a.cfg", []byte("config a"))
	writeHost(t, e.dsk, "b.dat", testPattern(100_000, 3))
	c := e.login(t, "root")
	c.want("SITE BACKUP", "550 File system is not available.")
	c.want("CWD /dsk", "250 CWD command successful.")
	c.want("SITE BACKUP", "119 Backup in process...")
	c.wantRead("SITE BACKUP", "250 Backup successful.")
	for _, name := range []string{"a.cfg", "b.dat"} {
		if got, want := readHost(t, filepath.Join(backup, "dsk"), name), readHost(t, e.dsk, name); !bytes.Equal(got, want) {
			t.Errorf("backup of %s: %s", name, firstDiff(got, want))
		}
	}
}

// TestSiteReload: SITE RELOAD ON runs the reload function once the
// control connection has closed; OFF cancels it.
func TestSiteReload(t *testing.T) {
	var calls atomic.Int32
	e := newTestEnv(t, tOpts{reload: func() { calls.Add(1) }})
	c := e.login(t, "root")
	c.want("SITE RELOAD ON", "200 RELOAD mode is set to ON.")
	c.want("SITE RELOAD OFF", "200 RELOAD mode is set to OFF.")
	c.want("QUIT", "221 Goodbye.")
	c.wantEOF("QUIT")

	c = e.login(t, "root")
	c.want("SITE RELOAD ON", "200 RELOAD mode is set to ON.")
	c.want("STAT", "211-Server Status: READY", "211-Direct mode : OFF", "211-Immediate : ON", "211-Keepalive : OFF",
		"211-Reply 119 : OFF", "211-Reload code : ON", "211-Savebuffer : OFF", "211 Checks : NONE")
	if n := calls.Load(); n != 0 {
		t.Fatalf("reload ran %d times before the connection closed", n)
	}
	c.want("QUIT", "221 Goodbye.")
	c.wantEOF("QUIT")
	deadline := time.Now().Add(testTimeout)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("reload ran %d times, want once", n)
	}
}

// TestSiteReloadAbsent (manual §3.10, docs/ftp.md): without a reload
// command SITE RELOAD ON is "504 Feature not present." and STAT keeps
// OFF; a command that cannot run is "550 Unable to create order."; OFF
// is always accepted.
func TestSiteReloadAbsent(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	c.want("SITE RELOAD ON", "504 Feature not present.")
	c.want("SITE RELOAD OFF", "200 RELOAD mode is set to OFF.")
	c.want("STAT", "211-Server Status: READY", "211-Direct mode : OFF", "211-Immediate : ON", "211-Keepalive : OFF",
		"211-Reply 119 : OFF", "211-Reload code : OFF", "211-Savebuffer : OFF", "211 Checks : NONE")

	var calls atomic.Int32
	e = newTestEnv(t, tOpts{reload: func() { calls.Add(1) }, reloadReady: func() error { return errors.New("not found") }})
	c = e.login(t, "root")
	c.want("SITE RELOAD ON", "550 Unable to create order.")
	c.want("QUIT", "221 Goodbye.")
	c.wantEOF("QUIT")
	if n := calls.Load(); n != 0 {
		t.Errorf("reload ran %d times after a refused SITE RELOAD ON", n)
	}
}

// TestIPv6: EPSV and EPRT over an IPv6 control connection; PASV has no
// IPv6 form (RFC 2428).
func TestIPv6(t *testing.T) {
	e := newTestEnv(t, tOpts{listen: "[::1]:0", ftp: "direct = true"})
	data := testPattern(70_000, 6)
	writeHost(t, e.dsk, "v6.dat", data)
	c := e.login(t, "root")
	if got := c.retr("/dsk/v6.dat"); !bytes.Equal(got, data) {
		t.Errorf("EPSV RETR over IPv6: %s", firstDiff(got, data))
	}
	c.want("PASV", "411 Unable to get passive mode")
	c.want("EPSV 1", "522 Protocol not supported, use (1,2)")
	c.wantCode("EPSV 2", 229)

	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	c.want(fmt.Sprintf("EPRT |2|::1|%d|", p), "200 Extended PORT is set to |2|0:0:0:0:0:0:0:1|")
	c.want(fmt.Sprintf("EPRT |1|127.0.0.1|%d|", p), "504 IP Address not allowed.")
	c.want("RETR /dsk/v6.dat", "150 Data connection open, file transfer in process...")
	l.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
	dc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := readData(t, dc); !bytes.Equal(got, data) {
		t.Errorf("EPRT RETR over IPv6: %s", firstDiff(got, data))
	}
	c.wantRead("RETR end", fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(data)))
}
