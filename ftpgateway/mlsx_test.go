package ftpgateway

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// setHostTime sets a host file's modification time.
func setHostTime(t *testing.T, dir, name string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(dir, name), mt, mt); err != nil {
		t.Fatal(err)
	}
}

func hostTime(t *testing.T, dir, name string) time.Time {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// TestMLSD: MLSD lists like LIST (same arguments and replies) in RFC 3659
// lines with type, size, modify and perm, the perm letters being what the
// policy lets each user do.
func TestMLSD(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	t1 := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	t2 := time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC)
	writeHost(t, e.dsk, "a.dat", []byte("abc"))
	writeHost(t, e.dsk, "b b.txt", make([]byte, 70000))
	setHostTime(t, e.dsk, "a.dat", t1)
	setHostTime(t, e.dsk, "b b.txt", t2)

	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	want := []string{
		"type=file;size=3;modify=20210304050607;perm=adfrw; a.dat",
		"type=file;size=70000;modify=19991231235958;perm=adfrw; b b.txt",
	}
	if got := c.list("MLSD", ""); !slices.Equal(got, want) {
		t.Errorf("MLSD in /dsk:\n got %q\nwant %q", got, want)
	}
	if got := c.list("MLSD", "/dsk"); !slices.Equal(got, want) {
		t.Errorf("MLSD /dsk:\n got %q\nwant %q", got, want)
	}
	// A mask, as LIST takes it (jlaffaye/ftp's List sends one).
	if got := c.list("MLSD", "*.dat"); !slices.Equal(got, want[:1]) {
		t.Errorf("MLSD *.dat: got %q, want %q", got, want[:1])
	}
	// The root: the file systems, as directories.
	c.want("CWD /", "250 CWD root dir successful.")
	root := c.list("MLSD", "")
	if len(root) == 0 {
		t.Fatal("MLSD /: empty")
	}
	for _, l := range root {
		if !strings.HasPrefix(l, "type=dir;modify=") || !strings.Contains(l, ";perm=celp; ") {
			t.Errorf("MLSD /: line %q, want type=dir, modify and perm=celp for the supervisor", l)
		}
	}
	if !slices.ContainsFunc(root, func(l string) bool { return strings.HasSuffix(l, "; dsk") }) {
		t.Errorf("MLSD /: %q has no dsk", root)
	}

	// Errors are LIST's.
	c.want("MLSD /nofs", "501 Invalid pathname.")
	c.want("MLSD /dsk/"+strings.Repeat("n", 65), "501 Pathname too long.")

	// A guest may list and read: perm=r on files, el on the file system.
	g := e.login(t, "guest")
	g.want("CWD /dsk", "250 CWD command successful.")
	if got := g.list("MLSD", "a.dat"); !slices.Equal(got, []string{"type=file;size=3;modify=20210304050607;perm=r; a.dat"}) {
		t.Errorf("MLSD a.dat as guest: %q", got)
	}
	g.want("CWD /", "250 CWD root dir successful.")
	if got := g.list("MLSD", ""); !slices.ContainsFunc(got, func(l string) bool { return strings.HasSuffix(l, ";perm=el; dsk") }) {
		t.Errorf("MLSD / as guest: %q, want dsk with perm=el", got)
	}
	// A viewer may only list: no letter on files.
	v := e.login(t, "viewer")
	if got := v.list("MLSD", "/dsk/a.dat"); !slices.Equal(got, []string{"type=file;size=3;modify=20210304050607;perm=; a.dat"}) {
		t.Errorf("MLSD /dsk/a.dat as viewer: %q", got)
	}

	// Not before login; HELP knows it.
	n := e.dial(t)
	n.want("MLSD", "530 Access denied, not logged in.")
	n.want("MLST", "530 Access denied, not logged in.")
	n.want("MFMT 20200101000000 a.dat", "530 Access denied, not logged in.")
	n.want("HELP MLSD", "214 MLSD: Syntax: MLSD[ <path-name>]<CRLF>")
	n.want("HELP MLST", "214 MLST: Syntax: MLST[ <path-name>]<CRLF>")
	n.want("HELP MFMT", "214 MFMT: Syntax: MFMT <YYYYMMDDHHMMSS> <path-name><CRLF>")

	// TEST mode: only the test file system.
	c.want("ACCT TEST0", "200 FTP server test account enabled.")
	c.want("MLSD /dsk", "501 Invalid pathname.")
	c.want("MLST /dsk/a.dat", "501 Invalid pathname.")
}

