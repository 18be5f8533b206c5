package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Exact FTP behaviour of the upload transaction with real clients
// (DESIGN §3, §6; docs/ftp.md §7, §9): staged files belong to the user,
// the manual's login–STOR–SAVEBUFFER sequence, REST and APPE on any name,
// a bad image discarded by the server, and uploads cut by a killed client.

// wantHostFile checks that DATA/dsk/name holds exactly data.
func wantHostFile(t *testing.T, s *server, name string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(s.data, "dsk", name))
	if err != nil {
		t.Errorf("DATA/dsk/%s: %v; want the %d bytes sent", name, err, len(data))
		return
	}
	if !bytes.Equal(got, data) {
		t.Errorf("DATA/dsk/%s: got %d bytes (differing), want the %d bytes sent", name, len(got), len(data))
	}
}

// wantNoHostFile checks that DATA/dsk/name does not exist.
func wantNoHostFile(t *testing.T, s *server, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(s.data, "dsk", name)); !os.IsNotExist(err) {
		t.Errorf("DATA/dsk/%s: got stat error %v, want no such file", name, err)
	}
}

// TestExactFTPSaveBufferOtherConnection: a staged file belongs to its
// user. STOR on one ftplib connection, SITE SAVEBUFFER on a second
// connection of the same user commits it; another supervisor and a guest
// see no buffer of theirs and cannot commit it.
func TestExactFTPSaveBufferOtherConnection(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	s := newFTPServer(t, "")
	pw := s.withFTPUsers(t, map[string]string{"ops": "supervisor", "visitor": "guest"})
	dir := t.TempDir()
	data := randomBytes(300_001, 21)
	file := writeFile(t, dir, "two.dat", data)

	got := s.ftplib(t, dir, []ftplibStep{
		loginStep("a", "root", s.password),
		storStep("a", "STOR two.dat", file),
		loginStep("b", "root", s.password),
		cmdStep("b", "SITE STATBUFFER"),
		loginStep("o", "ops", pw["ops"]),
		cmdStep("o", "SITE STATBUFFER"),
		cmdStep("o", "SITE SAVEBUFFER"),
		cmdStep("o", "SITE CLEARBUFFER"),
		loginStep("g", "visitor", pw["visitor"]),
		cmdStep("g", "SITE STATBUFFER"),
		cmdStep("g", "SITE SAVEBUFFER"),
		cmdStep("b", "SITE SAVEBUFFER"),
		cmdStep("b", "SITE STATBUFFER"),
		cmdStep("a", "SITE STATBUFFER"),
		quitStep("g"), quitStep("o"), quitStep("b"), quitStep("a"),
	})
	var want []string
	want = append(want, loginLines("a", "root")...)
	want = append(want, storLines("a", "STOR two.dat", prelimFile, stored("STOR", len(data)))...)
	want = append(want, loginLines("b", "root")...)
	want = append(want,
		"b> SITE STATBUFFER",
		`b< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-300001 filename: "two.dat".`)
	want = append(want, loginLines("o", "ops")...)
	want = append(want,
		"o> SITE STATBUFFER",
		`o< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-300001 filename: "".`,
		"o> SITE SAVEBUFFER",
		"o< 503 No Temporal buffer present.",
		"o> SITE CLEARBUFFER",
		"o< 503 No Temporal buffer present.")
	want = append(want, loginLines("g", "visitor")...)
	want = append(want,
		"g> SITE STATBUFFER",
		`g< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-300001 filename: "".`,
		"g> SITE SAVEBUFFER",
		"g< 503 No Temporal buffer present.",
		"b> SITE SAVEBUFFER",
		"b< 200 SAVEBUFFER completed O.K.",
		"b> SITE STATBUFFER",
		`b< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-0 filename: "".`,
		"a> SITE STATBUFFER",
		`a< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-0 filename: "".`,
		"g> QUIT", "g< 221 Goodbye.",
		"o> QUIT", "o< 221 Goodbye.",
		"b> QUIT", "b< 221 Goodbye.",
		"a> QUIT", "a< 221 Goodbye.")
	wantTranscript(t, "STOR on one connection, SAVEBUFFER on another", got, want)
	wantHostFile(t, s, "two.dat", data)
}

