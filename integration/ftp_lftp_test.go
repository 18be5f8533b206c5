package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// lftp runs an lftp script (commands, one per line) in dir. The script
// file holds the password, so it is not on a command line.
func (s *server) lftp(t *testing.T, dir, script string) result {
	t.Helper()
	bin := requireTool(t, "lftp")
	f := filepath.Join(t.TempDir(), "script.lftp")
	head := "set cmd:fail-exit yes\nset net:max-retries 1\nset net:reconnect-interval-base 1\nset net:timeout 20\n" +
		"set ftp:passive-mode on\nset ftp:use-site-utime no\nset ftp:use-site-utime2 no\n"
	if err := os.WriteFile(f, []byte(head+script), 0o600); err != nil {
		t.Fatal(err)
	}
	return tool(t, dir, "", bin, "-f", f)
}

// TestFTPLftpMirror: lftp mirror -R of 100 files into /dsk after SITE
// DIRECT ON (in secure mode every STOR would go to /mem), then mirror
// back over explicit TLS; every byte matches on disk and on the way back.
func TestFTPLftpMirror(t *testing.T) {
	t.Parallel()
	requireTool(t, "lftp")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 100 {
		// Not .BIN/.BFW: those are known files, checked on commit.
		name := fmt.Sprintf("file%03d.dat", i)
		want[name] = randomBytes(i*397, uint64(1000+i)) // file000.dat is empty
		writeFile(t, src, name, want[name])
	}
	open := fmt.Sprintf("open -u root,%s -p %s 127.0.0.1\n", s.password, s.ftpPort())
	r := s.lftp(t, dir, "set ftp:ssl-allow no\n"+open+"quote SITE DIRECT ON\ncd /dsk\nmirror -R --no-perms src .\n")
	if r.exit != 0 {
		t.Fatalf("lftp mirror -R:\n%s", r)
	}
	if !strings.Contains(r.stdout, "200 DIRECT is set to ON.") {
		t.Errorf("quote SITE DIRECT ON: stdout %q, want the 200 reply", r.stdout)
	}
	dsk := filepath.Join(s.data, "dsk")
	entries, err := os.ReadDir(dsk)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != len(want) {
		t.Errorf("DATA/dsk has %d entries, want %d: %v", len(names), len(want), names)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dsk, name))
		if err != nil {
			t.Errorf("DATA/dsk/%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("DATA/dsk/%s: %d bytes differ from the %d bytes sent", name, len(got), len(data))
		}
	}

	// Back over explicit TLS (AUTH TLS, PROT P on data connections).
	r = s.lftp(t, dir, "set ftp:ssl-force yes\nset ftp:ssl-protect-data yes\nset ssl:verify-certificate no\n"+
		open+"mirror --parallel=2 --no-perms /dsk back\n")
	if r.exit != 0 {
		t.Fatalf("lftp mirror over TLS:\n%s", r)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, "back", name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("mirrored back %s: %d bytes, %v; want the %d bytes sent", name, len(got), err, len(data))
		}
	}
}
