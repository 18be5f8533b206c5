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

// TestSaveBufferKeepsWithoutDelete: with CHECK DELETE off, SAVEBUFFER
// copies: the staged file stays and can be saved again (manual §2.1.4.4).
func TestSaveBufferKeepsWithoutDelete(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	c.stor("net.cfg", []byte("config\n"))
	c.want("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
	if got := readHost(t, e.dsk, "net.cfg"); string(got) != "config\n" {
		t.Errorf("saved file: got %q", got)
	}
	if _, err := e.mem.Stat("net.cfg"); err != nil {
		t.Errorf("staged file gone with CHECK DELETE off: %v", err)
	}
	c.want("SITE CHECK DELETE ON", "200 CHECK DELETE control is set to ON.")
	c.want("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
	if _, err := e.mem.Stat("net.cfg"); err == nil {
		t.Error("staged file kept with CHECK DELETE on")
	}
}