// TestExactFTPManualSequence: the manual's secure download (§3.5) as
// written: log in, STOR, SITE SAVEBUFFER with no argument. CHECK SYSTEM
// is on and no default file system is configured, so the login starts in
// /dsk and the commit goes there.
func TestExactFTPManualSequence(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	dir := t.TempDir()

	t.Run("raw control connection", func(t *testing.T) {
		// No TYPE I: the default is ASCII, and a text with LF line ends
		// arrives unchanged.
		cfg := []byte("set sysname dm724\nset ip 192.0.2.1\n")
		c := s.login(t)
		c.cmdLine("PWD", `257 "/dsk" is the current directory.`)
		prelim, final := c.storePrelim("STOR cfg.cfg", cfg)
		oneLine(t, "STOR cfg.cfg (preliminary)", prelim, prelimFile)
		oneLine(t, "STOR cfg.cfg", final, stored("STOR", len(cfg)))
		wantNoHostFile(t, s, "cfg.cfg")
		c.cmdLine("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
		wantHostFile(t, s, "cfg.cfg", cfg)
		c.cmdLine("QUIT", "221 Goodbye.")
	})

	t.Run("ftplib", func(t *testing.T) {
		requireTool(t, "python3")
		cfg := randomBytes(4097, 31)
		file := writeFile(t, dir, "cfg.cfg", cfg)
		got := s.ftplib(t, dir, []ftplibStep{
			loginStep("a", "root", s.password),
			storStep("a", "STOR cfg.cfg", file),
			cmdStep("a", "SITE SAVEBUFFER"),
			quitStep("a"),
		})
		want := append(loginLines("a", "root"), storLines("a", "STOR cfg.cfg", prelimFile, stored("STOR", len(cfg)))...)
		want = append(want, "a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.", "a> QUIT", "a< 221 Goodbye.")
		wantTranscript(t, "login, STOR, SITE SAVEBUFFER", got, want)
		wantHostFile(t, s, "cfg.cfg", cfg)
	})
}

// TestExactFTPRestAppe: REST + STOR and APPE work on any name (docs/ftp.md
// §7): REST 0 + STOR of a name not staged is a plain STOR; REST n > 0 of
// a missing name is a seek error (not "busy"), and the name is free
// afterwards; REST n + STOR of a staged file replaces it from n on; APPE
// appends to a staged file, and to a name not staged it is a STOR.
func TestExactFTPRestAppe(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	a, b, d := randomBytes(100_000, 41), randomBytes(30_000, 42), randomBytes(5_000, 43)
	fa, fb, fd := writeFile(t, dir, "a", a), writeFile(t, dir, "b", b), writeFile(t, dir, "d", d)
	rest := func(n int64) *int64 { return &n }
	restStor := func(line, file string, n int64) ftplibStep {
		st := storStep("a", line, file)
		st.Rest = rest(n)
		return st
	}

	got := s.ftplib(t, dir, []ftplibStep{
		loginStep("a", "root", s.password),
		// 1. REST 0 + STOR of a name not staged.
		restStor("STOR rest0.dat", fa, 0),
		cmdStep("a", "SIZE /mem/rest0.dat"),
		cmdStep("a", "SITE SAVEBUFFER"),
		// 2. REST n > 0 + STOR of a missing name.
		restStor("STOR missing.dat", fb, 1000),
		cmdStep("a", "SIZE /mem/missing.dat"),
		cmdStep("a", "SITE STATBUFFER"),
		storStep("a", "STOR missing.dat", fb),
		cmdStep("a", "SITE CLEARBUFFER"),
		// 3. REST n + STOR of a staged file.
		storStep("a", "STOR keep.dat", fa),
		restStor("STOR keep.dat", fd, 60_000),
		cmdStep("a", "SIZE /mem/keep.dat"),
		cmdStep("a", "SITE SAVEBUFFER"),
		// 4. APPE onto a staged file.
		storStep("a", "STOR app.dat", fa),
		storStep("a", "APPE app.dat", fb),
		cmdStep("a", "SIZE /mem/app.dat"),
		cmdStep("a", "SITE SAVEBUFFER"),
		// 5. APPE of a name not staged.
		storStep("a", "APPE fresh.dat", fd),
		cmdStep("a", "SITE SAVEBUFFER"),
		quitStep("a"),
	})
	want := loginLines("a", "root")
	restLines := func(line string, n int64, reply string) []string {
		return []string{"a> TYPE I", "a< 200 TYPE is set to IMAGE.", "a> PASV", "a< 227 Entering Passive Mode. (127,0,0,1,<p1>,<p2>)",
			fmt.Sprintf("a> REST %d", n), "a< " + reply, "a> " + line}
	}
	// 1.
	want = append(want, restLines("STOR rest0.dat", 0, "200 Restore offset set to 0.")...)
	want = append(want, "a< "+prelimFile, "a< "+stored("STOR", len(a)),
		"a> SIZE /mem/rest0.dat", "a< 213 100000",
		"a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.")
	// 2.
	want = append(want, restLines("STOR missing.dat", 1000, "350 Restore offset set to 1000, use RETR, STOR or APPE to init transfer.")...)
	want = append(want, "a< 554 Unable to seek in file.", "a! error_perm",
		"a> SIZE /mem/missing.dat", "a< 550 File not found.",
		"a> SITE STATBUFFER", `a< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-0 filename: "".`)
	want = append(want, storLines("a", "STOR missing.dat", prelimFile, stored("STOR", len(b)))...)
	want = append(want, "a> SITE CLEARBUFFER", "a< 211 Temporal buffer cleared and deallocated.")
	// 3.
	want = append(want, storLines("a", "STOR keep.dat", prelimFile, stored("STOR", len(a)))...)
	want = append(want, restLines("STOR keep.dat", 60_000, "350 Restore offset set to 60000, use RETR, STOR or APPE to init transfer.")...)
	want = append(want, "a< "+prelimFile, "a< "+stored("STOR", len(d)),
		"a> SIZE /mem/keep.dat", "a< 213 65000",
		"a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.")
	// 4.
	want = append(want, storLines("a", "STOR app.dat", prelimFile, stored("STOR", len(a)))...)
	want = append(want, storLines("a", "APPE app.dat", prelimFile, stored("APPE", len(b)))...)
	want = append(want, "a> SIZE /mem/app.dat", "a< 213 130000",
		"a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.")
	// 5.
	want = append(want, storLines("a", "APPE fresh.dat", prelimFile, stored("APPE", len(d)))...)
	want = append(want, "a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.",
		"a> QUIT", "a< 221 Goodbye.")
	wantTranscript(t, "REST and APPE", got, want)

	wantHostFile(t, s, "rest0.dat", a)
	wantNoHostFile(t, s, "missing.dat")
	wantHostFile(t, s, "keep.dat", append(append([]byte(nil), a[:60_000]...), d...))
	wantHostFile(t, s, "app.dat", append(append([]byte(nil), a...), b...))
	wantHostFile(t, s, "fresh.dat", d)
}

// TestExactFTPCurlThenSaveBuffer is the README's walkthrough: `curl -T
// file ftp://host/dsk/` stages the file (secure mode), and a separate
// ftplib session of the same user commits it with SITE SAVEBUFFER. The
// same with a URL of the login directory (no CWD: the login is in /dsk).
func TestExactFTPCurlThenSaveBuffer(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	requireTool(t, "python3")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	for i, tt := range []struct {
		name, file, url string
		want            []string // in curl's trace
	}{
		{"README ftp://host/dsk/", "walk.cfg", "/dsk/", []string{"> CWD dsk\n< 250 CWD command successful."}},
		{"login directory ftp://host/", "login.cfg", "/", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := randomBytes(12_345+i, 51+uint64(i))
			writeFile(t, dir, tt.file, cfg)
			up := s.curl(t, dir, "-T", tt.file, "ftp://"+s.ftpAddr()+tt.url)
			tr := trace(up, s.password)
			if up.exit != 0 {
				t.Fatalf("curl -T %s ftp://...%s: exit %d, want 0\n%s", tt.file, tt.url, up.exit, tr)
			}
			for _, w := range append(tt.want, "> STOR "+tt.file, "< "+stored("STOR", len(cfg))) {
				if !strings.Contains(tr, w) {
					t.Errorf("curl trace: got no %q, want it\n%s", w, tr)
				}
			}
			wantNoHostFile(t, s, tt.file)

			got := s.ftplib(t, dir, []ftplibStep{
				loginStep("a", "root", s.password),
				cmdStep("a", "PWD"),
				cmdStep("a", "SITE STATBUFFER"),
				cmdStep("a", "SITE SAVEBUFFER"),
				quitStep("a"),
			})
			want := append(loginLines("a", "root"),
				"a> PWD", `a< 257 "/dsk" is the current directory.`,
				"a> SITE STATBUFFER", fmt.Sprintf(`a< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-%d filename: "%s".`, len(cfg), tt.file),
				"a> SITE SAVEBUFFER", "a< 200 SAVEBUFFER completed O.K.",
				"a> QUIT", "a< 221 Goodbye.")
			wantTranscript(t, "ftplib SAVEBUFFER after curl -T", got, want)
			wantHostFile(t, s, tt.file, cfg)
		})
	}
}

