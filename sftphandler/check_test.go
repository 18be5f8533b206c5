package sftphandler

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// checkedEnv is a device tree with the image checks on, and the identity
// the test images are built for.
type checkedEnv struct {
	*testEnv
	key   ed25519.PrivateKey
	state string
}

func newCheckedEnv(t *testing.T, on image.Check, allowDeleteActive bool) *checkedEnv {
	t.Helper()
	return newCheckedEnvMounts(t, on, allowDeleteActive, true)
}

// newCheckedEnvMounts is newCheckedEnv, without a bio mount when withBio
// is false (e.bio is then a directory no file system uses).
func newCheckedEnvMounts(t *testing.T, on image.Check, allowDeleteActive, withBio bool) *checkedEnv {
	t.Helper()
	store, err := mem.New(mem.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	e := &checkedEnv{testEnv: &testEnv{dsk: t.TempDir(), bio: t.TempDir(), mem: store}, key: key}
	e.state = filepath.Join(t.TempDir(), "device-state.json")
	mounts := []policy.Mount{{Name: "dsk", Path: e.dsk}}
	if withBio {
		mounts = append(mounts, policy.Mount{Name: "bio", Path: e.bio, Exclusive: true})
	}
	e.fs, err = vfs.New(vfs.Config{
		Mounts:            mounts,
		Mem:               store,
		Checks:            on,
		StatePath:         e.state,
		AllowDeleteActive: allowDeleteActive,
		Device: image.Device{SystemID: "T", HardwareID: 0x1a2b, HWLevel: 5, BIOSVersion: image.Version{Major: 2, Minor: 1},
			Profile: "STD", TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.fs.Close() })
	return e
}

// client returns a pkg/sftp client on a fresh session.
func (e *checkedEnv) client(t *testing.T, opt Options) *sftp.Client {
	t.Helper()
	s := servePipes(t, e.fs, supervisor(), opt)
	cl, err := sftp.NewClientPipe(s.r, s.w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// img builds an application image (valid for the device) after f edits
// the options.
func (e *checkedEnv) img(t *testing.T, f func(*image.BuildOptions)) []byte {
	t.Helper()
	o := image.BuildOptions{Kind: image.KindApplication, Name: "OS_FILE.BIN", Version: image.Version{Major: 11, Minor: 7, Patch: 3},
		HWLevel: 5, MinBIOS: image.Version{Major: 2, Minor: 1}, HardwareIDs: []uint32{0x1a2b}, Profile: "STD", SignKey: e.key}
	if f != nil {
		f(&o)
	}
	b, err := image.Build(o, bytes.Repeat([]byte("firmware payload "), 20000))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func upload(t *testing.T, cl *sftp.Client, p string, data []byte) {
	t.Helper()
	f, err := cl.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
}

// wantStatus checks the code and the exact text of a pkg/sftp error.
func wantStatus(t *testing.T, what string, err error, code uint32, text string) {
	t.Helper()
	var se *sftp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("%s: got %v, want status %d %q", what, err, code, text)
	}
	if se.Code != code || !strings.Contains(se.Error(), `"`+text+`"`) {
		t.Errorf("%s: got %v, want code %d text %q", what, se, code, text)
	}
}

func dirSHA(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

func TestChecksOnCommit(t *testing.T) {
	v := func(s string) image.Version { x, _ := image.ParseVersion(s); return x }
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	flip := func(b []byte, off int) []byte { c := bytes.Clone(b); c[off] ^= 0xff; return c }
	tests := []struct {
		name string
		data func(e *checkedEnv) []byte
		code uint32
		text string
	}{
		{"good", func(e *checkedEnv) []byte { return e.img(t, nil) }, fxOK, "File moved OK"},
		{"crc", func(e *checkedEnv) []byte { return flip(e.img(t, nil), image.HeaderSize+100) }, fxFailure, "Bad crc of checked file"},
		{"length", func(e *checkedEnv) []byte { b := e.img(t, nil); return b[:len(b)-128] }, fxFailure, "Bad length of checked file"},
		{"unknown", func(e *checkedEnv) []byte { return bytes.Repeat([]byte("not an image"), 1000) }, fxPermDenied, "Unknown checked file type"},
		{"hardware level", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.HWLevel = 3 })
		}, fxPermDenied, "Application not supported by hardware level (rcvd. 3, reqd. 5)"},
		{"bios", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.MinBIOS = v("3.0") })
		}, fxPermDenied, "Application not supported by present BIOS"},
		{"hw supported", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.HardwareIDs = []uint32{0x9999} })
		}, fxPermDenied, "Application not supported by present hardware"},
		{"unsigned", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.SignKey = nil })
		}, fxPermDenied, "Unsigned checked file"},
		{"untrusted key", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.SignKey = other })
		}, fxPermDenied, "Unknown signing key of checked file"},
		{"bad signature", func(e *checkedEnv) []byte {
			b := e.img(t, nil)
			im, err := image.Parse(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			// The record: type, length, 8-byte key id, then the signature.
			return flip(b, int(im.SignedLen)+4+8+10)
		}, fxPermDenied, "Bad signature of checked file"},
		{"profile", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) { o.Profile = "PRO" })
		}, fxPermDenied, "Application incompatible with the stored profile"},
		{"firmware not required", func(e *checkedEnv) []byte {
			return e.img(t, func(o *image.BuildOptions) {
				o.Kind, o.Name, o.MinBIOS = image.KindFirmware, "DSP.BFW", image.Version{}
			})
		}, fxPermDenied, "Firmware unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCheckedEnv(t, image.CheckAll, false)
			cl := e.client(t, Options{})
			upload(t, cl, "/mem/os_file.bin", tt.data(e))
			upload(t, cl, "/mem/copy.bin", tt.data(e))
			before := dirSHA(t, e.dsk)
			// The pkg/sftp client sees the code (it turns PERMISSION_DENIED
			// into os.ErrPermission and drops the text) ...
			err := cl.Rename("/mem/copy.bin", "/dsk/os_file.bin")
			switch tt.code {
			case fxOK:
				if err != nil {
					t.Fatalf("pkg/sftp rename: got %v, want OK", err)
				}
				if _, err := os.Stat(filepath.Join(e.dsk, "OS_FILE.BIN")); err != nil {
					t.Errorf("committed file: %v", err)
				}
				if _, err := cl.Stat("/mem/copy.bin"); err == nil {
					t.Error("staged file kept after the commit")
				}
				return
			case fxPermDenied:
				if !errors.Is(err, os.ErrPermission) {
					t.Errorf("pkg/sftp rename: got %v, want permission denied", err)
				}
			default:
				wantStatus(t, "pkg/sftp rename", err, tt.code, tt.text)
			}
			// ... and the raw reply carries the manual's text.
			c := startConn(t, e.testEnv, supervisor(), Options{})
			expectStatus(t, "rename", c.do(fxpRename, "/mem/os_file.bin", "/dsk/os_file.bin"), tt.code, tt.text)
			if dirSHA(t, e.dsk) != before {
				t.Error("/dsk changed after a refused commit")
			}
			if _, err := cl.Stat("/mem/os_file.bin"); err != nil {
				t.Errorf("staged file gone after a refused commit: %v", err)
			}
		})
	}
}

