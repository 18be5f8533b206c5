package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// modernFile is a file the modern-client test puts on /dsk with a known
// size and a known time.
type modernFile struct {
	name string
	size int
	mt   time.Time
}

// TestModernFTPClients (issue 10 item 10): files uploaded over FTP and
// SFTP, their times set with MFMT (jlaffaye/ftp's SetTime) and with SFTP's
// SETSTAT (pkg/sftp Chtimes), are listed with their exact sizes and those
// times by MLSD and MLST (jlaffaye/ftp, raw), lftp with ftp:use-mlsd, and
// rclone lsl over FTP; curl's NLST and LIST give the exact names (and
// LIST the sizes).
func TestModernFTPClients(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	// Root's key too, for the SFTP client.
	s.stop()
	if _, stderr, err := runSluice(t, "user", "add", "root", "--data", s.data, "--level", "supervisor",
		"--authorized-key", clientPub); err != nil {
		t.Fatalf("sluice user add: %v\n%s", err, stderr)
	}
	s.start()
	dir := t.TempDir()
	files := []modernFile{
		{"ftp.dat", 123_457, time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"sftp.dat", 4097, time.Date(2003, 2, 1, 12, 34, 56, 0, time.UTC)},
		{"empty.dat", 0, time.Date(2024, 11, 30, 23, 59, 59, 0, time.UTC)},
	}

	c := s.ftpClient(t)
	if !c.IsTimePreciseInList() || !c.IsSetTimeSupported() {
		t.Fatalf("jlaffaye/ftp sees no MLST (%v) or no MFMT (%v) in FEAT", c.IsTimePreciseInList(), c.IsSetTimeSupported())
	}
	// Over FTP: STOR (secure mode: into /mem), commit with RNFR/RNTO,
	// then MFMT on the committed file.
	f := files[0]
	if err := c.Stor("/dsk/"+f.name, bytes.NewReader(randomBytes(f.size, 61))); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if err := c.Rename("/mem/"+f.name, "/dsk/"+f.name); err != nil {
		t.Fatalf("RNFR /mem, RNTO /dsk: %v", err)
	}
	if err := c.SetTime("/dsk/"+f.name, f.mt); err != nil {
		t.Fatalf("MFMT: %v", err)
	}
	// Over SFTP: upload and SETSTAT of the times; the empty file's time
	// with MFMT again.
	sc := s.sftpClient(t)
	for _, f := range files[1:] {
		if err := upload(sc, "/dsk/"+f.name, randomBytes(f.size, 62)); err != nil {
			t.Fatalf("SFTP upload %s: %v", f.name, err)
		}
	}
	if err := sc.Chtimes("/dsk/"+files[1].name, files[1].mt, files[1].mt); err != nil {
		t.Fatalf("SFTP SETSTAT times: %v", err)
	}
	if err := c.SetTime("/dsk/"+files[2].name, files[2].mt); err != nil {
		t.Fatalf("MFMT: %v", err)
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(s.data, "dsk", f.name))
		if err != nil || fi.Size() != int64(f.size) || !fi.ModTime().Equal(f.mt) {
			t.Errorf("DATA/dsk/%s: %v, %v; want %d bytes, %v", f.name, fi, err, f.size, f.mt)
		}
	}

	t.Run("jlaffaye", func(t *testing.T) {
		// List uses MLSD, GetEntry MLST.
		entries, err := c.List("/dsk")
		if err != nil {
			t.Fatalf("MLSD /dsk: %v", err)
		}
		got := map[string]*ftp.Entry{}
		for _, en := range entries {
			got[en.Name] = en
		}
		if len(got) != len(files) {
			t.Errorf("MLSD /dsk: %d entries, want %d", len(got), len(files))
		}
		for _, f := range files {
			en := got[f.name]
			if en == nil || en.Type != ftp.EntryTypeFile || en.Size != uint64(f.size) || !en.Time.Equal(f.mt) {
				t.Errorf("MLSD /dsk %s: got %+v, want a file of %d bytes, %v", f.name, en, f.size, f.mt)
			}
			en, err := c.GetEntry("/dsk/" + f.name)
			if err != nil || en.Size != uint64(f.size) || !en.Time.Equal(f.mt) {
				t.Errorf("MLST /dsk/%s: got %+v, %v", f.name, en, err)
			}
		}
	})

	t.Run("raw", func(t *testing.T) {
		k := s.login(t)
		f := files[1]
		got := k.cmd("MLST /dsk/" + f.name)
		want := []string{"250-Listing /dsk/" + f.name,
			fmt.Sprintf(" type=file;size=%d;modify=%s;perm=adfrw; /dsk/%s", f.size, f.mt.Format("20060102150405"), f.name),
			"250 End"}
		if !slices.Equal(got, want) {
			t.Errorf("MLST: got %q, want %q", got, want)
		}
		oneLine(t, "OPTS UTF8 ON", k.cmd("OPTS UTF8 ON"), "200 UTF8 set to on")
		oneLine(t, "MFMT", k.cmd("MFMT 20000101000000 /dsk/nothere.dat"), "550 File not found.")
	})

	env := []string{"TZ=UTC"}
	t.Run("lftp", func(t *testing.T) {
		bin := requireTool(t, "lftp")
		script := filepath.Join(t.TempDir(), "ls.lftp")
		if err := os.WriteFile(script, []byte("set cmd:fail-exit yes\nset net:max-retries 1\nset net:timeout 20\n"+
			"set ftp:passive-mode on\nset ftp:ssl-allow no\nset ftp:use-mlsd yes\ndebug -o "+filepath.Join(dir, "lftp.log")+" 5\n"+
			fmt.Sprintf("open -u root,%s -p %s 127.0.0.1\n", s.password, s.ftpPort())+
			"cls -l --time-style=%Y%m%d%H%M%S /dsk/\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runClient(t, dir, env, bin, "-f", script)
		if r.exit != 0 {
			t.Fatalf("lftp cls -l:\n%s", r)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "lftp.log"))
		if !regexp.MustCompile(`---> MLSD`).Match(log) {
			t.Errorf("lftp did not send MLSD:\n%s", log)
		}
		for _, f := range files {
			// "-rw-r--r--  123457 20190506070809 /dsk/ftp.dat"
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^\S+\s+%d %s /dsk/%s$`, f.size, f.mt.Format("20060102150405"),
				regexp.QuoteMeta(f.name)))
			if !re.MatchString(r.stdout) {
				t.Errorf("lftp cls -l: no line for %s with %d bytes and %v:\n%s", f.name, f.size, f.mt, r.stdout)
			}
		}
	})

	t.Run("curl", func(t *testing.T) {
		requireTool(t, "curl")
		r := s.curl(t, dir, "--list-only", "ftp://"+s.ftpAddr()+"/dsk/")
		if r.exit != 0 {
			t.Fatalf("curl --list-only:\n%s", r)
		}
		names := strings.Fields(r.stdout)
		slices.Sort(names)
		if want := []string{"empty.dat", "ftp.dat", "sftp.dat"}; !slices.Equal(names, want) {
			t.Errorf("curl --list-only: %q, want %q", names, want)
		}
		r = s.curl(t, dir, "ftp://"+s.ftpAddr()+"/dsk/")
		if r.exit != 0 {
			t.Fatalf("curl LIST:\n%s", r)
		}
		for _, f := range files {
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^-\S+(\s+\S+){3}\s+%d .* %s\r?$`, f.size, regexp.QuoteMeta(f.name)))
			if !re.MatchString(r.stdout) {
				t.Errorf("curl LIST: no line for %s with %d bytes:\n%s", f.name, f.size, r.stdout)
			}
		}
	})

	t.Run("rclone", func(t *testing.T) {
		bin := requireTool(t, "rclone")
		ob := runClient(t, dir, env, bin, "obscure", s.password)
		if ob.exit != 0 {
			t.Fatalf("rclone obscure: %v", ob)
		}
		renv := append(env, "RCLONE_CONFIG="+filepath.Join(dir, "rclone.conf"), "RCLONE_CACHE_DIR="+filepath.Join(dir, "cache"))
		r := runClient(t, dir, renv, bin, "lsl", "--ftp-host", "127.0.0.1", "--ftp-port", s.ftpPort(), "--ftp-user", "root",
			"--ftp-pass", strings.TrimSpace(ob.stdout), ":ftp:/dsk")
		if r.exit != 0 {
			t.Fatalf("rclone lsl:\n%s", r)
		}
		for _, f := range files {
			// "   123457 2019-05-06 07:08:09.000000000 ftp.dat"
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d %s\.0+ %s$`, f.size, f.mt.Format("2006-01-02 15:04:05"),
				regexp.QuoteMeta(f.name)))
			if !re.MatchString(r.stdout) {
				t.Errorf("rclone lsl: no line for %s with %d bytes and %v:\n%s", f.name, f.size, f.mt, r.stdout)
			}
		}
	})
}