// TestExactFTPBadImageDiscarded: a known file (APP.BIN) that is not an
// image, STORed in secure mode, is refused when it arrives (manual
// §5.1.5–5.1.6) and removed by the server: the audit log has a "discard"
// by the server, not a "remove" in the user's name.
func TestExactFTPBadImageDiscarded(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	file := writeFile(t, dir, "APP.BIN", randomBytes(1024, 61))

	got := s.ftplib(t, dir, []ftplibStep{
		loginStep("a", "root", s.password),
		storStep("a", "STOR APP.BIN", file),
		cmdStep("a", "SITE STATBUFFER"),
		cmdStep("a", "SITE SAVEBUFFER"),
		cmdStep("a", "SIZE /mem/APP.BIN"),
		quitStep("a"),
	})
	want := append(loginLines("a", "root"), storLines("a", "STOR APP.BIN", prelimChecked, "503 Unknown file type checked.")...)
	want = append(want, "a! error_perm",
		"a> SITE STATBUFFER", `a< 211 Buffer status: MAX-REQ-BUSY 268435456-<req>-0 filename: "".`,
		"a> SITE SAVEBUFFER", "a< 503 No Temporal buffer present.",
		"a> SIZE /mem/APP.BIN", "a< 550 File not found.",
		"a> QUIT", "a< 221 Goodbye.")
	wantTranscript(t, "STOR of a bad APP.BIN", got, want)
	wantNoHostFile(t, s, "APP.BIN")

	e, ok := s.waitEvent(5*time.Second, "discard", map[string]string{"path": "/mem/APP.BIN"})
	if !ok {
		t.Fatal(`audit log: got no "discard" event for /mem/APP.BIN, want one`)
	}
	if e.str("by") != "server" || e.str("owner") != "root" || !strings.Contains(e.str("@module"), "audit") {
		t.Errorf("discard event: got %v, want by=server owner=root from the audit logger", e)
	}
	for _, e := range s.proc.log.events() {
		if e.str("@message") == "remove" && e.str("path") == "/mem/APP.BIN" {
			t.Errorf("audit log: got a \"remove\" event %v, want only the server's \"discard\"", e)
		}
	}
}

