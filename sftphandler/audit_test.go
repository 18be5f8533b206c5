package sftphandler

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// TestAuditText: the audit's text of a refusal or a failed commit is the
// status text the client gets.
func TestAuditText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"denied open", &vfs.Error{Kind: vfs.KindDenied, Op: "open", Path: "/dsk/a"}, msgDenied},
		{"denied remove", &vfs.Error{Kind: vfs.KindDenied, Op: "remove", Path: "/dsk/a"}, msgDenied},
		{"bad crc at commit", &vfs.Error{Kind: vfs.KindCheck, Op: "rename", Path: "/dsk/OS.BIN",
			Err: &image.CheckError{Check: image.CheckCRC, Reason: image.ReasonCRC}}, msgCheckCRC},
		{"direct write", &vfs.Error{Kind: vfs.KindCheck, Op: "open", Path: "/dsk/OS.BIN",
			Err: &image.CheckError{Check: image.CheckPath, Reason: image.ReasonTargetPath}}, msgCheckTargetPath},
		{"commit write failed", &vfs.Error{Kind: vfs.KindIO, Side: vfs.SideTarget, Op: "rename", Path: "/dsk/a"}, msgWriteTarget},
		{"upload commit failed", &vfs.Error{Kind: vfs.KindIO, Op: "close", Path: "/dsk/a"}, msgWriteFailed},
		{"foreign error", errors.New("boom"), msgOpenFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AuditText(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAuditDownloadAborted: a session that ends with a file open for
// reading audits the download as aborted; one closed by the client as ok.
func TestAuditDownloadAborted(t *testing.T) {
	store, err := mem.New(mem.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	audit := &syncBuffer{}
	dsk := t.TempDir()
	fs, err := vfs.New(vfs.Config{Mounts: []policy.Mount{{Name: "dsk", Path: dsk}}, Mem: store,
		Audit: hclog.New(&hclog.LoggerOptions{Output: audit, JSONFormat: true})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	writeHost(t, dsk, "f.txt", []byte("hello"))
	e := &testEnv{dsk: dsk, mem: store, fs: fs}

	c := startConn(t, e, supervisor(), Options{})
	if got := c.get("/dsk/f.txt"); string(got) != "hello" {
		t.Fatalf("GET: got %q", got)
	}
	c.mustOpen("/dsk/f.txt", fxfRead)
	c.served.abrupt = true
	c.w.Close() // the session ends with the handle open
	if err := c.served.wait(); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("Serve: %v", err)
	}
	// Serve has returned: pkg/sftp closed the open handle before that.
	var results []string
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		if strings.Contains(line, `"direction":"download"`) {
			i := strings.Index(line, `"result":"`)
			results = append(results, strings.SplitN(line[i+len(`"result":"`):], `"`, 2)[0])
		}
	}
	if want := []string{"ok", "aborted"}; strings.Join(results, ",") != strings.Join(want, ",") {
		t.Errorf("download results: got %q, want %q\n%s", results, want, audit.String())
	}
}
