package ftpgateway

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// update rewrites the golden transcripts (x/crypto ssh/test recording
// tests): go test ./ftpgateway -run TestGolden -update. Review the diff
// against the manual (§1.3–1.4, chapter 3) before committing it.
var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// Script steps besides command lines.
const (
	stepEOF   = "<eof>"   // the server closes the connection
	stepLogin = "<login>" // USER root, PASS
)

// goldenScripts are exchanges whose every reply line is compared with
// testdata/<name>.golden.
var goldenScripts = []struct {
	name  string
	opts  tOpts
	setup func(t *testing.T, e *tEnv)
	steps []string
}{
	{name: "login", steps: []string{
		"SYST", "NOOP", "HELP", "STAT", "FEAT", "PWD", "LIST", "PASS nobody-yet",
		"USER root", "PASS " + testPassword, "PASS again",
		"PWD", "XPWD", "SYST", "HELP LIST", "HELP retr", "HELP XCRC", "HELP SITE", "HELP BOGUS",
		"STAT", "OPTS UTF8 ON", "ALLO 100", "MODE S", "STRU F", "TYPE I", "TYPE A", "TYPE A N", "TYPE A T", "TYPE L 8",
		"ACCT", "REIN", "PWD", "USER root", "PASS " + testPassword, "QUIT", stepEOF,
	}},
	{name: "errors", steps: []string{
		// Before login (manual §1.4.2/§1.4.3: 530).
		"LIST", "RETR x", "CWD /dsk", "PORT 127,0,0,1,4,0", "SITE HELP", "PASS x", "BOGUS", "",
		strings.Repeat("A", 1100), strings.Repeat("NOOP ", 2048),
		"RETR a\x00b", "RETR a\rb",
		"ACCT TEST0", // TEST mode needs a login first (§3.3)
		stepLogin,
		// Unknown and unimplemented commands.
		"BOGUS", "MKD x", "XMKD x", "RMD x", "XRMD x", "STOU", "ALLO 5", "OPTS MLST type",
		// Rename sequence.
		"RNTO x.dat", "RNFR missing.dat", "RNTO x.dat",
		// TYPE, MODE, STRU arguments.
		"TYPE", "TYPE X", "TYPE A C", "TYPE A X", "TYPE E", "TYPE E N", "TYPE L", "TYPE L 7",
		"MODE", "MODE B", "MODE C", "MODE X", "MODE S",
		"STRU", "STRU R", "STRU P", "STRU X", "STRU F",
		// PORT syntax (501 variants).
		"PORT", "PORT 127,0,0", "PORT 127,0,0,1,4", "PORT 127,0,0,1,4,0,1", "PORT 127,0,x,1,4,0",
		"PORT 300,0,0,1,4,0", "PORT 127,0,0,1,x,0", "PORT 127,0,0,1,4,256", "PORT 127,0,0,1,4,-1",
		"PORT 127.0.0.1.4.0",
		// EPRT (501/522).
		"EPRT", "EPRT |3|127.0.0.1|5000|", "EPRT |1|300.1.1.1|5000|", "EPRT |1|::1|5000|",
		"EPRT |2|127.0.0.1|5000|", "EPRT |1|127.0.0.1|0|", "EPRT |1|127.0.0.1|70000|",
		"EPRT |1|127.0.0.1|x|", "EPRT |1|127.0.0.1|5000", "EPRT 1|127.0.0.1|5000|", "EPRT |1|127.0.0.1|",
		"EPRT |1|127,0,0,1|5000|", "EPRT |1|127.0.0:1|5000|",
		// EPSV.
		"EPSV 3", "EPSV x",
		// Navigation.
		"CWD", "CWD /nofs", "CWD /dsk/file", "CWD ..", "CDUP", "SMNT", "SMNT nofs", "SMNT dsk", "PWD",
		"CDUP", "CWD .", "CWD /", "CWD dsk", "CWD .", "CWD ..", "CWD /mem", "PWD",
		"CWD nul", "PWD", "CWD ..", "PWD", "CWD /dsk/x/y", "CWD dsk", "CWD bio", "PWD", "CWD ../mem", "PWD",
		"CWD " + strings.Repeat("d", 65), "SMNT fda", "SMNT nul", "PWD", "SMNT dsk",
		"LIST " + strings.Repeat("n", 65), "NLST /dsk/" + strings.Repeat("n", 65), "STOR /nofs/x",
		// Files.
		"RNFR missing.dat", "RNTO x.dat", "DELE missing.dat", "SIZE missing.dat", "MDTM missing.dat", "RETR missing.dat", "DELE", "SIZE",
		"RETR /nofs/x", "RETR /dsk/a/b", "RETR /dsk/" + strings.Repeat("n", 65),
		"REST", "REST x", "REST -1", "REST 0", "REST 10", "REST 0",
		"XCRC missing.dat", `XCRC "unterminated`,
		// SITE errors.
		"SITE", "SITE BOGUS", "SITE DIRECT", "SITE DIRECT MAYBE", "SITE REPLY X", "SITE IMMEDIATE",
		"SITE KEEPALIVE 1", "SITE RELOAD yes", "SITE COMPATIBLE", "SITE SYSTMODE VMS",
		"SITE CHECK", "SITE CHECK BOGUS ON", "SITE CHECK CRC MAYBE",
		// Idle ABOR and the connection still answers.
		"ABOR", "NOOP",
		// EPSV ALL: then only EPSV (RFC 2428 §4).
		"EPSV ALL", "PASV", "PORT 127,0,0,1,4,0", "EPRT |1|127.0.0.1|5000|", "EPSV",
		"QUIT", stepEOF,
	}},
	{name: "bounce", steps: []string{
		// RFC 2577 §3: no other address, no privileged port, refused at
		// PORT time.
		stepLogin,
		"PORT 127,0,0,2,19,136", "PORT 10,1,2,3,19,136", "PORT 127,0,0,1,0,25", "PORT 127,0,0,1,3,255",
		"EPRT |1|127.0.0.2|5000|", "EPRT |1|127.0.0.1|25|", "EPRT |1|127.0.0.1|1023|", "EPRT |2|::1|5000|",
		"PORT 127,0,0,1,4,0", "EPRT |1|127.0.0.1|1024|",
		"QUIT", stepEOF,
	}},
	{name: "site", setup: func(t *testing.T, e *tEnv) {
		writeHost(t, e.dsk, "CONFIG.CFG", []byte("cfg"))
		writeHost(t, e.dsk, "notes.txt", []byte("not an image"))
		writeHost(t, e.dsk, "long.txt", bytes.Repeat([]byte("longer than an image header, still not an image\n"), 100))
	}, steps: []string{
		stepLogin,
		"SITE HELP", "STAT",
		"SITE DIRECT ON", "SITE DIRECT OFF", "SITE REPLY ON", "SITE REPLY OFF", "SITE IMMEDIATE OFF",
		"SITE IMMEDIATE ON", "SITE KEEPALIVE ON", "SITE KEEPALIVE OFF", "SITE RELOAD ON", "SITE RELOAD OFF",
		"SITE COMPATIBLE ON", "SITE COMPATIBLE OFF", "site direct on", "STAT", "SITE DIRECT OFF",
		"SITE CHECK CRC OFF", "SITE CHECK ALL ON", "STAT", "SITE CHECK NONE ON", "SITE CHECK HW SUPPORTED ON", "STAT",
		"SITE SYSTMODE MSDOS", "SYST", "SITE SYSTMODE UNIX", "SYST",
		"SITE STATBUFFER", "SITE CLEARBUFFER", "SITE SAVEBUFFER", "SITE STOREDEVICE",
		"CWD /dsk", "SITE STOREDEVICE", "SITE SAVEBUFFER", "SITE BACKUP", "SITE COHERENCE",
		"SITE GETAPPNAME", "SITE GETCFGNAME", "SITE GETBIOSVER", "SITE GETFILEVER notes.txt", "SITE GETFILEVER long.txt",
		"SITE GETFILEVER missing.bin", "SITE GETHDWLVL", "SITE LISTFIRMWARES", "SITE SYSTID", "SITE SAVESLAVES",
		"SITE WHO", "SITE STATS", "SITE DISKFREE", "SITE DISKFREE mem", "CWD /", "SITE DISKFREE",
		"QUIT", stepEOF,
	}},
	{name: "guest", steps: []string{
		"USER guest", "PASS " + testPassword,
		"SITE DIRECT ON", "SITE HELP", "DELE /dsk/x", "RNFR /dsk/x", "STOR /dsk/x", "PWD", "SYST", "NOOP",
		"QUIT", stepEOF,
	}},
}

