package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestOpenSSHOperatorSession walks through what an operator does with
// OpenSSH sftp: look at the tree, stage a file in /mem, commit it to /dsk
// with rename, read it back, use the test sinks, hit the refused
// operations, and remove the file.
//
// Payload names end in .dat: random bytes named .BIN or .BFW would be
// known files, which the image checks refuse to commit (DESIGN §4).
func TestOpenSSHOperatorSession(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newServer(t, "[limits]\nlogin_fail_delay = \"10ms\"")
	work := t.TempDir()
	dsk := filepath.Join(s.data, "dsk")
	orig := randomBytes(3<<20+12345, 1) // not a multiple of the request size
	writeFile(t, work, "f.dat", orig)

	// The root lists the mounted file systems and the two read-only
	// files of docs/sftp.md, "Verdicts and device state".
	r := s.sftpBatch(t, work, "ls -1 /\n")
	if r.exit != 0 {
		t.Fatalf("ls -1 /: %v", r)
	}
	if got, want := baseNames(output(t, r.stdout, "ls -1 /")), []string{"bio", "dsk", "mem", "state.txt", "ts1", "tst", "verdicts.txt"}; !slices.Equal(got, want) {
		t.Errorf("ls /: got %q, want %q", got, want)
	}

	// Stage, commit, read back.
	r = s.sftpBatch(t, work, `put f.dat /mem/os_file.dat
ls -1 /mem
rename /mem/os_file.dat /dsk/os_file.dat
ls -1 /mem
ls -1 /dsk
get /dsk/os_file.dat back.dat
`)
	if r.exit != 0 {
		t.Fatalf("put, rename, get: %v", r)
	}
	secs := sections(r.stdout)
	if len(secs) != 6 {
		t.Fatalf("got %d command sections, want 6:\n%s", len(secs), r.stdout)
	}
	if got := baseNames(secs[1].lines); !slices.Equal(got, []string{"os_file.dat"}) {
		t.Errorf("ls /mem after put: got %q, want [os_file.dat]", got)
	}
	if got := baseNames(secs[3].lines); len(got) != 0 {
		t.Errorf("ls /mem after rename: got %q, want nothing (the staged file moved)", got)
	}
	if got := baseNames(secs[4].lines); !slices.Equal(got, []string{"os_file.dat"}) {
		t.Errorf("ls /dsk after rename: got %q, want [os_file.dat]", got)
	}
	if onDisk, err := os.ReadFile(filepath.Join(dsk, "os_file.dat")); err != nil {
		t.Errorf("committed file: %v", err)
	} else if !bytes.Equal(onDisk, orig) {
		t.Errorf("DATA/dsk/os_file.dat: got %d bytes differing from the %d uploaded", len(onDisk), len(orig))
	}
	if back, err := os.ReadFile(filepath.Join(work, "back.dat")); err != nil {
		t.Errorf("downloaded file: %v", err)
	} else if !bytes.Equal(back, orig) {
		t.Errorf("get /dsk/os_file.dat: got %d bytes differing from the %d uploaded", len(back), len(orig))
	}

	t.Run("test sink download", func(t *testing.T) {
		r := s.sftpBatch(t, work, "get /tst/1000000 tst.dat\n")
		if r.exit != 0 {
			t.Fatalf("get /tst/1000000: %v", r)
		}
		b, err := os.ReadFile(filepath.Join(work, "tst.dat"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 1_000_000 {
			t.Fatalf("get /tst/1000000: got %d bytes, want 1000000", len(b))
		}
		if bytes.Count(b, []byte{0}) > len(b)/100 {
			t.Errorf("get /tst/1000000: %d zero bytes in 1000000, want about 3900 (random data)", bytes.Count(b, []byte{0}))
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		if z.Len() < len(b)*99/100 {
			t.Errorf("get /tst/1000000: gzip shrinks it to %d bytes, want at least %d (incompressible)", z.Len(), len(b)*99/100)
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := dirSnapshot(t, dsk)
		tests := []struct {
			name string
			cmd  string
			want string // in the client's error output
		}{
			{"mkdir", "mkdir /dsk/x", "Operation unsupported"},
			{"rmdir", "rmdir /dsk", "Operation unsupported"},
			{"symlink", "ln -s /dsk/os_file.dat /dsk/link", "Operation unsupported"},
			// hardlink@openssh.com must not be advertised (DESIGN §5).
			{"hardlink", "ln /dsk/os_file.dat /dsk/hard", "does not support hardlink"},
			{"chmod", "chmod 600 /dsk/os_file.dat", "Operation unsupported"},
			{"chmod staged", "chmod 600 /mem/none", "Operation unsupported"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := s.sftpBatch(t, work, tt.cmd+"\n")
				if r.exit == 0 {
					t.Errorf("%s: got exit 0, want failure\n%v", tt.cmd, r)
				}
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("%s: got stderr %q, want it to contain %q", tt.cmd, r.stderr, tt.want)
				}
			})
		}
		if after := dirSnapshot(t, dsk); !maps.Equal(after, before) {
			t.Errorf("DATA/dsk changed by refused operations: got %v, want %v", after, before)
		}
	})

	t.Run("remove", func(t *testing.T) {
		r := s.sftpBatch(t, work, "rm /dsk/os_file.dat\nls -1 /dsk\n")
		if r.exit != 0 {
			t.Fatalf("rm: %v", r)
		}
		if got := trimmed(output(t, r.stdout, "ls -1 /dsk")); len(got) != 0 {
			t.Errorf("ls /dsk after rm: got %q, want nothing", got)
		}
		if _, err := os.Stat(filepath.Join(dsk, "os_file.dat")); !os.IsNotExist(err) {
			t.Errorf("DATA/dsk/os_file.dat after rm: got %v, want not exist", err)
		}
	})

	t.Run("test sink upload", func(t *testing.T) {
		before := treeFiles(t, s.data)
		r := s.sftpBatch(t, work, "put f.dat /tst/up.dat\nls -l /tst\nls -1 /mem\n")
		if r.exit != 0 {
			t.Fatalf("put to /tst: %v", r)
		}
		lines := trimmed(output(t, r.stdout, "ls -l /tst"))
		if len(lines) != 1 {
			t.Fatalf("ls -l /tst: got %q, want one file", lines)
		}
		f := strings.Fields(lines[0])
		if len(f) < 9 || f[len(f)-1] != "up.dat" || f[4] != strconv.Itoa(len(orig)) {
			t.Errorf("ls -l /tst: got %q, want up.dat of %d bytes", lines[0], len(orig))
		}
		if got := trimmed(output(t, r.stdout, "ls -1 /mem")); len(got) != 0 {
			t.Errorf("ls /mem after upload to /tst: got %q, want nothing", got)
		}
		// Nothing of it is stored anywhere under the data directory.
		if after := treeFiles(t, s.data); !maps.Equal(after, before) {
			t.Errorf("files under DATA after upload to /tst: got %v, want %v (nothing stored)", after, before)
		}
	})
}

// TestSCP uploads with OpenSSH scp (SFTP mode: OPEN without TRUNC, then
// FSETSTAT{size}) and downloads back.
func TestSCP(t *testing.T) {
	t.Parallel()
	scp := requireTool(t, "scp")
	s := newServer(t, "")
	work := t.TempDir()
	long := randomBytes(2<<20+77, 2)
	short := randomBytes(1000, 3)
	writeFile(t, work, "long.dat", long)
	writeFile(t, work, "short.dat", short)

	scpRun := func(t *testing.T, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
		defer cancel()
		all := append(append(opensshOptions(), "-P", s.port()), args...)
		if r := run(t, ctx, work, clientEnv(), scp, all...); r.exit != 0 || r.timedOut {
			t.Fatalf("scp %s: %v", strings.Join(args, " "), r)
		}
	}
	tests := []struct {
		name   string
		remote string
		host   string // file under DATA that must hold the bytes; "" for /mem
		steps  []string
	}{
		// The second upload overwrites with a shorter file: the result must
		// be exactly the shorter file (scp opens without TRUNC).
		{"mem", "/mem/scp.dat", "", []string{"long.dat", "short.dat"}},
		{"dsk", "/dsk/scp.dat", "dsk/scp.dat", []string{"long.dat", "short.dat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, local := range tt.steps {
				want, _ := os.ReadFile(filepath.Join(work, local))
				scpRun(t, local, "root@127.0.0.1:"+tt.remote)
				back := tt.name + "-" + local + ".back"
				scpRun(t, "root@127.0.0.1:"+tt.remote, back)
				got, err := os.ReadFile(filepath.Join(work, back))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("scp %s to %s and back: got %d bytes, want the %d bytes sent", local, tt.remote, len(got), len(want))
				}
				if tt.host != "" {
					onDisk, err := os.ReadFile(filepath.Join(s.data, tt.host))
					if err != nil {
						t.Fatal(err)
					} else if !bytes.Equal(onDisk, want) {
						t.Errorf("DATA/%s after scp %s: got %d bytes, want the %d bytes sent", tt.host, local, len(onDisk), len(want))
					}
				}
			}
		})
	}
}

