package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// The tests in this file drive real clients through the upload
// transaction (DESIGN §3, §5): resumed, appended and rewritten uploads
// must be byte-exact on the host, times must be kept, and a failed, holed
// or cut upload must never become a committed file.

// TestExactSFTPResume: OpenSSH reput/reget and lftp put -c continue an
// upload whose prefix is already on the server.
func TestExactSFTPResume(t *testing.T) {
	t.Parallel()
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	full := randomBytes(3<<20+4321, 100) // not a multiple of any request size
	prefix := full[:1<<20+77]
	writeFile(t, work, "full.dat", full)
	writeFile(t, work, "prefix.dat", prefix)

	t.Run("openssh reput into dsk", func(t *testing.T) {
		requireTool(t, "sftp")
		r := s.sftpBatch(t, work, "put prefix.dat /dsk/reput.dat\nreput full.dat /dsk/reput.dat\n")
		if r.exit != 0 {
			t.Fatalf("put prefix, reput: %v", r)
		}
		wantHostBytes(t, "reput /dsk/reput.dat", filepath.Join(dsk, "reput.dat"), full)
		s.wantResumed(t, "reput /dsk/reput.dat", "/dsk/reput.dat", len(full)-len(prefix))
	})

	t.Run("openssh reput into mem then rename", func(t *testing.T) {
		requireTool(t, "sftp")
		r := s.sftpBatch(t, work, "put prefix.dat /mem/reput.dat\nreput full.dat /mem/reput.dat\n"+
			"rename /mem/reput.dat /dsk/reput-mem.dat\n")
		if r.exit != 0 {
			t.Fatalf("put prefix to /mem, reput, rename: %v", r)
		}
		wantHostBytes(t, "reput /mem/reput.dat, rename to /dsk", filepath.Join(dsk, "reput-mem.dat"), full)
		s.wantResumed(t, "reput /mem/reput.dat", "/mem/reput.dat", len(full)-len(prefix))
	})

	t.Run("openssh reget", func(t *testing.T) {
		requireTool(t, "sftp")
		c := s.sftpClient(t)
		if err := upload(c, "/dsk/reget.dat", full); err != nil {
			t.Fatalf("upload /dsk/reget.dat: %v", err)
		}
		c.Close()
		writeFile(t, work, "reget.dat", prefix)
		r := s.sftpBatch(t, work, "reget /dsk/reget.dat reget.dat\n")
		if r.exit != 0 {
			t.Fatalf("reget: %v", r)
		}
		got, err := os.ReadFile(filepath.Join(work, "reget.dat"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, full) {
			t.Errorf("reget /dsk/reget.dat onto a %d-byte prefix: got %d bytes%s, want the %d bytes of the file",
				len(prefix), len(got), diffAt(got, full), len(full))
		}
	})

	t.Run("lftp sftp put -c", func(t *testing.T) {
		requireTool(t, "lftp")
		requireTool(t, "ssh")
		// The key authenticates; "root," gives lftp an empty password so
		// that it does not prompt.
		head := fmt.Sprintf("set sftp:auto-confirm yes\nset sftp:connect-program %q\nopen -u root, sftp://127.0.0.1:%s\n",
			opensshCommand(), s.port())
		r := s.lftp(t, work, head+"put prefix.dat -o /dsk/lftp.dat\nput -c full.dat -o /dsk/lftp.dat\n")
		if r.exit != 0 {
			t.Fatalf("lftp put, put -c: %v", r)
		}
		wantHostBytes(t, "lftp put -c /dsk/lftp.dat", filepath.Join(dsk, "lftp.dat"), full)
		s.wantResumed(t, "lftp put -c /dsk/lftp.dat", "/dsk/lftp.dat", len(full)-len(prefix))
	})
}

// TestExactSFTPAppend: APPEND and POSIX keep-the-old-bytes writes from
// paramiko and pkg/sftp.
func TestExactSFTPAppend(t *testing.T) {
	t.Parallel()
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	old := randomBytes(100_003, 200)
	more := randomBytes(70_001, 201) // more than two 32 KiB client requests

	t.Run("paramiko open a", func(t *testing.T) {
		py := requirePythonModule(t, "paramiko")
		c := s.sftpClient(t)
		if err := upload(c, "/dsk/paramiko.dat", old); err != nil {
			t.Fatalf("upload old content: %v", err)
		}
		c.Close()
		src := writeFile(t, work, "more.dat", more)
		const script = `import sys, paramiko
port, key, remote, local = sys.argv[1:]
t = paramiko.Transport(("127.0.0.1", int(port)))
t.connect(username="root", pkey=paramiko.Ed25519Key.from_private_key_file(key))
c = paramiko.SFTPClient.from_transport(t)
with open(local, "rb") as src, c.open(remote, "a") as f:
    f.write(src.read())
c.close()
t.close()
`
		r := runClient(t, work, nil, py, "-c", script, s.port(), clientKey, "/dsk/paramiko.dat", src)
		if r.exit != 0 {
			t.Fatalf("paramiko open(%q, 'a').write: %v", "/dsk/paramiko.dat", r)
		}
		wantHostBytes(t, "paramiko append", filepath.Join(dsk, "paramiko.dat"), joinBytes(old, more))
	})

	// A client without concurrent writes: with APPEND, sshd too appends
	// each WRITE where it arrives, so concurrent out-of-order requests
	// would be the client's mistake, not the server's.
	plain := func(t *testing.T) *sftp.Client {
		t.Helper()
		c, err := sftp.NewClient(s.sshClient(t))
		if err != nil {
			t.Fatalf("sftp client: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, fs := range []string{"dsk", "mem"} {
		t.Run("pkg/sftp O_APPEND in "+fs, func(t *testing.T) {
			c := s.sftpClient(t)
			p := "/" + fs + "/append.dat"
			if err := upload(c, p, old); err != nil {
				t.Fatalf("upload old content: %v", err)
			}
			f, err := plain(t).OpenFile(p, os.O_WRONLY|os.O_APPEND)
			if err != nil {
				t.Fatalf("OpenFile(%s, O_WRONLY|O_APPEND): %v", p, err)
			}
			if _, err := f.Write(more); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if fs == "mem" {
				if err := c.Rename(p, "/dsk/append-mem.dat"); err != nil {
					t.Fatalf("rename %s /dsk/append-mem.dat: %v", p, err)
				}
				p = "/dsk/append-mem.dat"
			}
			wantHostBytes(t, "O_APPEND write", filepath.Join(s.data, p), joinBytes(old, more))
		})
	}

	t.Run("pkg/sftp O_WRONLY keeps the old tail", func(t *testing.T) {
		c := s.sftpClient(t)
		if err := upload(c, "/dsk/keep.dat", old); err != nil {
			t.Fatalf("upload old content: %v", err)
		}
		short := randomBytes(40_000, 202)
		f, err := plain(t).OpenFile("/dsk/keep.dat", os.O_WRONLY)
		if err != nil {
			t.Fatalf("OpenFile(O_WRONLY): %v", err)
		}
		if _, err := f.Write(short); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		wantHostBytes(t, "O_WRONLY rewrite of the first bytes", filepath.Join(dsk, "keep.dat"), joinBytes(short, old[len(short):]))
	})
}

// TestExactSFTPTimes: scp -p and sftp put -p succeed without an error
// message and keep the modification time, also through a commit.
func TestExactSFTPTimes(t *testing.T) {
	t.Parallel()
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	local := writeFile(t, work, "old.dat", randomBytes(300_001, 300))
	if err := os.Chmod(local, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Chtimes(local, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(local)
	check := func(t *testing.T, what string, r result, host string) {
		t.Helper()
		if r.exit != 0 {
			t.Fatalf("%s: %v", what, r)
		}
		if e := clientErrors(r.stderr); e != "" {
			t.Errorf("%s: got error output %q, want none", what, e)
		}
		wantHostBytes(t, what, filepath.Join(dsk, host), want)
		fi, err := os.Stat(filepath.Join(dsk, host))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.ModTime().Unix(); got != mtime.Unix() {
			t.Errorf("%s: DATA/dsk/%s mtime: got %v, want %v", what, host, fi.ModTime().UTC(), mtime)
		}
	}

	t.Run("scp -p", func(t *testing.T) {
		scp := requireTool(t, "scp")
		args := append(opensshOptions(), "-P", s.port(), "-p", "old.dat", "root@127.0.0.1:/dsk/scp.dat")
		check(t, "scp -p", runClient(t, work, nil, scp, args...), "scp.dat")
	})
	t.Run("sftp put -p", func(t *testing.T) {
		requireTool(t, "sftp")
		check(t, "sftp put -p", s.sftpBatch(t, work, "put -p old.dat /dsk/put.dat\n"), "put.dat")
	})
	t.Run("sftp put -p into mem then rename", func(t *testing.T) {
		requireTool(t, "sftp")
		r := s.sftpBatch(t, work, "put -p old.dat /mem/staged.dat\nrename /mem/staged.dat /dsk/staged.dat\n")
		check(t, "sftp put -p /mem/staged.dat, rename to /dsk", r, "staged.dat")
	})
}

// TestExactSFTPRclone: rclone's sftp backend with default flags copies
// a directory exactly, and a second copy uploads nothing.
func TestExactSFTPRclone(t *testing.T) {
	t.Parallel()
	rclone := requireTool(t, "rclone")
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	src := filepath.Join(work, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"empty.dat": {},
		"small.dat": randomBytes(1000, 400),
		"big.dat":   randomBytes(5<<20+3, 401),
	}
	for name, data := range files {
		writeFile(t, src, name, data)
	}
	old := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "small.dat"), old, old); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"RCLONE_CONFIG=" + filepath.Join(work, "rclone.conf"), // absent: no user configuration
		"RCLONE_CONFIG_S_TYPE=sftp",
		"RCLONE_CONFIG_S_HOST=127.0.0.1",
		"RCLONE_CONFIG_S_PORT=" + s.port(),
		"RCLONE_CONFIG_S_USER=root",
		"RCLONE_CONFIG_S_KEY_FILE=" + clientKey,
		"RCLONE_CACHE_DIR=" + filepath.Join(work, "cache"),
	}
	copied := regexp.MustCompile(`(?m)^.*: Copied \(.*$`)

	r := runClient(t, work, env, rclone, "copy", "-v", "src", "s:/dsk")
	if r.exit != 0 {
		t.Fatalf("rclone copy src s:/dsk: %v", r)
	}
	if got := len(copied.FindAllString(r.stderr, -1)); got != len(files) {
		t.Errorf("rclone copy: got %d files copied, want %d\n%s", got, len(files), r.stderr)
	}
	inodes := map[string]uint64{}
	for name, data := range files {
		p := filepath.Join(dsk, name)
		wantHostBytes(t, "rclone copy", p, data)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		inodes[name] = fi.Sys().(*syscall.Stat_t).Ino
		lfi, err := os.Stat(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.ModTime().Unix(), lfi.ModTime().Unix(); got != want {
			t.Errorf("rclone copy: DATA/dsk/%s mtime: got %v, want %v (the source's)", name, fi.ModTime().UTC(), lfi.ModTime().UTC())
		}
	}

	r = runClient(t, work, env, rclone, "copy", "-v", "src", "s:/dsk")
	if r.exit != 0 {
		t.Fatalf("second rclone copy: %v", r)
	}
	if got := copied.FindAllString(r.stderr, -1); len(got) != 0 {
		t.Errorf("second rclone copy: got %q, want nothing copied", got)
	}
	for name := range files {
		fi, err := os.Stat(filepath.Join(dsk, name))
		if err != nil {
			t.Fatal(err)
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; ino != inodes[name] {
			t.Errorf("second rclone copy: DATA/dsk/%s was replaced (inode %d, was %d), want it untouched", name, ino, inodes[name])
		}
	}
}

// TestExactSFTPSSHFS: file operations through an sshfs mount (which
// creates files through FSTAT and appends with APPEND handles).
func TestExactSFTPSSHFS(t *testing.T) {
	t.Parallel()
	requireTool(t, "sshfs")
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	mnt := s.sshfsMount(t)
	sh := func(t *testing.T, script string) {
		t.Helper()
		if r := runClient(t, work, nil, "sh", "-c", script); r.exit != 0 {
			t.Fatalf("sh -c %q: %v", script, r)
		}
	}

	t.Run("cp into mem, mv into dsk", func(t *testing.T) {
		data := randomBytes(2<<20+99, 500)
		writeFile(t, work, "cp.dat", data)
		sh(t, fmt.Sprintf("cp cp.dat %s/mem/cp.dat && mv %s/mem/cp.dat %s/dsk/cp.dat", mnt, mnt, mnt))
		waitHostBytes(t, "cp to MNT/mem, mv to MNT/dsk", filepath.Join(dsk, "cp.dat"), data)
		if e, ok := s.stagedListing(t)["cp.dat"]; ok {
			t.Errorf("ls /mem after mv: got cp.dat (%d bytes, %v), want it moved", e.size, e.mode)
		}
	})

	t.Run("append with >>", func(t *testing.T) {
		old := []byte("first line\n")
		writeFile(t, dsk, "log.dat", old)
		sh(t, fmt.Sprintf("printf 'more\\n' >> %s/dsk/log.dat", mnt))
		waitHostBytes(t, "printf >> MNT/dsk/log.dat", filepath.Join(dsk, "log.dat"), joinBytes(old, []byte("more\n")))
	})

	// sed -i writes a temporary file in the same directory (mkostemp:
	// O_RDWR|O_CREAT|O_EXCL, so sshfs sends OPEN READ|WRITE|CREAT|EXCL),
	// copies the original's mode to it and renames it over the original.
	for _, fs := range []string{"mem", "dsk"} {
		t.Run("sed -i in "+fs, func(t *testing.T) {
			p := filepath.Join(mnt, fs, "sed.dat")
			if err := os.WriteFile(filepath.Join(work, "sed.dat"), []byte("a1 a2\na3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			sh(t, fmt.Sprintf("cp sed.dat %s && sed -i s/a/b/ %s", p, p))
			want := []byte("b1 a2\nb3\n")
			if fs == "dsk" {
				waitHostBytes(t, "sed -i MNT/dsk/sed.dat", filepath.Join(dsk, "sed.dat"), want)
				return
			}
			c := s.sftpClient(t)
			deadline := time.Now().Add(settleTimeout)
			var got []byte
			var err error
			for time.Now().Before(deadline) {
				if got, err = download(c, "/mem/sed.dat"); err == nil && bytes.Equal(got, want) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("sed -i MNT/mem/sed.dat: /mem/sed.dat is %q (err %v), want %q", got, err, want)
		})
	}
}

// TestExactSFTPLimits: an OpenSSH put over an existing /dsk/cfg.dat that
// exceeds max_file_bytes, fills /mem, or fills the disk fails, leaves the
// old file byte-identical and leaves nothing that can be committed.
func TestExactSFTPLimits(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	old := randomBytes(10_007, 600)
	big := randomBytes(2<<20+1, 601) // over every limit below
	tests := []struct {
		name   string
		config func(t *testing.T) (toml, dskDir string) // dskDir "" = DATA/dsk
		remote string
	}{
		{"max_file_bytes", func(*testing.T) (string, string) {
			return "max_file_bytes = 1000000", ""
		}, "/dsk/cfg.dat"},
		{"mem full", func(*testing.T) (string, string) {
			return "[mem]\nmax_bytes = 1048576", ""
		}, "/mem/cfg.dat"},
		{"disk full", func(t *testing.T) (string, string) {
			dir := mountSmallTmpfs(t, "1m")
			return fmt.Sprintf("[[mount]]\nname = \"dsk\"\npath = %q", dir), dir
		}, "/dsk/cfg.dat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			extra, dskDir := tt.config(t)
			s := newServer(t, sftpExactConfig+"\n"+extra)
			if dskDir == "" {
				dskDir = filepath.Join(s.data, "dsk")
			}
			work := t.TempDir()
			writeFile(t, work, "old.dat", old)
			writeFile(t, work, "big.dat", big)
			if r := s.sftpBatch(t, work, "put old.dat /dsk/cfg.dat\n"); r.exit != 0 {
				t.Fatalf("put the old /dsk/cfg.dat: %v", r)
			}
			before := dirSnapshot(t, dskDir)

			r := s.sftpBatch(t, work, "put big.dat "+tt.remote+"\n")
			if r.exit == 0 {
				t.Errorf("put big.dat %s (%d bytes): got exit 0, want failure\n%v", tt.remote, len(big), r)
			}
			t.Logf("put big.dat %s: exit %d, %q", tt.remote, r.exit, clientErrors(r.stderr))
			wantHostBytes(t, "after the failed put", filepath.Join(dskDir, "cfg.dat"), old)
			if after := dirSnapshot(t, dskDir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("DATA/dsk after the failed put: got %v, want %v (unchanged, no temporary file)", after, before)
			}
			if e, ok := s.stagedListing(t)["cfg.dat"]; ok && e.mode.Perm() != incompletePerm {
				t.Errorf("ls /mem after the failed put: cfg.dat listed complete (%d bytes, %v), want absent or incomplete", e.size, e.mode)
			}
			if r := s.sftpBatch(t, work, "rename /mem/cfg.dat /dsk/cfg.dat\n"); r.exit == 0 {
				t.Errorf("rename /mem/cfg.dat /dsk/cfg.dat after the failed put: got exit 0, want failure\n%v", r)
			}
			wantHostBytes(t, "after the refused rename", filepath.Join(dskDir, "cfg.dat"), old)

			if tt.name == "disk full" {
				// The commit from /mem hits the full disk too: the
				// rename fails and the old file stays.
				if r := s.sftpBatch(t, work, "put big.dat /mem/big.dat\n"); r.exit != 0 {
					t.Fatalf("put big.dat /mem/big.dat: %v", r)
				}
				if r := s.sftpBatch(t, work, "rename /mem/big.dat /dsk/cfg.dat\n"); r.exit == 0 {
					t.Errorf("rename /mem/big.dat /dsk/cfg.dat onto a full disk: got exit 0, want failure\n%v", r)
				}
				wantHostBytes(t, "after the commit onto a full disk", filepath.Join(dskDir, "cfg.dat"), old)
				if after := dirSnapshot(t, dskDir); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("DATA/dsk after the commit onto a full disk: got %v, want %v (unchanged, no temporary file)", after, before)
				}
			}
		})
	}
}

// TestExactSFTPHole: a write past the end of a new file leaves a hole;
// CLOSE fails and nothing is published.
func TestExactSFTPHole(t *testing.T) {
	t.Parallel()
	s := newServer(t, sftpExactConfig)
	t.Run("dsk over an existing file", func(t *testing.T) {
		// Without TRUNC the old 100 bytes stay; bytes 100..999 are a hole.
		c := s.sftpClient(t)
		old := randomBytes(100, 701)
		if err := upload(c, "/dsk/holed.dat", old); err != nil {
			t.Fatalf("upload old content: %v", err)
		}
		f, err := c.OpenFile("/dsk/holed.dat", os.O_WRONLY)
		if err != nil {
			t.Fatalf("OpenFile(O_WRONLY): %v", err)
		}
		if _, err := f.WriteAt(randomBytes(5000, 702), 1000); err != nil {
			t.Logf("WriteAt(5000 bytes, 1000): %v (the server may refuse here already)", err)
		}
		if err := f.Close(); err == nil {
			t.Errorf("close of /dsk/holed.dat with bytes 100..999 never written: got OK, want an error")
		}
		wantHostBytes(t, "after the refused close", filepath.Join(s.data, "dsk", "holed.dat"), old)
		if got := tempFiles(t, filepath.Join(s.data, "dsk")); len(got) != 0 {
			t.Errorf("temporary files in DATA/dsk after the refused close: got %q, want none", got)
		}
		if err := c.Remove("/dsk/holed.dat"); err != nil {
			t.Fatal(err)
		}
	})
	for _, fs := range []string{"dsk", "mem"} {
		t.Run(fs, func(t *testing.T) {
			c := s.sftpClient(t)
			p := "/" + fs + "/hole.dat"
			// Write-only: sluice refuses READ|WRITE, which Create asks for.
			f, err := c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
			if err != nil {
				t.Fatalf("OpenFile(%s): %v", p, err)
			}
			if _, err := f.WriteAt(randomBytes(5000, 700), 1000); err != nil {
				t.Logf("WriteAt(5000 bytes, 1000): %v (the server may refuse here already)", err)
			}
			if err := f.Close(); err == nil {
				t.Errorf("close of %s with bytes 0..999 never written: got OK, want an error", p)
			}
			if _, err := c.Stat(p); err == nil {
				t.Errorf("stat %s after the refused close: got a file, want none", p)
			}
			if fs == "dsk" {
				if got := dirSnapshot(t, filepath.Join(s.data, "dsk")); len(got) != 0 {
					t.Errorf("DATA/dsk after the refused close: got %v, want empty", got)
				}
			} else if got := s.stagedListing(t); len(got) != 0 {
				t.Errorf("ls /mem after the refused close: got %v, want empty", got)
			}
		})
	}
}

// TestExactSFTPCut: an upload into /mem cut by its connection stays as
// an incomplete staged file that cannot be committed until reput
// completes it.
func TestExactSFTPCut(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newServer(t, sftpExactConfig)
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	big := randomBytes(16<<20+5, 800)
	writeFile(t, work, "big.dat", big)

	// resume checks that name is incomplete and not committable, then
	// completes it with reput and commits it.
	resume := func(t *testing.T, name string) {
		t.Helper()
		ent := s.stagedListing(t)[name]
		if ent.mode.Perm() != incompletePerm {
			t.Errorf("ls /mem: %s has mode %v, want %v (incomplete)", name, ent.mode, incompletePerm)
		}
		if r := s.sftpBatch(t, work, "rename /mem/"+name+" /dsk/"+name+"\n"); r.exit == 0 {
			t.Errorf("rename of the incomplete /mem/%s into /dsk: got exit 0, want failure\n%v", name, r)
		}
		if _, err := os.Stat(filepath.Join(dsk, name)); !os.IsNotExist(err) {
			t.Errorf("DATA/dsk/%s after the refused rename: got %v, want not exist", name, err)
		}
		r := s.sftpBatch(t, work, "reput big.dat /mem/"+name+"\nrename /mem/"+name+" /dsk/"+name+"\n")
		if r.exit != 0 {
			t.Fatalf("reput, rename: %v", r)
		}
		wantHostBytes(t, "reput of the cut upload, rename", filepath.Join(dsk, name), big)
	}

	t.Run("pkg/sftp connection closed", func(t *testing.T) {
		c := s.sftpClient(t)
		f, err := c.OpenFile("/mem/go.dat", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
		if err != nil {
			t.Fatal(err)
		}
		const sent = 1<<20 + 3
		if _, err := f.Write(big[:sent]); err != nil { // acknowledged WRITEs
			t.Fatalf("write: %v", err)
		}
		c.conn.Close() // no CLOSE: the connection ends with the handle open
		if got := s.waitCutStaged(t, "go.dat"); got != sent {
			t.Errorf("incomplete /mem/go.dat: got %d bytes, want the %d acknowledged", got, sent)
		}
		resume(t, "go.dat")
	})

	t.Run("openssh sftp killed", func(t *testing.T) {
		// -l throttles the upload (Kbit/s) so that it is surely running
		// when the server has a part of it; the kill waits for that.
		bin, args := s.sftpArgs(t, "put big.dat /mem/ssh.dat\n", "-l", "16384")
		g := startPgroup(t, work, bin, args...)
		c := s.sftpClient(t)
		deadline := time.Now().Add(settleTimeout)
		for {
			fi, err := c.Stat("/mem/ssh.dat")
			if err == nil && fi.Size() >= 1<<20 {
				break
			}
			if g.exited() {
				t.Fatalf("sftp ended before it was killed: %v\n%s", g.err, g.out.String())
			}
			if time.Now().After(deadline) {
				t.Fatalf("/mem/ssh.dat did not reach 1 MiB within %v (last stat: %v)", settleTimeout, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		g.kill()
		if got := s.waitCutStaged(t, "ssh.dat"); got <= 0 || got >= int64(len(big)) {
			t.Errorf("incomplete /mem/ssh.dat: got %d bytes, want a prefix of the %d", got, len(big))
		}
		resume(t, "ssh.dat")
	})
}

// joinBytes joins byte slices into a new one.
func joinBytes(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}
