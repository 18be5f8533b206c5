package vfs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// auditLog is a JSON audit logger whose events a test can read.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// events returns the events logged so far with message msg.
func (a *auditLog) events(t *testing.T, msg string) []map[string]any {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(a.buf.Bytes()))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if e["@message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// last returns the last event msg, failing the test if there is none.
func (a *auditLog) last(t *testing.T, msg string) map[string]any {
	t.Helper()
	ev := a.events(t, msg)
	if len(ev) == 0 {
		t.Fatalf("no audit event %q in:\n%s", msg, a.buf.String())
	}
	return ev[len(ev)-1]
}

func newAuditTree(t *testing.T, checks image.Check) (*FS, *auditLog) {
	t.Helper()
	store, err := mem.New(mem.Config{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a := &auditLog{}
	f, err := New(Config{
		Mounts: []policy.Mount{{Name: "dsk", Path: t.TempDir()}}, // no bio
		Mem:    store,
		Checks: checks,
		Device: image.Device{HardwareID: 1, HWLevel: 1, Profile: "STD"},
		Logger: hclog.NewNullLogger(),
		Audit:  hclog.New(&hclog.LoggerOptions{Output: a, JSONFormat: true, Level: hclog.Debug}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, a
}

// textSession is s with a front end's Text that names the error's kind.
func textSession(s *Session) *Session {
	c := *s
	c.ID = "ftp-7"
	c.Text = func(err error) string { return "550 " + KindOf(err).String() + "." }
	return &c
}

// wantFields checks the listed fields of an event ("" means absent).
func wantFields(t *testing.T, what string, e map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := e[k]
		if w == "" {
			if ok {
				t.Errorf("%s: got %s=%v, want no %s", what, k, got, k)
			}
			continue
		}
		if got != w {
			t.Errorf("%s: got %s=%v, want %v", what, k, got, w)
		}
	}
}

// TestAuditRefused: a policy denial and an image check failure are one
// "refused" event at warn with the check, the reason and the front end's
// text; a failed commit is its "commit" event at warn with the same.
func TestAuditRefused(t *testing.T) {
	checks := image.CheckAll &^ image.CheckSignature
	bios, err := image.Build(image.BuildOptions{Kind: image.KindBIOS, Name: "BIOS.BIN",
		Version: image.Version{Major: 2}, HWLevel: 1, HardwareIDs: []uint32{1}, Profile: "STD"}, make([]byte, 4<<10))
	if err != nil {
		t.Fatal(err)
	}
	app, err := image.Build(image.BuildOptions{Kind: image.KindApplication, Name: "OS.BIN",
		Version: image.Version{Major: 2}, HWLevel: 1, HardwareIDs: []uint32{1}, Profile: "STD"}, make([]byte, 4<<10))
	if err != nil {
		t.Fatal(err)
	}
	badCRC := bytes.Clone(app)
	badCRC[len(badCRC)-1] ^= 0xff
	tests := []struct {
		name string
		run  func(t *testing.T, f *FS) error
		msg  string
		want map[string]any
	}{
		{"guest write", func(t *testing.T, f *FS) error {
			_, err := f.OpenWrite(textSession(guest), "/dsk/a.txt", WriteTrunc)
			return err
		}, "refused", map[string]any{"@level": "warn", "user": "g", "session": "ftp-7", "op": "open",
			"path": "/dsk/a.txt", "kind": "denied", "check": "", "text": "550 denied."}},
		{"guest delete", func(t *testing.T, f *FS) error {
			put(t, f, root, "/dsk/b.txt", []byte("x"))
			return f.Remove(textSession(guest), "/dsk/b.txt")
		}, "refused", map[string]any{"@level": "warn", "op": "remove", "kind": "denied", "text": "550 denied."}},
		{"direct write of a known file", func(t *testing.T, f *FS) error {
			_, err := f.OpenWrite(textSession(root), "/dsk/X.BIN", WriteTrunc)
			return err
		}, "refused", map[string]any{"@level": "warn", "user": "root", "kind": "check failed", "check": "path",
			"reason": "target path", "text": "550 check failed."}},
		{"commit to a file system not mounted", func(t *testing.T, f *FS) error {
			put(t, f, root, "/mem/b.bin", bios)
			_, err := f.Rename(textSession(root), "/mem/b.bin", "/dsk/x.bin")
			return err
		}, "commit", map[string]any{"@level": "warn", "source": "/mem/b.bin", "check": "path",
			"reason": "alternate file system not loaded", "text": "550 check failed."}},
		{"commit with a bad crc", func(t *testing.T, f *FS) error {
			put(t, f, root, "/mem/c.bin", badCRC)
			_, err := f.Rename(textSession(root), "/mem/c.bin", "/dsk/os.bin")
			return err
		}, "commit", map[string]any{"@level": "warn", "check": "crc", "reason": "bad crc", "text": "550 check failed."}},
		{"staged check without a front end", func(t *testing.T, f *FS) error {
			put(t, f, root, "/mem/d.bin", badCRC)
			return f.Verify(root, "/mem/d.bin")
		}, "refused", map[string]any{"@level": "warn", "session": "s1", "op": "verify", "check": "crc", "text": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, a := newAuditTree(t, checks)
			err := tt.run(t, f)
			if k := KindOf(err); err == nil || (k != KindDenied && k != KindCheck) {
				t.Fatalf("got %v, want a denial or a check failure", err)
			}
			e := a.last(t, tt.msg)
			wantFields(t, tt.msg, e, tt.want)
			if n := len(a.events(t, "refused")); tt.msg == "refused" && n != 1 {
				t.Errorf("got %d refused events, want 1", n)
			}
		})
	}
}

// TestAuditTransferResult: every transfer has a result and duration_ms
// (an integer); a download cut is "aborted", a failed one "error".
func TestAuditTransferResult(t *testing.T) {
	tests := []struct {
		name   string
		end    func(r *Reader)
		result string
		level  string
	}{
		{"read to the end", func(r *Reader) { _, _ = copyFrom(&bytes.Buffer{}, r) }, "ok", "info"},
		{"aborted", func(r *Reader) { r.Abort(errors.New("426 connection closed")) }, "aborted", "warn"},
		{"failed", func(r *Reader) { r.Fail(errors.New("data connection reset")); r.Abort(nil) }, "error", "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, a := newAuditTree(t, 0)
			put(t, f, root, "/dsk/f.txt", []byte("hello"))
			up := a.last(t, "transfer")
			wantFields(t, "upload", up, map[string]any{"direction": "upload", "result": "ok", "session": "s1"})
			if _, ok := up["duration_ms"].(float64); !ok {
				t.Errorf("upload: got duration_ms %#v, want a number", up["duration_ms"])
			}
			r, err := f.OpenRead(root, "/dsk/f.txt")
			if err != nil {
				t.Fatal(err)
			}
			tt.end(r)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			e := a.last(t, "transfer")
			wantFields(t, "download", e, map[string]any{"direction": "download", "result": tt.result,
				"@level": tt.level, "path": "/dsk/f.txt", "duration": ""})
			if _, ok := e["duration_ms"].(float64); !ok {
				t.Errorf("download: got duration_ms %#v, want a number", e["duration_ms"])
			}
		})
	}
}
