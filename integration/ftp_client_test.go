package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// TestFTPGoClient drives the command set with github.com/jlaffaye/ftp:
// STOR (secure mode: staged in /mem), APPE, REST+STOR, REST+RETR, MDTM,
// SIZE, LIST, NLST, RNFR/RNTO (a commit from /mem to /dsk and a rename in
// /dsk), DELE, MKD/RMD (502), REIN and QUIT, and ChangeDir and
// ChangeDirToParent, which want RFC 959's 250 (sluice answers CWD and CDUP
// with 250 and the manual's texts, where the manual has 200: DESIGN §6).
func TestFTPGoClient(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	c := s.ftpClient(t)
	dsk := filepath.Join(s.data, "dsk")

	mustDir := func(want string) {
		t.Helper()
		if d, err := c.CurrentDir(); err != nil || d != want {
			t.Errorf("PWD: got %q, %v; want %q", d, err, want)
		}
	}
	mustDir("/dsk") // CHECK SYSTEM on, default_fs NUL: the login starts in /dsk (DESIGN §6)
	for _, step := range []struct{ dir, want string }{
		{"cdup", "/"}, {"mem", "/mem"}, {"dsk", "/dsk"}, {"..", "/"}, {"..", "/"}, {"nul", "/"}, {"/mem/", "/mem"},
		{"bio", "/bio"}, {"cdup", "/"}, {"/dsk", "/dsk"},
	} {
		var err error
		if step.dir == "cdup" {
			err = c.ChangeDirToParent()
		} else {
			err = c.ChangeDir(step.dir)
		}
		if err != nil {
			t.Errorf("CWD %s: %v", step.dir, err)
		}
		mustDir(step.want)
	}
	wantErr(t, "CWD /dsk/x/y", c.ChangeDir("/dsk/x/y"), 550, "Pathname not available.")
	mustDir("/dsk")
	if err := c.ChangeDir("/"); err != nil {
		t.Errorf("CWD /: %v", err)
	}
	wantErr(t, "CDUP at /", c.ChangeDirToParent(), 550, "Top of tree.")
	if err := c.ChangeDir("dsk"); err != nil {
		t.Errorf("CWD dsk: %v", err)
	}

	a := randomBytes(1000, 1)
	b := randomBytes(500, 2)
	d := randomBytes(700, 3)
	if err := c.Stor("/dsk/a.txt", bytes.NewReader(a)); err != nil {
		t.Fatalf("STOR /dsk/a.txt: %v", err)
	}
	_, err := c.FileSize("/dsk/a.txt")
	wantErr(t, "SIZE /dsk/a.txt after a secure-mode STOR (the file is in /mem)", err, 550, "File not found.")
	if _, err := os.Stat(filepath.Join(dsk, "a.txt")); !os.IsNotExist(err) {
		t.Errorf("secure-mode STOR wrote DATA/dsk/a.txt (%v)", err)
	}
	if err := c.Append("/mem/a.txt", bytes.NewReader(b)); err != nil {
		t.Fatalf("APPE: %v", err)
	}
	if err := c.StorFrom("/mem/a.txt", bytes.NewReader(d), 1500); err != nil {
		t.Fatalf("REST 1500 + STOR: %v", err)
	}
	var entries []*ftp.Entry
	want := append(append(append([]byte(nil), a...), b...), d...)
	if n, err := c.FileSize("/mem/a.txt"); err != nil || n != int64(len(want)) {
		t.Errorf("SIZE /mem/a.txt: got %d, %v; want %d", n, err, len(want))
	}
	if got := retr(t, c, "/mem/a.txt", 0); !bytes.Equal(got, want) {
		t.Errorf("RETR /mem/a.txt: %d bytes differ from STOR+APPE+REST/STOR (%d bytes)", len(got), len(want))
	}
	if got := retr(t, c, "/mem/a.txt", 1234); !bytes.Equal(got, want[1234:]) {
		t.Errorf("REST 1234 + RETR: got %d bytes, want the last %d", len(got), len(want)-1234)
	}
	if mt, err := c.GetTime("/mem/a.txt"); err != nil || time.Since(mt).Abs() > time.Minute {
		t.Errorf("MDTM /mem/a.txt: got %v, %v; want about now", mt, err)
	}
	if names, err := c.NameList("/mem"); err != nil || len(names) != 1 || names[0] != "a.txt" {
		t.Errorf("NLST /mem: got %q, %v", names, err)
	}
	entries, err = c.List("/mem")
	if err != nil || len(entries) != 1 || entries[0].Name != "a.txt" || entries[0].Size != uint64(len(want)) ||
		entries[0].Type != ftp.EntryTypeFile {
		t.Errorf("LIST /mem: got %+v, %v", entries, err)
	}

	// RNFR/RNTO from the staging buffer to /dsk: the verified commit.
	if err := c.Rename("/mem/a.txt", "/dsk/a.txt"); err != nil {
		t.Fatalf("RNFR /mem/a.txt, RNTO /dsk/a.txt: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dsk, "a.txt")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("DATA/dsk/a.txt after the rename: %d bytes, %v", len(got), err)
	}
	if err := c.Rename("/dsk/a.txt", "/dsk/b.txt"); err != nil {
		t.Fatalf("RNFR /dsk/a.txt, RNTO /dsk/b.txt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dsk, "b.txt")); err != nil {
		t.Errorf("DATA/dsk/b.txt after the rename: %v", err)
	}
	if err := c.Delete("/dsk/b.txt"); err != nil {
		t.Errorf("DELE /dsk/b.txt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dsk, "b.txt")); !os.IsNotExist(err) {
		t.Errorf("DATA/dsk/b.txt after DELE: %v", err)
	}
	wantErr(t, "DELE of a missing file", c.Delete("/dsk/b.txt"), 550, "Unable to delete file.")
	wantErr(t, "MKD", c.MakeDir("x"), 502, "Command not implemented.")
	wantErr(t, "RMD", c.RemoveDir("x"), 502, "Command not implemented.")
	if got := retr(t, c, "/tst/4321", 0); len(got) != 4321 {
		t.Errorf("RETR /tst/4321: %d bytes", len(got))
	}
	if err := c.NoOp(); err != nil {
		t.Errorf("NOOP: %v", err)
	}
	if err := c.Logout(); err != nil { // REIN
		t.Errorf("REIN: %v", err)
	}
	_, err = c.CurrentDir()
	wantErr(t, "PWD after REIN", err, 530, "Access denied, not logged in.")
}

// wantErr checks an FTP error reply from jlaffaye/ftp.
func wantErr(t *testing.T, what string, err error, code int, msg string) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != code || te.Msg != msg {
		t.Errorf("%s: got %v, want %d %s", what, err, code, msg)
	}
}

func retr(t *testing.T, c *ftp.ServerConn, p string, off uint64) []byte {
	t.Helper()
	r, err := c.RetrFrom(p, off)
	if err != nil {
		t.Errorf("RETR %s from %d: %v", p, off, err)
		return nil
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Errorf("RETR %s: %v", p, err)
	}
	return b
}

// TestFTPChecksums: XCRC and XMD5 with a quoted name, an offset and a
// length give CRC-32 and MD5 of that part; past the end they answer the
// manual's 550s. The name is optional (manual §1.3: [["<filename>"]
// [<offset> [<size>]]]): without it they sum the last file transferred.
func TestFTPChecksums(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	c := s.login(t)
	c.cmdExpect("TYPE I", 200)
	data := randomBytes(5000, 9)
	c.store("STOR /mem/sum.dat", data)
	crc := func(b []byte) string { return fmt.Sprintf("250 %08X", crc32.ChecksumIEEE(b)) }
	md := func(b []byte) string { s := md5.Sum(b); return "250 " + strings.ToUpper(hex.EncodeToString(s[:])) }

	c.cmdLine(`XCRC "/mem/sum.dat"`, crc(data))
	c.cmdLine(`XCRC "/mem/sum.dat" 1000`, crc(data[1000:]))
	c.cmdLine(`XCRC "/mem/sum.dat" 1000 2000`, crc(data[1000:3000]))
	c.cmdLine(`XCRC /mem/sum.dat 0 5000`, crc(data))
	c.cmdLine(`XMD5 "/mem/sum.dat"`, md(data))
	c.cmdLine(`XMD5 "/mem/sum.dat" 4000 1000`, md(data[4000:]))
	c.cmdLine(`XCRC "/mem/sum.dat" 5001`, "550 CRC offset past eof.")
	c.cmdLine(`XCRC "/mem/sum.dat" 4000 1001`, "550 CRC size past eof.")
	c.cmdLine(`XMD5 "/mem/sum.dat" 0 5001`, "550 CRC size past eof.")
	c.cmdLine(`XCRC "/mem/sum.dat`, "501 Invalid filename.")

	// Without a name: the last file transferred (/mem/sum.dat).
	c.cmdLine("XCRC", crc(data))
	c.cmdLine("XCRC 100 200", crc(data[100:300]))
	c.cmdLine("XMD5", md(data))
}
