package ftpgateway

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// img builds an application image valid for the checked test device,
// after f edits the options.
func (e *tEnv) img(t *testing.T, f func(*image.BuildOptions)) []byte {
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

// dirSHA hashes the names and contents of a host directory.
func dirSHA(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		h.Write([]byte(en.Name()))
		h.Write(readHost(t, dir, en.Name()))
	}
	return [32]byte(h.Sum(nil))
}

func flipByte(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0xff
	return c
}

// TestSecureDownload is the manual's secure download end to end (§3.5,
// §5.1.6): a good image is STORed to the staging buffer and committed by
// SITE SAVEBUFFER; a bad one gets the check's reply and never reaches
// /dsk.
func TestSecureDownload(t *testing.T) {
	e := newTestEnv(t, tOpts{checks: image.CheckAll})
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")
	good := e.img(t, nil)

	dc := c.epsv()
	c.want("STOR os_file.bin", "150 Data connection open, checked file transfer in process...")
	dc.Write(good)
	dc.Close()
	c.wantRead("STOR end", fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(good)))
	if _, err := os.Stat(filepath.Join(e.dsk, "OS_FILE.BIN")); !os.IsNotExist(err) {
		t.Fatalf("secure STOR reached /dsk: %v", err)
	}
	c.want("SITE SAVEBUFFER", "200 SAVEBUFFER completed O.K.")
	if got := readHost(t, e.dsk, "OS_FILE.BIN"); !bytes.Equal(got, good) {
		t.Fatalf("saved image: %s", firstDiff(got, good))
	}
	before := dirSHA(t, e.dsk)

	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"bad crc", flipByte(good, image.HeaderSize+100), "536 Received checked file with bad checksum."},
		{"short", good[:len(good)-128], "535 Unexpected end of checked file."},
		{"not an image", bytes.Repeat([]byte("not an image"), 1000), "503 Unknown file type checked."},
		{"hardware level", e.img(t, func(o *image.BuildOptions) { o.HWLevel = 3 }),
			"503 Application not supported by hardware level (rcvd. 3, reqd. 5)."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			defer func() { c.t = t }()
			// Secure mode: refused at STOR, or at the latest by SAVEBUFFER.
			r := c.store("STOR", "os_file.bin", tt.data)
			if r.code == 226 {
				r = c.cmd("SITE SAVEBUFFER")
			}
			if r.String() != tt.want {
				t.Errorf("secure download of a bad image: got %q, want %q", r, tt.want)
			}
			if dirSHA(t, e.dsk) != before {
				t.Error("/dsk changed after a refused image")
			}
			c.cmd("SITE CLEARBUFFER")

			// DIRECT ON: the verdict is the STOR reply; the old file stays.
			c.want("SITE DIRECT ON", "200 DIRECT is set to ON.")
			if r := c.store("STOR", "os_file.bin", tt.data); r.String() != tt.want {
				t.Errorf("direct STOR of a bad image: got %q, want %q", r, tt.want)
			}
			if dirSHA(t, e.dsk) != before {
				t.Error("/dsk changed after a refused direct STOR")
			}
			if tf := tempFiles(t, e.dsk); len(tf) != 0 {
				t.Errorf("temporary files left: %q", tf)
			}
			c.want("SITE DIRECT OFF", "200 DIRECT is set to OFF.")
		})
	}

	// A good newer image in DIRECT ON mode replaces the old one.
	newer := e.img(t, func(o *image.BuildOptions) { o.Version = image.Version{Major: 11, Minor: 8} })
	c.want("SITE DIRECT ON", "200 DIRECT is set to ON.")
	if r := c.store("STOR", "os_file.bin", newer); r.code != 226 {
		t.Fatalf("direct STOR of a good image: got %q", r)
	}
	if got := readHost(t, e.dsk, "OS_FILE.BIN"); !bytes.Equal(got, newer) {
		t.Errorf("direct STOR: %s", firstDiff(got, newer))
	}
	// An older one is refused (VERSION).
	if r := c.store("STOR", "os_file.bin", good); r.code/100 != 5 {
		t.Errorf("direct STOR of an older image: got %q, want a 5xx refusal", r)
	}
	if got := readHost(t, e.dsk, "OS_FILE.BIN"); !bytes.Equal(got, newer) {
		t.Errorf("after a refused older image: %s", firstDiff(got, newer))
	}
}