// TestOpenSSHUsesLimitsExtension checks that OpenSSH sftp reads the
// server's limits@openssh.com reply and writes in 255 KiB requests, not
// its 32 KiB fallback (DESIGN §5).
func TestOpenSSHUsesLimitsExtension(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newServer(t, "")
	work := t.TempDir()
	const size = 2_000_000
	data := randomBytes(size, 4)
	writeFile(t, work, "two.dat", data)

	r := s.sftpBatch(t, work, "put two.dat /mem/two.dat\n", "-vvv")
	if r.exit != 0 {
		t.Fatalf("sftp -vvv put: exit %d\n%s", r.exit, r.stderr)
	}
	for _, want := range []string{
		`Server supports extension "limits@openssh.com" revision 1`,
		"server upload/download buffer sizes 261120 / 261120; using 261120 / 261120",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("sftp -vvv output: missing %q", want)
		}
	}
	// debug3: Sent message SSH2_FXP_WRITE I:6 O:0 S:261120
	writes := regexp.MustCompile(`SSH2_FXP_WRITE I:\d+ O:\d+ S:(\d+)`).FindAllStringSubmatch(r.stderr, -1)
	full, total := 0, 0
	for _, w := range writes {
		n, _ := strconv.Atoi(w[1])
		total += n
		if n == maxPacket {
			full++
		}
	}
	if want := size / maxPacket; full != want || total != size {
		t.Errorf("WRITE requests: got %d of %d bytes (%d bytes in all), want %d of %d bytes (%d in all)",
			full, maxPacket, total, want, maxPacket, size)
	}
	if got, err := download(s.sftpClient(t), "/mem/two.dat"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("staged file: got %d bytes (err %v), want the %d bytes sent", len(got), err, len(data))
	}
}