// The killed-upload runs: a 64 MiB upload throttled by curl --limit-rate
// cannot end in less than cutSize/cutRate (2 s); curl is killed as soon
// as the server holds cutSeen bytes of it, whatever the machine's speed.
const (
	cutRuns = 20       // per mode
	cutSize = 64 << 20 // bytes
	cutRate = "32M"    // curl --limit-rate, bytes per second
	cutSeen = 256 << 10
)

// TestExactFTPCurlKilledDuringSTOR: curl SIGKILLed in the middle of a
// STOR (its data connection ends together with its control connection)
// never has its upload committed (DESIGN §3), in DIRECT ON mode and in
// secure mode, with and without an old file of the same name (which
// stays byte-identical). In secure mode the cut upload stays in /mem,
// marked incomplete, SAVEBUFFER refuses it, and a resume (curl -C -,
// ftplib REST n + STOR, raw APPE) completes it for a byte-exact commit.
// The URLs name the login directory (/dsk) and need no CWD.
func TestExactFTPCurlKilledDuringSTOR(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	requireTool(t, "python3")
	dir := t.TempDir()
	big := randomBytes(cutSize, 71)
	writeFile(t, dir, "big.dat", big)
	sum := sha256.Sum256(big)
	// Killed sessions may be counted a moment after their kill.
	const limits = "[limits]\nmax_sessions_per_ip = 16\n"

	t.Run("direct on", func(t *testing.T) {
		t.Parallel()
		s := newFTPServer(t, limits+"[ftp]\ndirect = true\n")
		mon := s.login(t)
		for i := range cutRuns {
			name := fmt.Sprintf("cut-direct-%02d.dat", i)
			t.Run(runName(i), func(t *testing.T) {
				mon.t = t
				dsk := filepath.Join(s.data, "dsk")
				old := killCurlDuringSTOR(t, s, dir, name, i, func(c *bgCurl) bool {
					return hostTemp(dsk) >= cutSeen
				})
				if e := s.waitUpload(t, "/dsk/"+name, 0); !strings.HasPrefix(e.str("result"), "cut") {
					t.Errorf("audit transfer of the killed upload: got result %q, want a cut", e.str("result"))
				}
				wantOld(t, s, name, old)
				if tmp := tempFiles(t, dsk); len(tmp) != 0 {
					t.Errorf("DATA/dsk after the cut: got temporary files %v, want none", tmp)
				}
				if st := mon.statBuffer(); st.name != "" {
					t.Errorf("SITE STATBUFFER after a cut DIRECT ON upload: got filename %q, want \"\" (nothing staged)", st.name)
				}
				// The name is free: a complete upload replaces the file.
				up := s.curl(t, dir, "-T", "big.dat", "ftp://"+s.ftpAddr()+"/"+name)
				if tr := trace(up, s.password); up.exit != 0 || !strings.Contains(tr, "< "+stored("STOR", cutSize)) {
					t.Fatalf("curl -T after the cut: exit %d, want 0 and %q\n%s", up.exit, stored("STOR", cutSize), tr)
				}
				if got := fileSHA256(t, filepath.Join(dsk, name)); got != sum {
					t.Errorf("DATA/dsk/%s after a complete upload: got sha256 %x, want %x", name, got, sum)
				}
				os.Remove(filepath.Join(dsk, name))
			})
		}
	})

	t.Run("secure", func(t *testing.T) {
		t.Parallel()
		s := newFTPServer(t, limits)
		mon := s.login(t)
		mon.cmdExpect("TYPE I", 200)
		for i := range cutRuns {
			name := fmt.Sprintf("cut-secure-%02d.dat", i)
			t.Run(runName(i), func(t *testing.T) {
				mon.t = t
				dsk := filepath.Join(s.data, "dsk")
				old := killCurlDuringSTOR(t, s, dir, name, i, func(c *bgCurl) bool {
					st := mon.statBuffer()
					return st.name == name && st.busy >= cutSeen
				})
				if e := s.waitUpload(t, "/mem/"+name, 0); e.str("result") != "cut, kept incomplete" {
					t.Errorf("audit transfer of the killed upload: got result %q, want %q", e.str("result"), "cut, kept incomplete")
				}
				wantOld(t, s, name, old)
				if st := mon.statBuffer(); st.name != name+" (incomplete)" {
					t.Errorf("SITE STATBUFFER after the cut: got filename %q, want %q", st.name, name+" (incomplete)")
				}
				mon.cmdLine("SITE SAVEBUFFER", "503 Temporal buffer is incomplete.")
				wantOld(t, s, name, old)
				var n int
				if _, err := fmt.Sscanf(mon.cmdExpect("SIZE /mem/"+name, 213), "213 %d", &n); err != nil || n <= 0 || n >= cutSize {
					t.Fatalf("SIZE /mem/%s after the cut: got %d (%v), want 0 < n < %d", name, n, err, cutSize)
				}
				resumeCut(t, s, mon, dir, name, i, n, big[n:])
				if st := mon.statBuffer(); st.name != name {
					t.Errorf("SITE STATBUFFER after the resume: got filename %q, want %q", st.name, name)
				}
				mon.cmdLine("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
				if got := fileSHA256(t, filepath.Join(dsk, name)); got != sum {
					t.Errorf("DATA/dsk/%s after resume and SAVEBUFFER: got sha256 %x, want %x", name, got, sum)
				}
				if st := mon.statBuffer(); st.name != "" || st.busy != 0 {
					t.Errorf("SITE STATBUFFER after SAVEBUFFER: got %+v, want nothing staged (CHECK DELETE moves)", st)
				}
				os.Remove(filepath.Join(dsk, name))
			})
		}
	})
}

// runName names killed-upload run i: even runs replace an old file.
func runName(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("run %02d over an old file", i)
	}
	return fmt.Sprintf("run %02d new file", i)
}

