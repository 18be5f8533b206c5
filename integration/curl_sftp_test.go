package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurlSFTP: curl's sftp:// (libssh2; Debian 12's 1.10 has no ETM MAC
// and no AES-GCM, so it needs AES-CTR with a plain hmac-sha2 MAC) logs in
// with a password, uploads, lists and downloads byte-exact.
func TestCurlSFTP(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	dir := t.TempDir()
	data := randomBytes(300<<10, 41)
	if err := os.WriteFile(filepath.Join(dir, "up.dat"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "sftp://" + s.addr()
	// -k: the host key is new to curl (no known_hosts here).
	up := s.curl(t, dir, "-k", "-T", "up.dat", url+"/dsk/up.dat")
	if up.exit != 0 {
		t.Fatalf("curl sftp:// upload: exit %d\n%s", up.exit, up.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(s.data, "dsk", "up.dat")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("DATA/dsk/up.dat: %d bytes, %v; want the %d bytes sent", len(got), err, len(data))
	}
	ls := s.curl(t, dir, "-k", url+"/dsk/")
	if ls.exit != 0 || !strings.Contains(ls.stdout, "up.dat") {
		t.Errorf("curl sftp:// list: exit %d, %q; want a line for up.dat", ls.exit, ls.stdout)
	}
	down := s.curl(t, dir, "-k", "-o", "down.dat", url+"/dsk/up.dat")
	if down.exit != 0 {
		t.Fatalf("curl sftp:// download: exit %d\n%s", down.exit, down.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "down.dat")); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, want the %d uploaded", len(got), len(data))
	}
}