// TestGolden runs each script on a fresh server with the raw client and
// compares the normalised transcript with testdata/<name>.golden.
func TestGolden(t *testing.T) {
	for _, sc := range goldenScripts {
		t.Run(sc.name, func(t *testing.T) {
			e := newTestEnv(t, sc.opts)
			if sc.setup != nil {
				sc.setup(t, e)
			}
			var rec []string
			c := e.dialRaw(t)
			c.rec = &rec
			c.record("# connect")
			c.read()
			for _, step := range sc.steps {
				switch step {
				case stepEOF:
					c.wantEOF("end of script")
					c.record("< (closed)")
				case stepLogin:
					c.cmd("USER root")
					c.cmd("PASS " + testPassword)
				default:
					c.cmd(step)
				}
			}
			got := normalize(rec)
			path := filepath.Join("testdata", sc.name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("transcript differs from %s (-want +got):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// normalizers replace the variable parts of replies: ports, addresses,
// times, free space and counters.
var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\(127,0,0,1,\d+,\d+\)`), "(127,0,0,1,p1,p2)"},
	{regexp.MustCompile(`\(\|\|\|\d+\|\)`), "(|||port|)"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:port"},
	{regexp.MustCompile(`^< 213 \d{14}$`), "< 213 YYYYMMDDHHMMSS"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "TIME"},
	{regexp.MustCompile(`\d+ bytes free`), "N bytes free"},
	{regexp.MustCompile(`MAX-REQ-BUSY \d+-\d+-\d+`), "MAX-REQ-BUSY max-req-busy"},
}

func normalize(rec []string) string {
	var b strings.Builder
	for _, l := range rec {
		for _, n := range normalizers {
			l = n.re.ReplaceAllString(l, n.repl)
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f || r == unicode.ReplacementChar }) {
			l = l[:2] + strconv.Quote(l[2:])
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// lineDiff shows the lines that differ, with their numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "%4d - %s\n%4d + %s\n", i+1, wl, i+1, gl)
		}
	}
	return b.String()
}

// TestRepliesNeverEchoFirst: no reply line starts with text the client
// sent (issue 4, security). Each command carries a marker; a reply line
// may contain it only after the code and the server's own fixed text.
func TestRepliesNeverEchoFirst(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	const marker = "ZQXJ"
	c := e.login(t, "root")
	for _, line := range []string{
		marker, marker + " x", "USER " + marker, "HELP " + marker, "CWD " + marker, "RETR " + marker,
		"SIZE " + marker, "SITE " + marker, "SITE CHECK " + marker + " ON", "SITE CHECK CRC " + marker,
		"SITE GETFILEVER " + marker, "TYPE " + marker, "MODE " + marker, "EPRT " + marker, "PORT " + marker,
		"XCRC \"" + marker + "\"", "STAT " + marker, "SMNT " + marker, "ACCT " + marker, "OPTS " + marker,
	} {
		r := c.cmd(line)
		for _, l := range r.lines {
			if strings.HasPrefix(l, marker) || len(l) > 4 && strings.HasPrefix(l[4:], marker) ||
				strings.HasPrefix(strings.TrimLeft(l, " "), marker) {
				t.Errorf("%s: reply line %q starts with the client's text", line, l)
			}
		}
	}
}