// killCurlDuringSTOR writes an old DATA/dsk/name on even runs (returned;
// nil otherwise), starts a throttled curl -T of dir/big.dat as name in
// the login directory, waits until arrived says the server has some of
// it, and SIGKILLs curl.
func killCurlDuringSTOR(t *testing.T, s *server, dir, name string, i int, arrived func(*bgCurl) bool) []byte {
	t.Helper()
	var old []byte
	if i%2 == 0 {
		old = randomBytes(5000+i, 100+uint64(i))
		writeFile(t, filepath.Join(s.data, "dsk"), name, old)
	}
	c := s.startCurl(t, dir, "--limit-rate", cutRate, "-T", "big.dat", "ftp://"+s.ftpAddr()+"/"+name)
	if !poll(toolTimeout, func() bool { return c.exited() || arrived(c) }) {
		t.Fatalf("the server got no %d bytes of the upload within %v\n%s", cutSeen, toolTimeout, trace(result{stderr: c.stderr.String()}, s.password))
	}
	if !c.kill() {
		t.Fatalf("curl ended before it was killed (%v), want it killed mid-transfer\n%s", c.err, trace(result{stderr: c.stderr.String()}, s.password))
	}
	return old
}

// wantOld checks that DATA/dsk/name is the old file, or absent if there
// was none.
func wantOld(t *testing.T, s *server, name string, old []byte) {
	t.Helper()
	if old == nil {
		wantNoHostFile(t, s, name)
		return
	}
	wantHostFile(t, s, name, old)
}