// newNoBioEnv is newTestEnv with all checks on for a device that has no
// bio file system: /dsk, /mem and the test sinks, and the user root.
func newNoBioEnv(t *testing.T) *tEnv {
	t.Helper()
	hash, err := fastHash()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	e := &tEnv{dsk: filepath.Join(tmp, "dsk"), key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))}
	if err := os.Mkdir(e.dsk, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("data_dir = %q\n\n[limits]\n%s\n[[mount]]\nname = \"dsk\"\npath = %q\n\n"+
		"[[user]]\nname = \"root\"\npassword_hash = %q\nlevel = \"supervisor\"\n",
		filepath.Join(tmp, "data"), defaultLimits, e.dsk, hash)
	if e.pol, err = policy.Parse(filepath.Join(tmp, "sluice.toml"), []byte(toml)); err != nil {
		t.Fatalf("policy.Parse: %v\n%s", err, toml)
	}
	if e.mem, err = mem.New(mem.Config{MaxBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	e.fs, err = vfs.New(vfs.Config{Mounts: e.pol.Mounts, Mem: e.mem, NameMax: e.pol.Names.MaxLen,
		MaxFileBytes: e.pol.Limits.MaxFileBytes, Logger: log.Named("vfs"), Checks: image.CheckAll,
		Device: image.Device{SystemID: "T", HardwareID: 0x1a2b, HWLevel: 5, BIOSVersion: image.Version{Major: 2, Minor: 1},
			Profile: "STD", TrustedKeys: []ed25519.PublicKey{e.key.Public().(ed25519.PublicKey)}}})
	if err != nil {
		t.Fatalf("vfs.New: %v", err)
	}
	t.Cleanup(func() { e.fs.Close() })
	if e.srv, err = New(Config{Policy: e.pol, Store: e.fs, Logger: log.Named("ftp"), Audit: log.Named("audit")}); err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("listen: %v", err)
	}
	e.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(l) }()
	t.Cleanup(func() {
		if err := e.srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return e
}

// TestPathAltFSNoBio: on a device with no bio file system, PATH has
// nowhere to put a BIOS image. A valid one staged in /mem and committed
// to /dsk (SITE SAVEBUFFER, RNFR/RNTO, DIRECT ON STOR) is refused with
// the manual's "530 Alternate file system not loaded.", and nothing is
// written to /dsk.
func TestPathAltFSNoBio(t *testing.T) {
	e := newNoBioEnv(t)
	bios := e.img(t, func(o *image.BuildOptions) {
		o.Kind, o.Name, o.Version, o.MinBIOS = image.KindBIOS, "BIOS.BIN", image.Version{Major: 2, Minor: 2}, image.Version{}
	})
	const want = "530 Alternate file system not loaded."
	c := e.login(t, "root")
	c.want("CWD /dsk", "250 CWD command successful.")

	// Secure mode: STOR stages (and checks) x.bin in /mem, SAVEBUFFER
	// commits it to /dsk.
	if r := c.store("STOR", "x.bin", bios); r.code != 226 {
		t.Fatalf("STOR of a valid BIOS image: got %q", r)
	}
	c.want("SITE SAVEBUFFER", want)
	// RNFR/RNTO of the same staged file.
	c.want("RNFR /mem/x.bin", "350 Rename pending information.")
	c.want("RNTO /dsk/x.bin", want)
	// DIRECT ON: the STOR is the commit.
	c.want("SITE DIRECT ON", "200 DIRECT is set to ON.")
	if r := c.store("STOR", "x.bin", bios); r.String() != want {
		t.Errorf("DIRECT ON STOR: got %q, want %q", r, want)
	}
	if ents, _ := os.ReadDir(e.dsk); len(ents) != 0 {
		t.Errorf("/dsk written by refused commits: %v", ents)
	}
}

// TestCheckReplyTable pins the FTP reply of every check refusal: the
// manual's STOR verdicts (§1.4.3, §5.1.6) and sluice's where it has none
// (docs/image-format.md).
func TestCheckReplyTable(t *testing.T) {
	app, bios, fw, boot := image.KindApplication, image.KindBIOS, image.KindFirmware, image.KindBoot
	tests := []struct {
		reason     image.Reason
		kind       image.Kind
		rcvd, reqd uint32
		want       string
	}{
		{image.ReasonUnknownType, 0, 0, 0, "503 Unknown file type checked."},
		{image.ReasonLength, 0, 0, 0, "535 Unexpected end of checked file."},
		{image.ReasonCRC, 0, 0, 0, "536 Received checked file with bad checksum."},
		{image.ReasonCRC, app, 0, 0, "536 Received checked file with bad checksum."},
		{image.ReasonUnsigned, app, 0, 0, "503 Unsigned checked file."},
		{image.ReasonUnknownKey, app, 0, 0, "503 Unknown signing key of checked file."},
		{image.ReasonBadSignature, app, 0, 0, "536 Received checked file with bad signature."},
		{image.ReasonHWLevel, app, 3, 5, "503 Application not supported by hardware level (rcvd. 3, reqd. 5)."},
		{image.ReasonHWLevel, fw, 4, 5, "503 Firmware not supported by hardware level (rcvd. 4, reqd. 5)."},
		{image.ReasonHWLevel, bios, 1, 2, "503 BIOS not supported by hardware level (rcvd. 1, reqd. 2)."},
		{image.ReasonHWLevel, boot, 0, 5, "503 Boot not supported by hardware level (rcvd. 0, reqd. 5)."},
		{image.ReasonHWSupported, app, 0, 0, "503 Application not supported by present hardware."},
		{image.ReasonHWSupported, bios, 0, 0, "503 BIOS not supported by present hardware."},
		{image.ReasonBIOS, app, 0, 0, "503 Application not supported by present BIOS."},
		{image.ReasonBIOS, fw, 0, 0, "503 Firmware not supported by present BIOS."},
		{image.ReasonProfile, app, 0, 0, "503 Application incompatible with the stored profile."},
		{image.ReasonProfile, boot, 0, 0, "503 Boot incompatible with the stored profile."},
		{image.ReasonOlder, app, 0, 0, "503 Application older than the one stored."},
		{image.ReasonOlder, fw, 0, 0, "503 Firmware older than the one stored."},
		{image.ReasonOlder, bios, 0, 0, "503 BIOS older than the one stored."},
		{image.ReasonOlder, boot, 0, 0, "503 Version older than the stored one."},
		{image.ReasonFirmwareMisbuilt, fw, 0, 0, "552 Firmware misbuilt."},
		{image.ReasonFirmwareUnknown, fw, 0, 0, "551 Firmware unknown."},
		{image.ReasonFirmwareNotRequired, fw, 0, 0, "552 Firmware not required."},
		{image.ReasonTargetPath, 0, 0, 0, "550 Unable to open file."},
		{image.ReasonTargetPath, fw, 0, 0, "550 Unable to open file."},
		{image.ReasonAltFS, bios, 0, 0, "530 Alternate file system not loaded."},
		{image.ReasonAltFS, app, 0, 0, "530 Alternate file system not loaded."},
		{0, app, 0, 0, "550 Unable to open file."},
	}
	for _, tt := range tests {
		ce := &image.CheckError{Reason: tt.reason, Kind: tt.kind, Rcvd: tt.rcvd, Reqd: tt.reqd}
		err := &vfs.Error{Kind: vfs.KindCheck, Op: "rename", Path: "/dsk/x.bin", Err: ce}
		if got := ftpStatus(opStor, err); got != tt.want {
			t.Errorf("%v %v: got %q, want %q", tt.reason, tt.kind, got, tt.want)
		}
	}
}