// TestMLST: one object on the control connection; cdir for the current
// directory, pdir for "/" from a file system, dir for another file system.
func TestMLST(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	writeHost(t, e.dsk, "a.dat", []byte("abcd"))
	setHostTime(t, e.dsk, "a.dat", time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	c.want("MLST a.dat", "250-Listing a.dat",
		" type=file;size=4;modify=20200102030405;perm=adfrw; /dsk/a.dat", "250 End")
	c.want("MLST /dsk/a.dat", "250-Listing /dsk/a.dat",
		" type=file;size=4;modify=20200102030405;perm=adfrw; /dsk/a.dat", "250 End")
	for _, tc := range []struct{ arg, kind, path string }{
		{"", "cdir", "/dsk"}, {"/dsk", "cdir", "/dsk"}, {"/", "pdir", "/"}, {"..", "pdir", "/"}, {"/bio", "dir", "/bio"},
	} {
		r := c.cmd(strings.TrimSpace("MLST " + tc.arg))
		if len(r.lines) != 3 || r.lines[0] != "250-Listing "+tc.arg || r.lines[2] != "250 End" ||
			!strings.HasPrefix(r.lines[1], " type="+tc.kind+";modify=") || !strings.HasSuffix(r.lines[1], "; "+tc.path) {
			t.Errorf("MLST %s: got %q, want type=%s for %s", tc.arg, r.lines, tc.kind, tc.path)
		}
	}
	c.want("MLST missing.dat", "550 File not found.")
	c.want("MLST /nofs/x", "501 Invalid pathname.")
	c.want("MLST "+strings.Repeat("n", 65), "501 Pathname too long.")
	c.want("MLST a\x01b", "501 Invalid filename.")

	// OPTS MLST selects facts (RFC 3659 §7.9); FEAT marks them.
	c.want("OPTS MLST size;Modify;bogus;", "200 MLST OPTS size;modify;")
	if r := c.cmd("FEAT"); !slices.Contains(r.lines, " MLST type;size*;modify*;perm;") {
		t.Errorf("FEAT after OPTS MLST: %q", r.lines)
	}
	c.want("MLST a.dat", "250-Listing a.dat", " size=4;modify=20200102030405; /dsk/a.dat", "250 End")
	if got := c.list("MLSD", ""); !slices.Equal(got, []string{"size=4;modify=20200102030405; a.dat"}) {
		t.Errorf("MLSD after OPTS MLST: %q", got)
	}
	c.want("OPTS MLST", "200 MLST OPTS ")
	c.want("MLST a.dat", "250-Listing a.dat", "  /dsk/a.dat", "250 End")
	c.want("OPTS MLST type;size;modify;perm;", "200 MLST OPTS type;size;modify;perm;")
	if r := c.cmd("FEAT"); !slices.Contains(r.lines, " MLST type*;size*;modify*;perm*;") {
		t.Errorf("FEAT: %q", r.lines)
	}
	c.want("OPTS UTF8 ON", "200 UTF8 set to on")
	c.want("OPTS utf8", "200 UTF8 set to on")
	c.want("OPTS UTF8 OFF", "501 No options available")
	c.want("OPTS MODE Z", "501 No options available")
}

// TestMFMT: MFMT sets the time as SFTP's SETSTAT does: on a host file, on
// a staged file (kept through its commit), with the write permission only.
func TestMFMT(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	writeHost(t, e.dsk, "a.dat", []byte("abc"))
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	c.want("MFMT 20191231235959 a.dat", "213 Modify=20191231235959; a.dat")
	if got, want := hostTime(t, e.dsk, "a.dat"), time.Date(2019, 12, 31, 23, 59, 59, 0, time.UTC); !got.Equal(want) {
		t.Errorf("host time after MFMT: %v, want %v", got, want)
	}
	c.want("MDTM a.dat", "213 20191231235959")
	c.want("MFMT 20200102030405.5 /dsk/a.dat", "213 Modify=20200102030405; /dsk/a.dat")
	if got, want := hostTime(t, e.dsk, "a.dat"), time.Date(2020, 1, 2, 3, 4, 5, 5e8, time.UTC); !got.Equal(want) {
		t.Errorf("host time after MFMT with a fraction: %v, want %v", got, want)
	}
	for _, bad := range []string{"MFMT 2020010203040 a.dat", "MFMT 2020010203040x a.dat", "MFMT 20201302030405 a.dat",
		"MFMT 20200102030405. a.dat"} {
		c.want(bad, "501 Invalid time value.")
	}
	c.want("MFMT 20200102030405", "501 Syntax error in parameters.")
	c.want("MFMT", "501 Syntax error in parameters.")
	c.want("MFMT 20200102030405 missing.dat", "550 File not found.")
	c.want("MFMT 20200102030405 /dsk", "550 File not found.")
	c.want("MFMT 20200102030405 /nofs/a", "501 Invalid pathname.")

	// A staged file keeps its time through the commit.
	c.stor("/mem/s.dat", []byte("staged"))
	c.want("MFMT 20180607080910 /mem/s.dat", "213 Modify=20180607080910; /mem/s.dat")
	c.want("MLST /mem/s.dat", "250-Listing /mem/s.dat",
		" type=file;size=6;modify=20180607080910;perm=adfrw; /mem/s.dat", "250 End")
	c.want("RNFR /mem/s.dat", "350 Rename pending information.")
	c.want("RNTO /dsk/s.dat", "250 File successfully renamed.")
	if got, want := hostTime(t, e.dsk, "s.dat"), time.Date(2018, 6, 7, 8, 9, 10, 0, time.UTC); !got.Equal(want) {
		t.Errorf("committed file's time: %v, want %v", got, want)
	}

	// A guest may not write: the time stays.
	g := e.login(t, "guest")
	g.want("MFMT 20000101000000 /dsk/a.dat", "550 Operation denied to this client.")
	if got := hostTime(t, e.dsk, "a.dat"); got.Year() != 2020 {
		t.Errorf("host time after a refused MFMT: %v", got)
	}
}

// TestMLSDClient: jlaffaye/ftp uses MLSD because FEAT lists MLST, and
// gets exact sizes and the times MFMT set (its SetTime).
func TestMLSDClient(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	c := clientLogin(t, e)
	changeDir(t, c, "/dsk")
	if err := c.Stor("x.dat", strings.NewReader(strings.Repeat("x", 12345))); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2011, 2, 3, 4, 5, 6, 0, time.UTC)
	if !c.IsSetTimeSupported() || !c.IsTimePreciseInList() {
		t.Fatalf("jlaffaye/ftp sees no MFMT (%v) or no MLSD (%v)", c.IsSetTimeSupported(), c.IsTimePreciseInList())
	}
	if err := c.SetTime("x.dat", mt); err != nil {
		t.Fatalf("SetTime: %v", err)
	}
	entries, err := c.List("")
	if err != nil || len(entries) != 1 {
		t.Fatalf("List: %v, %v", entryNames(entries), err)
	}
	if en := entries[0]; en.Name != "x.dat" || en.Size != 12345 || !en.Time.Equal(mt) || en.Type != ftp.EntryTypeFile {
		t.Errorf("List: got %+v, want x.dat, 12345 bytes, %v", en, mt)
	}
	en, err := c.GetEntry("x.dat")
	if err != nil || en.Size != 12345 || !en.Time.Equal(mt) {
		t.Errorf("GetEntry (MLST): %+v, %v", en, err)
	}
}