// resumeCut completes the cut staged file /mem/name, whose first n bytes
// arrived, with rest: curl -C - (SIZE, then APPE), ftplib REST n + STOR,
// or APPE on the raw connection, by run.
func resumeCut(t *testing.T, s *server, mon *ctl, dir, name string, i, n int, rest []byte) {
	t.Helper()
	switch i % 3 {
	case 0:
		up := s.curl(t, dir, "-C", "-", "-T", "big.dat", "ftp://"+s.ftpAddr()+"//mem/"+name)
		tr := trace(up, s.password)
		for _, w := range []string{fmt.Sprintf("> SIZE %s\n< 213 %d\n", name, n), "> APPE " + name, "< " + stored("APPE", len(rest))} {
			if up.exit != 0 || !strings.Contains(tr, w) {
				t.Fatalf("curl -C - resume: exit %d, trace without %q; want exit 0 and it\n%s", up.exit, w, tr)
			}
		}
	case 1:
		st := storStep("a", "STOR "+name, filepath.Join(dir, "big.dat"))
		st.Offset, st.Rest = int64(n), new(int64)
		*st.Rest = int64(n)
		got := s.ftplib(t, dir, []ftplibStep{loginStep("a", "root", s.password), st, quitStep("a")})
		want := append(loginLines("a", "root"),
			"a> TYPE I", "a< 200 TYPE is set to IMAGE.", "a> PASV", "a< 227 Entering Passive Mode. (127,0,0,1,<p1>,<p2>)",
			fmt.Sprintf("a> REST %d", n), fmt.Sprintf("a< 350 Restore offset set to %d, use RETR, STOR or APPE to init transfer.", n),
			"a> STOR "+name, "a< "+prelimFile, "a< "+stored("STOR", len(rest)), "a> QUIT", "a< 221 Goodbye.")
		wantTranscript(t, "ftplib REST + STOR resume", got, want)
	default:
		prelim, final := mon.storePrelim("APPE "+name, rest)
		oneLine(t, "APPE resume (preliminary)", prelim, prelimFile)
		oneLine(t, "APPE resume", final, stored("APPE", len(rest)))
	}
}
