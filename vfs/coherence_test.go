package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// TestCoherence (manual §3.6, issue 10 item 7): SITE COHERENCE's findings
// for no application, a missing firmware, a good set, a bad-CRC firmware
// and a firmware older than the application requires, each with the
// manual's text; the check reads and never writes; one runs at a time.
func TestCoherence(t *testing.T) {
	dsk, bio := t.TempDir(), t.TempDir()
	store, err := mem.New(mem.Config{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Config{
		Mounts:    []policy.Mount{{Name: "dsk", Path: dsk}, {Name: "bio", Path: bio, Exclusive: true}},
		Mem:       store,
		Checks:    image.CheckAll &^ image.CheckSignature,
		StatePath: filepath.Join(t.TempDir(), "state.json"),
		Device:    image.Device{HardwareID: 1, HWLevel: 1, Profile: "STD"},
		Logger:    hclog.New(&hclog.LoggerOptions{Output: hclog.DefaultOutput, Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	v := func(s string) image.Version { x, err := image.ParseVersion(s); must(t, err); return x }
	build := func(k image.Kind, name, version string, fw ...image.FirmwareReq) []byte {
		b, err := image.Build(image.BuildOptions{Kind: k, Name: name, Version: v(version), HWLevel: 1,
			HardwareIDs: []uint32{1}, Profile: "STD", Firmware: fw}, make([]byte, 8<<10))
		must(t, err)
		return b
	}
	commit := func(b []byte, to string) {
		t.Helper()
		put(t, f, root, "/mem/x.bin", b)
		if _, err := f.Rename(root, "/mem/x.bin", to); err != nil {
			t.Fatalf("commit %s: %v", to, err)
		}
	}
	want := func(what string, good bool, lines ...string) {
		t.Helper()
		got, ok, err := f.Coherence(root)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var s []string
		for _, l := range got {
			s = append(s, l.String())
		}
		if ok != good || !slices.Equal(s, lines) {
			t.Errorf("%s: got %v %q, want %v %q", what, ok, s, good, lines)
		}
	}

	want("empty device", false, "No active application")

	commit(build(image.KindApplication, "OS_FILE.BIN", "11.7", image.FirmwareReq{Name: "DSP.BFW", MinVersion: v("1.3")},
		image.FirmwareReq{Name: "IO.BFW", MinVersion: v("2.0")}), "/dsk/OS_FILE.BIN")
	dspGood := build(image.KindFirmware, "DSP.BFW", "1.3")
	commit(dspGood, "/dsk/DSP.BFW")
	want("a firmware missing", false, "OS_FILE.BIN: OK", "DSP.BFW: OK", "IO.BFW: missing")

	commit(build(image.KindFirmware, "IO.BFW", "2.1"), "/dsk/IO.BFW")
	commit(build(image.KindBIOS, "BIOS.BIN", "3.0"), "/bio/BIOS.BIN")
	want("all good", true, "OS_FILE.BIN: OK", "DSP.BFW: OK", "IO.BFW: OK", "BIOS.BIN: OK")

	// Damage on the disk, as a failing flash or a copy by hand leaves it.
	bad := slices.Clone(dspGood)
	bad[image.HeaderSize+10] ^= 0xff
	must(t, os.WriteFile(filepath.Join(dsk, "DSP.BFW"), bad, 0o644))
	before, _ := os.ReadFile(filepath.Join(dsk, "DSP.BFW"))
	want("bad-CRC firmware", false, "OS_FILE.BIN: OK", "DSP.BFW: Bad crc of checked file", "IO.BFW: OK", "BIOS.BIN: OK")
	if after, _ := os.ReadFile(filepath.Join(dsk, "DSP.BFW")); !slices.Equal(after, before) {
		t.Error("COHERENCE changed a stored file")
	}

	must(t, os.WriteFile(filepath.Join(dsk, "DSP.BFW"), build(image.KindFirmware, "DSP.BFW", "1.2"), 0o644))
	want("firmware older than required", false, "OS_FILE.BIN: OK",
		"DSP.BFW: Firmware misbuilt (version "+v("1.2").String()+", OS_FILE.BIN requires "+v("1.3").String()+" or newer)",
		"IO.BFW: OK", "BIOS.BIN: OK")

	must(t, os.WriteFile(filepath.Join(dsk, "OS_FILE.BIN"), []byte("not an image at all"), 0o644))
	must(t, os.WriteFile(filepath.Join(dsk, "DSP.BFW"), dspGood, 0o644))
	want("application damaged", false, "OS_FILE.BIN: Unknown checked file type", "DSP.BFW: OK", "IO.BFW: OK", "BIOS.BIN: OK")

	f.coherenceMu.Lock()
	_, _, err = f.Coherence(root)
	f.coherenceMu.Unlock()
	if !errors.Is(err, ErrCoherenceBusy) {
		t.Errorf("while another runs: %v, want ErrCoherenceBusy", err)
	}
}
