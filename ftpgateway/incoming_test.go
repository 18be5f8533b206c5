package ftpgateway

import (
	"fmt"
	"testing"
)

// TestIncomingUploadOnly: mTCP's upload-only file system, through the
// shared policy: a viewer with incoming = "mem" may STOR into the staging
// buffer but not list, read or delete there, and sees nothing else it may
// change.
func TestIncomingUploadOnly(t *testing.T) {
	h, err := fastHash()
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, tOpts{users: fmt.Sprintf(`
[[user]]
name = "drop"
password_hash = %q
level = "viewer"
filesystems = ["dsk"]
incoming = "mem"
`, h)})
	c := e.login(t, "drop")
	c.stor("report.txt", []byte("upload only\n"))
	if _, err := e.mem.Stat("report.txt"); err != nil {
		t.Fatalf("upload not staged: %v", err)
	}
	c.want("RETR /mem/report.txt", "550 Operation denied to this client.")
	c.want("DELE /mem/report.txt", "550 Operation denied to this client.")
	c.want("CWD /mem", "550 Pathname not available.")
	c.want("DELE /dsk/anything", "550 Operation denied to this client.")
}