// TestConcurrentStaging runs two sftp sessions at once, each staging its
// own file in /mem and committing it to /dsk.
func TestConcurrentStaging(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newServer(t, "")
	work := t.TempDir()
	files := map[string][]byte{
		"c1.dat": randomBytes(8<<20, 5),
		"c2.dat": randomBytes(8<<20+1, 6),
	}
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	var wg sync.WaitGroup
	results := map[string]result{}
	var mu sync.Mutex
	for name, data := range files {
		writeFile(t, work, name, data)
		bin, args := s.sftpArgs(t, "put "+name+" /mem/"+name+"\nrename /mem/"+name+" /dsk/"+name+"\n")
		wg.Go(func() {
			r := run(t, ctx, work, clientEnv(), bin, args...)
			mu.Lock()
			results[name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, data := range files {
		if r := results[name]; r.exit != 0 {
			t.Errorf("session staging %s: %v", name, r)
			continue
		}
		got, err := os.ReadFile(filepath.Join(s.data, "dsk", name))
		if err != nil {
			t.Errorf("DATA/dsk/%s: %v", name, err)
		} else if !bytes.Equal(got, data) {
			t.Errorf("DATA/dsk/%s: got %d bytes, want the %d bytes its session sent", name, len(got), len(data))
		}
	}
	left, err := s.sftpClient(t).ReadDir("/mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("/mem after both commits: got %d files, want none", len(left))
	}
}

// trimmed drops blank lines and surrounding spaces.
func trimmed(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// baseNames turns `ls -1 DIR` lines (full paths) into names.
func baseNames(lines []string) []string {
	out := trimmed(lines)
	for i, l := range out {
		out[i] = path.Base(l)
	}
	return out
}
