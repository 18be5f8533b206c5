package integration

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFTPAbortRaw: ABOR during a RETR answers "426 Aborting RETR
// command..." then "226 Command ABOR successfully processed." and closes
// the data connection, whether ABOR comes as a plain line or after the
// Telnet IP and Synch bytes (RFC 959 §4.1.3); STAT during the transfer
// reports it; ABOR during a STOR keeps nothing; ABOR when idle answers
// only 226.
func TestFTPAbortRaw(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	c := s.login(t)
	c.cmdExpect("TYPE I", 200)

	for _, v := range []struct{ name, abor string }{
		{"plain", "ABOR"},
		{"telnet IP and Synch", "\xff\xf4\xff\xf2ABOR"},
	} {
		t.Run(v.name, func(t *testing.T) {
			dc := c.dialData(c.pasv())
			c.send("RETR /tst/100000000")
			oneLine(t, "RETR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
			buf := make([]byte, 64<<10)
			dc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(dc, buf); err != nil {
				t.Fatalf("reading the data: %v", err)
			}
			st := c.cmd("STAT")
			if st[0] != "211-Server Status: BUSY" {
				t.Errorf("STAT during RETR: got %q, want 211-Server Status: BUSY first", st)
			} else if n := statBytes(st, "RETR /tst/100000000"); n < int64(len(buf)) {
				t.Errorf("STAT during RETR, %d bytes already received: got %q, want at least that many bytes processed", len(buf), st)
			}
			c.cmdLine("NOOP", "200 OK.")
			c.send(v.abor)
			oneLine(t, "ABOR (first reply)", c.reply(), "426 Aborting RETR command...")
			oneLine(t, "ABOR (second reply)", c.reply(), "226 Command ABOR successfully processed.")
			// The data connection is closed (after what was in flight).
			dc.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, dc)
			if isTimeout(err) {
				t.Error("the data connection is still open after ABOR")
			}
			c.cmdLine("NOOP", "200 OK.")
		})
	}

	t.Run("STOR", func(t *testing.T) {
		dc := c.dialData(c.pasv())
		c.send("STOR /mem/aborted.dat")
		oneLine(t, "STOR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
		if _, err := dc.Write(randomBytes(256<<10, 5)); err != nil {
			t.Fatal(err)
		}
		// STAT reports the bytes received so far.
		deadline := time.Now().Add(time.Second)
		for {
			st := c.cmd("STAT")
			n := statBytes(st, "STOR /mem/aborted.dat")
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("STAT during STOR, 256 KiB sent: got %q, want a non-zero count of bytes processed", st)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.send("ABOR")
		oneLine(t, "ABOR (first reply)", c.reply(), "426 Aborting STOR command...")
		oneLine(t, "ABOR (second reply)", c.reply(), "226 Command ABOR successfully processed.")
		c.cmdLine("SIZE /mem/aborted.dat", "550 File not found.")
		st := c.cmd("SITE STATBUFFER")
		if len(st) != 1 || !strings.HasSuffix(st[0], `filename: "".`) {
			t.Errorf("SITE STATBUFFER after an aborted STOR: got %q, want the buffer empty", st)
		}
	})

	// ABOR before the client opened the data connection: the transfer
	// never starts, and nothing is left behind (no staged file, no busy
	// name: the same STOR works afterwards).
	t.Run("before the data connection", func(t *testing.T) {
		c.pasv()
		c.send("STOR /mem/never.dat")
		oneLine(t, "STOR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
		c.send("ABOR")
		oneLine(t, "ABOR (first reply)", c.reply(), "426 Aborting STOR command...")
		oneLine(t, "ABOR (second reply)", c.reply(), "226 Command ABOR successfully processed.")
		c.cmdLine("SIZE /mem/never.dat", "550 File not found.")
		st := c.cmd("SITE STATBUFFER")
		if len(st) != 1 || !strings.HasSuffix(st[0], `filename: "".`) {
			t.Errorf("SITE STATBUFFER after ABOR before the data connection: got %q, want the buffer empty", st)
		}
		oneLine(t, "STOR of the same name afterwards", c.store("STOR /mem/never.dat", []byte("x")),
			"226 STOR completed, 1 bytes processed, data connection is closed.")
	})

	// The same when the data connection cannot be opened (425).
	t.Run("data connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // nothing listens there now
		c.cmdExpect(fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&0xff), 200)
		c.send("STOR /mem/refused.dat")
		oneLine(t, "STOR (preliminary)", c.reply(), "150 Data connection open, file transfer in process...")
		oneLine(t, "STOR (final)", c.reply(), "425 Unable to open data transport.")
		c.cmdLine("SIZE /mem/refused.dat", "550 File not found.")
		oneLine(t, "STOR of the same name afterwards", c.store("STOR /mem/refused.dat", []byte("x")),
			"226 STOR completed, 1 bytes processed, data connection is closed.")
	})

	t.Run("idle", func(t *testing.T) {
		c.cmdLine("ABOR", "226 Command ABOR successfully processed.")
		// Nothing else follows: the next reply is NOOP's.
		c.cmdLine("NOOP", "200 OK.")
		c.cmdLine("\xff\xf4\xff\xf2ABOR", "226 Command ABOR successfully processed.")
		c.cmdLine("NOOP", "200 OK.")
	})
}

// TestFTPAbortFTPLib: Python's ftplib FTP.abort() during a RETR (ABOR
// sent as TCP urgent data, MSG_OOB) gets 426 then 226, and the session
// goes on; when idle, ABOR gets only 226.
func TestFTPAbortFTPLib(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3")
	s := newFTPServer(t, "")
	script, err := filepath.Abs(filepath.Join("testdata", "ftplib_abort.py"))
	if err != nil {
		t.Fatal(err)
	}
	r := tool(t, t.TempDir(), "", python, script, "127.0.0.1", s.ftpPort(), s.password)
	want := []string{
		"< 220 FTP server ready, 1 active clients of 16 simultaneous clients allowed.",
		"> USER root",
		"< 331 User name accepted, password needed.",
		"> PASS <password>",
		"< 230 User login successful.",
		"> TYPE I",
		"< 200 TYPE is set to IMAGE.",
		"> PASV",
		"< 227 Entering Passive Mode. (127,0,0,1,<p1>,<p2>)",
		"> RETR /tst/100000000",
		"< 150 Data connection open, file transfer in process...",
		"# read 1048576 bytes, aborting",
		"> ABOR (FTP.abort: urgent data)",
		"< 426 Aborting RETR command...",
		"< 226 Command ABOR successfully processed.",
		"> NOOP",
		"< 200 OK.",
		"> ABOR",
		"< 226 Command ABOR successfully processed.",
		"> NOOP",
		"< 200 OK.",
		"> ABOR (FTP.abort: urgent data)",
		"< 226 Command ABOR successfully processed.",
		"> NOOP",
		"< 200 OK.",
		"> QUIT",
		"< 221 Goodbye.",
	}
	pasv := regexp.MustCompile(`\(127,0,0,1,\d+,\d+\)$`)
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for i := range got {
		got[i] = pasv.ReplaceAllString(got[i], "(127,0,0,1,<p1>,<p2>)")
	}
	if r.exit != 0 || prelim150(strings.Join(got, "\n")) != prelim150(strings.Join(want, "\n")) {
		t.Errorf("ftplib ABOR: exit %d, transcript (-want +got):\n%s\nstderr:\n%s", r.exit,
			lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")), r.stderr)
	}
	// The server still serves new sessions.
	s.login(t).cmdLine("NOOP", "200 OK.")
}

// statBytes is the "N bytes processed" count of a STAT reply during a
// transfer of what ("VERB /path"): the line that names the transfer, or
// -1.
func statBytes(st []string, what string) int64 {
	for _, l := range st {
		if !strings.Contains(l, what) {
			continue
		}
		if m := bytesProcessed.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	return -1
}

var bytesProcessed = regexp.MustCompile(`\b(\d+) bytes processed\b`)
