package sftphandler

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// readAll reads a whole file through the client.
func readAll(t *testing.T, cl *sftp.Client, p string) string {
	t.Helper()
	f, err := cl.Open(p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// TestVerdictFiles (issue 10 item 11): a refused commit and an accepted
// one are listed in /verdicts.txt with the check and the manual's text;
// /state.txt shows the active application, the committed versions and
// the staged files; both are read-only, shown in the listing of "/", and
// each user sees only their own verdicts.
func TestVerdictFiles(t *testing.T) {
	e := newCheckedEnv(t, image.CheckAll&^image.CheckSignature, false)
	cl := e.client(t, Options{})

	if got := readAll(t, cl, "/verdicts.txt"); got != "" {
		t.Errorf("verdicts.txt before any commit: %q, want empty", got)
	}
	bad := e.img(t, nil)
	bad[image.HeaderSize+100] ^= 0xff
	upload(t, cl, "/mem/OS_FILE.BIN", bad)
	err := cl.Rename("/mem/OS_FILE.BIN", "/dsk/OS_FILE.BIN")
	wantStatus(t, "RENAME bad crc", err, fxFailure, "Bad crc of checked file")
	upload(t, cl, "/mem/OS_FILE.BIN", e.img(t, nil))
	if err := cl.Rename("/mem/OS_FILE.BIN", "/dsk/OS_FILE.BIN"); err != nil {
		t.Fatalf("RENAME good: %v", err)
	}
	upload(t, cl, "/mem/staged.cfg", []byte("hostname x\n"))

	got := readAll(t, cl, "/verdicts.txt")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("verdicts.txt: %d lines, want 2:\n%s", len(lines), got)
	}
	f := strings.Split(lines[0], "\t")
	if want := []string{"s1", "rename", "/mem/OS_FILE.BIN", "/dsk/OS_FILE.BIN", "refused", "CRC", "Bad crc of checked file"}; len(f) != 8 || !slices.Equal(f[1:], want) {
		t.Errorf("verdicts.txt line 1: %q, want time then %q", f, want)
	}
	f = strings.Split(lines[1], "\t")
	if len(f) != 8 || f[5] != "ok" || !strings.Contains(f[6], "CRC") || f[7] != "-" {
		t.Errorf("verdicts.txt line 2: %q, want an accepted commit with CRC among its checks", f)
	}

	st := readAll(t, cl, "/state.txt")
	for _, want := range []string{"active\tOS_FILE.BIN\t11.7.3\n", "committed\tapplication\tOS_FILE.BIN\t11.7.3\n",
		"staged\t/mem/staged.cfg\t11\t"} {
		if !strings.Contains(st, want) {
			t.Errorf("state.txt has no %q:\n%s", want, st)
		}
	}

	// Listed in "/", as read-only files; STAT agrees with the content.
	ents, err := cl.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]os.FileInfo{}
	for _, fi := range ents {
		seen[fi.Name()] = fi
	}
	for _, n := range []string{"verdicts.txt", "state.txt"} {
		fi := seen[n]
		if fi == nil || fi.IsDir() || fi.Mode().Perm() != 0o444 {
			t.Errorf("ls /: %s is %v, want a 0444 file", n, fi)
		}
	}
	if fi, err := cl.Stat("/VERDICTS.TXT"); err != nil || fi.Size() != int64(len(got)) {
		t.Errorf("STAT /VERDICTS.TXT: %v, %v; want %d bytes", fi, err, len(got))
	}
	if p, err := cl.RealPath("verdicts.txt"); err != nil || p != "/verdicts.txt" {
		t.Errorf("REALPATH verdicts.txt: %q, %v", p, err)
	}

	// Read-only: no write, remove, rename or setstat, and nothing changes.
	c := startConn(t, e.testEnv, supervisor(), Options{})
	expectStatus(t, "OPEN for write", c.open("/verdicts.txt", fxfWrite|openCreat|openTrunc), fxPermDenied, msgDenied)
	expectStatus(t, "REMOVE", c.do(fxpRemove, "/state.txt"), fxPermDenied, msgDenied)
	expectStatus(t, "RENAME from", c.do(fxpRename, "/state.txt", "/mem/x"), fxPermDenied, msgDenied)
	expectStatus(t, "RENAME onto", c.do(fxpRename, "/mem/staged.cfg", "/verdicts.txt"), fxPermDenied, msgDenied)
	expectStatus(t, "SETSTAT", c.do(fxpSetstat, "/verdicts.txt", attrsTimes()), fxPermDenied, msgDenied)
	if b := c.get("/state.txt"); !bytes.Contains(b, []byte("active\tOS_FILE.BIN")) {
		t.Errorf("raw READ of state.txt: %q", b)
	}
	if again := readAll(t, cl, "/verdicts.txt"); again != got {
		t.Errorf("verdicts.txt changed: %q, was %q", again, got)
	}

	// Another user sees none of root's verdicts, and, seeing only /mem,
	// none of the device's committed state.
	other := &vfs.Session{User: &policy.User{Name: "op", Level: policy.Supervisor, FileSystems: []string{"mem"}}, ID: "s2"}
	s := servePipes(t, e.fs, other, Options{})
	oc, err := sftp.NewClientPipe(s.r, s.w)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if got := readAll(t, oc, "/verdicts.txt"); got != "" {
		t.Errorf("op's verdicts.txt: %q, want empty", got)
	}
	if st := readAll(t, oc, "/state.txt"); strings.Contains(st, "OS_FILE") || strings.Contains(st, "staged.cfg") {
		t.Errorf("op's state.txt shows root's state:\n%s", st)
	}
}