func TestCommitTextOnTheWire(t *testing.T) {
	e := newCheckedEnv(t, image.CheckAll, false)
	c := startConn(t, e.testEnv, supervisor(), Options{})
	c.put("/mem/os_file.bin", e.img(t, nil))
	expectStatus(t, "commit", c.do(fxpRename, "/mem/os_file.bin", "/dsk/os_file.bin"), fxOK, "File moved OK")
	expectStatus(t, "direct open of a known file", c.open("/dsk/X.BIN", fxfWrite|openCreat), fxPermDenied,
		"Check target path for possible bios/application file")
	expectStatus(t, "direct open of firmware", c.open("/bio/X.bfw", fxfWrite|openCreat), fxPermDenied,
		"Check target path for possible firmware file")
	expectStatus(t, "delete the active application", c.do(fxpRemove, "/dsk/OS_FILE.BIN"), fxPermDenied,
		"Operation denied to this client")
}

func TestPathRenameVersion(t *testing.T) {
	e := newCheckedEnv(t, image.CheckAll, true)
	cl := e.client(t, Options{})
	v := func(s string) image.Version { x, _ := image.ParseVersion(s); return x }

	// PATH: a BIOS image renamed into /dsk lands in /bio, under RENAME's
	// imprinted name.
	bios := e.img(t, func(o *image.BuildOptions) {
		o.Kind, o.Name, o.Version, o.MinBIOS = image.KindBIOS, "BIOS.BIN", v("2.2"), image.Version{}
	})
	upload(t, cl, "/mem/b.bin", bios)
	if err := cl.Rename("/mem/b.bin", "/dsk/b.bin"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(e.bio, "BIOS.BIN")); err != nil || !bytes.Equal(got, bios) {
		t.Errorf("BIOS not in /bio under its imprinted name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "b.bin")); err == nil {
		t.Error("BIOS also written to /dsk")
	}

	// VERSION: commit 11.7.3, remove it, a downgrade is still refused.
	upload(t, cl, "/mem/a.bin", e.img(t, nil))
	if err := cl.Rename("/mem/a.bin", "/dsk/whatever.bin"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Remove("/dsk/OS_FILE.BIN"); err != nil {
		t.Fatalf("remove with allow_delete_active: %v", err)
	}
	upload(t, cl, "/mem/old.bin", e.img(t, func(o *image.BuildOptions) { o.Version = v("11.7.2") }))
	c := startConn(t, e.testEnv, supervisor(), Options{})
	expectStatus(t, "downgrade after rm", c.do(fxpRename, "/mem/old.bin", "/dsk/OS_FILE.BIN"), fxPermDenied,
		"Application older than the one stored")
	if _, err := os.Stat(filepath.Join(e.dsk, "OS_FILE.BIN")); err == nil {
		t.Error("downgrade landed")
	}
	// The same version again is not a downgrade.
	upload(t, cl, "/mem/same.bin", e.img(t, nil))
	if err := cl.Rename("/mem/same.bin", "/dsk/OS_FILE.BIN"); err != nil {
		t.Errorf("same version: %v", err)
	}
	state, _ := os.ReadFile(e.state)
	if !bytes.Contains(state, []byte(`"application/OS_FILE.BIN": "11.7.3"`)) || bytes.Contains(state, []byte("pending")) {
		t.Errorf("device state: %s", state)
	}
}

func TestRenameOffKeepsName(t *testing.T) {
	e := newCheckedEnv(t, image.CheckAll&^image.CheckRename, false)
	cl := e.client(t, Options{})
	upload(t, cl, "/mem/x.bin", e.img(t, nil))
	if err := cl.Rename("/mem/x.bin", "/dsk/mine.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "mine.bin")); err != nil {
		t.Errorf("with RENAME off the sent name is kept: %v", err)
	}
}

// TestWinSCPSequence replays what WinSCP sends for an upload of 100 KiB or
// more over an existing file: NAME.filepart, REMOVE of the target, RENAME,
// then a times-only SETSTAT.
func TestWinSCPSequence(t *testing.T) {
	for _, good := range []bool{true, false} {
		name := map[bool]string{true: "good image", false: "bad crc"}[good]
		t.Run(name, func(t *testing.T) {
			e := newCheckedEnv(t, image.CheckAll, false)
			// The current application, committed earlier.
			v := func(s string) image.Version { x, _ := image.ParseVersion(s); return x }
			c := startConn(t, e.testEnv, supervisor(), Options{})
			c.put("/mem/cur.bin", e.img(t, func(o *image.BuildOptions) { o.Version = v("11.7.0") }))
			expectStatus(t, "setup commit", c.do(fxpRename, "/mem/cur.bin", "/dsk/OS_FILE.BIN"), fxOK, "File moved OK")
			old, _ := os.ReadFile(filepath.Join(e.dsk, "OS_FILE.BIN"))

			data := e.img(t, nil)
			if !good {
				data[image.HeaderSize+10] ^= 1
			}
			w := startConn(t, e.testEnv, supervisor(), Options{WinSCPCompat: true})
			w.put("/dsk/OS_FILE.BIN.filepart", data)
			expectStatus(t, "REMOVE target", w.do(fxpRemove, "/dsk/OS_FILE.BIN"), fxOK, "Active application kept until replaced")
			r := w.do(fxpRename, "/dsk/OS_FILE.BIN.filepart", "/dsk/OS_FILE.BIN")
			if good {
				expectStatus(t, "RENAME", r, fxOK, "File renamed OK")
				if got, _ := os.ReadFile(filepath.Join(e.dsk, "OS_FILE.BIN")); !bytes.Equal(got, data) {
					t.Error("new image not committed")
				}
			} else {
				expectStatus(t, "RENAME", r, fxFailure, "Bad crc of checked file")
				if got, _ := os.ReadFile(filepath.Join(e.dsk, "OS_FILE.BIN")); !bytes.Equal(got, old) {
					t.Error("the current application was touched by a refused commit")
				}
			}
			expectStatus(t, "SETSTAT times", w.do(fxpSetstat, "/dsk/OS_FILE.BIN", attrsTimes()), fxOK, "")
		})
	}
}

// TestPathAltFSNotLoaded: PATH sends a BIOS image to /bio; for a user who
// cannot see /bio (or a device without it) the commit is refused with
// the manual's text, and nothing is written.
func TestPathAltFSNotLoaded(t *testing.T) {
	e := newCheckedEnv(t, image.CheckAll, false)
	v := func(s string) image.Version { x, _ := image.ParseVersion(s); return x }
	sess := &vfs.Session{User: &policy.User{Name: "root", Level: policy.Supervisor, FileSystems: []string{"dsk", "mem"}}, ID: "s9"}
	c := serveConn(t, e.fs, sess, Options{})
	c.send(pkt(fxpInit, 3))
	if r := c.recv(); r.typ != fxpVersion {
		t.Fatalf("INIT: got %s", r)
	}
	bios := e.img(t, func(o *image.BuildOptions) {
		o.Kind, o.Name, o.Version, o.MinBIOS = image.KindBIOS, "BIOS.BIN", v("2.2"), image.Version{}
	})
	c.put("/mem/b.bin", bios)
	before := dirSHA(t, e.dsk)
	expectStatus(t, "RENAME BIOS into /dsk without /bio", c.do(fxpRename, "/mem/b.bin", "/dsk/b.bin"),
		fxPermDenied, "Alternate file system not loaded")
	if dirSHA(t, e.dsk) != before {
		t.Error("/dsk changed by a refused commit")
	}
	if ents, _ := os.ReadDir(e.bio); len(ents) != 0 {
		t.Errorf("/bio written by a refused commit: %v", ents)
	}
}

// TestPathAltFSNoBio: on a device with no bio file system, PATH has
// nowhere to put a BIOS image: renaming a valid one from /mem into /dsk
// is refused with the manual's text, and nothing is written.
func TestPathAltFSNoBio(t *testing.T) {
	e := newCheckedEnvMounts(t, image.CheckAll, false, false)
	bios := e.img(t, func(o *image.BuildOptions) {
		o.Kind, o.Name, o.Version, o.MinBIOS = image.KindBIOS, "BIOS.BIN", image.Version{Major: 2, Minor: 2}, image.Version{}
	})
	cl := e.client(t, Options{})
	upload(t, cl, "/mem/x.bin", bios)
	if err := cl.Rename("/mem/x.bin", "/dsk/x.bin"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("pkg/sftp rename: got %v, want permission denied", err)
	}
	c := startConn(t, e.testEnv, supervisor(), Options{})
	expectStatus(t, "RENAME BIOS into /dsk, no /bio", c.do(fxpRename, "/mem/x.bin", "/dsk/x.bin"),
		fxPermDenied, "Alternate file system not loaded")
	if ents, _ := os.ReadDir(e.dsk); len(ents) != 0 {
		t.Errorf("/dsk written by a refused commit: %v", ents)
	}
	if _, err := cl.Stat("/mem/x.bin"); err != nil {
		t.Errorf("staged file gone after a refused commit: %v", err)
	}
}

// TestCheckStatusTable pins the SFTP status of every check refusal: the
// manual's RENAME texts (§1.7) and sluice's where it has none
// (docs/image-format.md), FAILURE for LENGTH and CRC.
func TestCheckStatusTable(t *testing.T) {
	app, bios, fw, boot := image.KindApplication, image.KindBIOS, image.KindFirmware, image.KindBoot
	denied, failure := uint32(fxPermDenied), uint32(fxFailure)
	tests := []struct {
		reason     image.Reason
		kind       image.Kind
		rcvd, reqd uint32
		code       uint32
		text       string
	}{
		{image.ReasonUnknownType, 0, 0, 0, denied, "Unknown checked file type"},
		{image.ReasonLength, 0, 0, 0, failure, "Bad length of checked file"},
		{image.ReasonCRC, 0, 0, 0, failure, "Bad crc of checked file"},
		{image.ReasonCRC, app, 0, 0, failure, "Bad crc of checked file"},
		{image.ReasonUnsigned, app, 0, 0, denied, "Unsigned checked file"},
		{image.ReasonUnknownKey, app, 0, 0, denied, "Unknown signing key of checked file"},
		{image.ReasonBadSignature, app, 0, 0, denied, "Bad signature of checked file"},
		{image.ReasonHWLevel, app, 3, 5, denied, "Application not supported by hardware level (rcvd. 3, reqd. 5)"},
		{image.ReasonHWLevel, fw, 4, 5, denied, "Firmware not supported by hardware level (rcvd. 4, reqd. 5)."},
		{image.ReasonHWLevel, bios, 1, 2, denied, "BIOS not supported by hardware level (rcvd. 1, reqd. 2)."},
		{image.ReasonHWLevel, boot, 0, 5, denied, "Boot not supported by hardware level (rcvd. 0, reqd. 5)"},
		{image.ReasonHWSupported, app, 0, 0, denied, "Application not supported by present hardware"},
		{image.ReasonHWSupported, bios, 0, 0, denied, "BIOS not supported by present hardware"},
		{image.ReasonBIOS, app, 0, 0, denied, "Application not supported by present BIOS"},
		{image.ReasonBIOS, fw, 0, 0, denied, "Firmware not supported by present BIOS"},
		{image.ReasonProfile, app, 0, 0, denied, "Application incompatible with the stored profile"},
		{image.ReasonProfile, boot, 0, 0, denied, "Boot incompatible with the stored profile"},
		{image.ReasonOlder, app, 0, 0, denied, "Application older than the one stored"},
		{image.ReasonOlder, fw, 0, 0, denied, "Firmware older than the one stored"},
		{image.ReasonOlder, bios, 0, 0, denied, "BIOS older than the stored one"},
		{image.ReasonOlder, boot, 0, 0, denied, "Version older than the stored one"},
		{image.ReasonFirmwareMisbuilt, fw, 0, 0, denied, "Firmware misbuilt"},
		{image.ReasonFirmwareUnknown, fw, 0, 0, denied, "Firmware unknown"},
		{image.ReasonFirmwareNotRequired, fw, 0, 0, denied, "Firmware not required"},
		{image.ReasonTargetPath, 0, 0, 0, denied, "Check target path for possible bios/application file"},
		{image.ReasonTargetPath, fw, 0, 0, denied, "Check target path for possible firmware file"},
		{image.ReasonAltFS, bios, 0, 0, denied, "Alternate file system not loaded"},
		{image.ReasonAltFS, app, 0, 0, denied, "Alternate file system not loaded"},
		{0, app, 0, 0, denied, "Operation denied to this client"},
	}
	for _, tt := range tests {
		ce := &image.CheckError{Reason: tt.reason, Kind: tt.kind, Rcvd: tt.rcvd, Reqd: tt.reqd}
		err := toStatus(opRename, &vfs.Error{Kind: vfs.KindCheck, Op: "rename", Path: "/dsk/x.bin", Err: ce})
		var se *statusError
		if !errors.As(err, &se) {
			t.Fatalf("%v %v: got %v, want a status", tt.reason, tt.kind, err)
		}
		code := map[error]uint32{sftp.ErrSSHFxPermissionDenied: fxPermDenied, sftp.ErrSSHFxFailure: fxFailure}[se.code]
		if code != tt.code || se.msg != tt.text {
			t.Errorf("%v %v: got %d %q, want %d %q", tt.reason, tt.kind, code, se.msg, tt.code, tt.text)
		}
	}
}
