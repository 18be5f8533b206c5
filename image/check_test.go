package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// memState is a State kept in maps.
type memState struct {
	stored map[Kind]map[string]Version
	app    string
	fw     []FirmwareReq
}

func (s *memState) Stored(k Kind, name string) (Version, bool) {
	v, ok := s.stored[k][name]
	return v, ok
}

func (s *memState) ActiveApp() (string, []FirmwareReq, bool) {
	return s.app, s.fw, s.app != ""
}

func testState() *memState {
	return &memState{
		stored: map[Kind]map[string]Version{
			KindApplication: {"OS_FILE.BIN": v("11.7.0")},
			KindFirmware:    {"DSP.BFW": v("1.2")},
			KindBIOS:        {"BIOS.BIN": v("2.3")},
			KindBoot:        {"BOOT.BIN": v("1.0")},
		},
		app: "OS_FILE.BIN",
		fw:  []FirmwareReq{{"DSP.BFW", v("1.2")}, {"MODEM.BFW", v("3.0.1")}},
	}
}

func testDevice() Device {
	return Device{
		SystemID: "DM724", HardwareID: 0x1a2b, HWLevel: 5, BIOSHWLevel: 2,
		BIOSVersion: v("2.1"), Profile: "STD",
		TrustedKeys: []ed25519.PublicKey{pub(testKey(1)), pub(testKey(2))},
	}
}

// checkCase is one Precheck + Postcheck scenario.
type checkCase struct {
	name       string
	file       string // target name; default OS_FILE.BIN
	data       []byte
	dev        func(*Device)
	state      State // default testState()
	noState    bool
	off        Check // checks switched off; the rest of CheckAll is on
	wantText   string
	wantReason Reason
	wantNil    bool // Precheck returns nil, nil: not checked
}

func opts(f func(*BuildOptions)) BuildOptions {
	o := appOpts()
	f(&o)
	return o
}

func fwOpts(name, ver string) func(*BuildOptions) {
	return func(o *BuildOptions) {
		o.Kind, o.Name, o.Version, o.Firmware, o.SignKey = KindFirmware, name, v(ver), nil, testKey(2)
	}
}

func checkCases(t testing.TB) []checkCase {
	img := func(f func(*BuildOptions)) []byte { return mustBuild(t, opts(f), testPayload(300)) }
	good := img(func(*BuildOptions) {})
	bios := func(o *BuildOptions) {
		o.Kind, o.Name, o.Version, o.HWLevel, o.Firmware = KindBIOS, "BIOS.BIN", v("2.4"), 2, nil
	}
	boot := func(o *BuildOptions) { o.Kind, o.Name, o.Version, o.Firmware = KindBoot, "BOOT.BIN", v("1.1"), nil }
	then := func(fs ...func(*BuildOptions)) func(*BuildOptions) {
		return func(o *BuildOptions) {
			for _, f := range fs {
				f(o)
			}
		}
	}
	unsigned := func(o *BuildOptions) { o.SignKey = nil }
	// Built unchecked: a firmware image that lists requirements.
	fwWithReqs := build(opts(then(fwOpts("DSP.BFW", "1.3"), func(o *BuildOptions) {
		o.Firmware = []FirmwareReq{{"X.BFW", v("1.0")}}
	})), nil)
	return []checkCase{
		{name: "good application", data: good},
		{name: "good application all checks off", data: good, off: CheckAll},
		{name: "not a known name", file: "os_file.img", data: []byte("anything"), wantNil: true},
		{name: "known name in lower case", file: "os_file.bin", data: good},
		{name: "winscp filepart target", file: "OS_FILE.BIN", data: good},
		// UNKNOWN
		{name: "unknown", data: []byte("#!/bin/sh\necho not an image\n"), wantText: "Unknown checked file type", wantReason: ReasonUnknownType},
		{name: "unknown zero bytes", data: nil, wantText: "Unknown checked file type", wantReason: ReasonUnknownType},
		{name: "unknown format version", data: corrupt(good, true, func(b []byte) []byte { b[offFormat+1] = 9; return b }), wantText: "Unknown checked file type", wantReason: ReasonUnknownType},
		{name: "unknown off accepts", data: []byte("not an image"), off: CheckUnknown, wantNil: true},
		// LENGTH
		{name: "length truncated", data: good[:len(good)-Align], wantText: "Bad length of checked file", wantReason: ReasonLength},
		{name: "length not multiple of 128", data: good[:len(good)-3], wantText: "Bad length of checked file", wantReason: ReasonLength},
		{name: "length appended", data: append(bytes.Clone(good), make([]byte, Align)...), wantText: "Bad length of checked file", wantReason: ReasonLength},
		{name: "length ascii mode", data: append([]byte("\x89SLU\n\x1a\n"), good[8:len(good)-1]...), wantText: "Bad length of checked file", wantReason: ReasonLength},
		{name: "length off, unknown on", data: good[:len(good)-Align], off: CheckLength, wantText: "Unknown checked file type", wantReason: ReasonUnknownType},
		{name: "length and unknown off accepts", data: good[:len(good)-Align], off: (CheckLength | CheckUnknown), wantNil: true},
		// CRC
		{name: "crc header", data: corrupt(good, false, func(b []byte) []byte { b[offHWLevel] ^= 0x80; return b }), wantText: "Bad crc of checked file", wantReason: ReasonCRC},
		{name: "crc payload", data: corrupt(good, false, func(b []byte) []byte { b[HeaderSize+10] ^= 1; return b }), wantText: "Bad crc of checked file", wantReason: ReasonCRC},
		{name: "crc payload, crc off: signature catches it", data: corrupt(good, false, func(b []byte) []byte { b[HeaderSize+10] ^= 1; return b }), off: CheckCRC, wantText: "Bad signature of checked file", wantReason: ReasonBadSignature},
		{name: "crc payload, crc and signature off", data: corrupt(good, false, func(b []byte) []byte { b[HeaderSize+10] ^= 1; return b }), off: (CheckCRC | CheckSignature)},
		// SIGNATURE
		{name: "signature missing", data: img(unsigned), wantText: "Unsigned checked file", wantReason: ReasonUnsigned},
		{name: "signature unknown key", data: img(func(o *BuildOptions) { o.SignKey = testKey(3) }), wantText: "Unknown signing key of checked file", wantReason: ReasonUnknownKey},
		{name: "signature no trusted keys", data: good, dev: func(d *Device) { d.TrustedKeys = nil }, wantText: "Unknown signing key of checked file", wantReason: ReasonUnknownKey},
		{name: "signature forged", data: resign(good, testKey(3)), wantText: "Bad signature of checked file", wantReason: ReasonBadSignature},
		{name: "signature over changed header", data: rewriteHeader(good, func(h []byte) { h[offHWLevel+3] = 9 }), wantText: "Bad signature of checked file", wantReason: ReasonBadSignature},
		{name: "signature off accepts unsigned", data: img(unsigned), off: CheckSignature},
		// HARDWARE
		{name: "hardware application", data: img(func(o *BuildOptions) { o.HWLevel = 3 }), wantText: "Application not supported by hardware level (rcvd. 3, reqd. 5)", wantReason: ReasonHWLevel},
		{name: "hardware application higher level", data: img(func(o *BuildOptions) { o.HWLevel = 9 })},
		{name: "hardware firmware", data: img(then(fwOpts("DSP.BFW", "1.3"), func(o *BuildOptions) { o.HWLevel = 4 })), wantText: "Firmware not supported by hardware level (rcvd. 4, reqd. 5).", wantReason: ReasonHWLevel},
		{name: "hardware bios", data: img(then(bios, func(o *BuildOptions) { o.HWLevel = 1 })), wantText: "BIOS not supported by hardware level (rcvd. 1, reqd. 2).", wantReason: ReasonHWLevel},
		{name: "hardware bios level falls back", data: img(bios), dev: func(d *Device) { d.BIOSHWLevel = 0 }, wantText: "BIOS not supported by hardware level (rcvd. 2, reqd. 5).", wantReason: ReasonHWLevel},
		{name: "hardware boot", data: img(then(boot, func(o *BuildOptions) { o.HWLevel = 0 })), wantText: "Boot not supported by hardware level (rcvd. 0, reqd. 5)", wantReason: ReasonHWLevel},
		{name: "hardware off", data: img(func(o *BuildOptions) { o.HWLevel = 3 }), off: CheckHardware},
		// HW-SUPPORTED
		{name: "hw-supported", data: img(func(o *BuildOptions) { o.HardwareIDs = []uint32{0x9999, 0x1a2a} }), wantText: "Application not supported by present hardware", wantReason: ReasonHWSupported},
		{name: "hw-supported bios", data: img(then(bios, func(o *BuildOptions) { o.HardwareIDs = []uint32{1} })), wantText: "BIOS not supported by present hardware", wantReason: ReasonHWSupported},
		{name: "hw-supported empty list", data: build(opts(func(o *BuildOptions) { o.HardwareIDs = nil }), nil), wantText: "Application not supported by present hardware", wantReason: ReasonHWSupported},
		{name: "hw-supported second id", data: img(func(o *BuildOptions) { o.HardwareIDs = []uint32{0x9999, 0x1a2b} })},
		{name: "hw-supported off", data: img(func(o *BuildOptions) { o.HardwareIDs = []uint32{1} }), off: CheckHWSupported},
		// BIOS
		{name: "bios", data: img(func(o *BuildOptions) { o.MinBIOS = v("2.2") }), wantText: "Application not supported by present BIOS", wantReason: ReasonBIOS},
		{name: "bios equal", data: img(func(o *BuildOptions) { o.MinBIOS = v("2.1") })},
		{name: "bios firmware", data: img(then(fwOpts("DSP.BFW", "1.3"), func(o *BuildOptions) { o.MinBIOS = v("3.0") })), wantText: "Firmware not supported by present BIOS", wantReason: ReasonBIOS},
		{name: "bios not applied to bios images", data: img(then(bios, func(o *BuildOptions) { o.MinBIOS = v("9.0") }))},
		{name: "bios off", data: img(func(o *BuildOptions) { o.MinBIOS = v("2.2") }), off: CheckBIOS},
		// PROFILE
		{name: "profile", data: img(func(o *BuildOptions) { o.Profile = "ADV" }), wantText: "Application incompatible with the stored profile", wantReason: ReasonProfile},
		{name: "profile empty fits all", data: img(func(o *BuildOptions) { o.Profile = "" })},
		{name: "profile case", data: good, dev: func(d *Device) { d.Profile = "std" }},
		{name: "profile off", data: img(func(o *BuildOptions) { o.Profile = "ADV" }), off: CheckProfile},
		// VERSION
		{name: "version application", data: img(func(o *BuildOptions) { o.Version = v("11.6.9") }), wantText: "Application older than the one stored", wantReason: ReasonOlder},
		{name: "version equal", data: img(func(o *BuildOptions) { o.Version = v("11.7") })},
		{name: "version other name", data: img(func(o *BuildOptions) { o.Name, o.Version = "OTHER.BIN", v("1.0") })},
		{name: "version firmware", data: img(fwOpts("DSP.BFW", "1.1")), wantText: "Firmware older than the one stored", wantReason: ReasonOlder},
		{name: "version bios", data: img(then(bios, func(o *BuildOptions) { o.Version = v("2.2.9") })), wantText: "BIOS older than the stored one", wantReason: ReasonOlder},
		{name: "version boot", data: img(then(boot, func(o *BuildOptions) { o.Version = v("0.9") })), wantText: "Version older than the stored one", wantReason: ReasonOlder},
		{name: "version off", data: img(func(o *BuildOptions) { o.Version = v("1.0") }), off: CheckVersion},
		{name: "version needs state", data: good, noState: true, wantText: ErrNoState.Error()},
		// FIRMWARE
		{name: "firmware required", data: img(fwOpts("MODEM.BFW", "3.0.1")), file: "MODEM.BFW"},
		{name: "firmware not required", data: img(fwOpts("ISDN.BFW", "1.0")), wantText: "Firmware not required", wantReason: ReasonFirmwareNotRequired},
		{name: "firmware unknown", data: img(fwOpts("DSP.BFW", "1.3")), state: &memState{}, wantText: "Firmware unknown", wantReason: ReasonFirmwareUnknown},
		{name: "firmware misbuilt: requirements", data: fwWithReqs, off: CheckSignature, wantText: "Firmware misbuilt", wantReason: ReasonFirmwareMisbuilt},
		{name: "firmware misbuilt: below required", data: img(fwOpts("MODEM.BFW", "3.0")), wantText: "Firmware misbuilt", wantReason: ReasonFirmwareMisbuilt},
		{name: "firmware off", data: img(fwOpts("ISDN.BFW", "1.0")), off: CheckFirmware},
		{name: "firmware check skips applications", data: good, state: &memState{stored: testState().stored}},
	}
}

// resign replaces the signature of b with one by other while keeping the
// trusted key ID, as a forger without the trusted key would.
func resign(b []byte, other ed25519.PrivateKey) []byte {
	im, err := parseBytes(b)
	if err != nil {
		panic(err)
	}
	c := bytes.Clone(b)
	sum := sha256.Sum256(c[:im.SignedLen])
	copy(c[im.SignedLen+recordHeaderSize+KeyIDSize:], ed25519.Sign(other, sum[:]))
	return c
}

// rewriteHeader edits the header and fixes its CRC, as an attacker could,
// leaving the signature stale.
func rewriteHeader(b []byte, f func([]byte)) []byte {
	c := bytes.Clone(b)
	f(c[:HeaderSize])
	fixHeaderCRC(c)
	return c
}

// commit runs Precheck, streams the bytes through a Digest in odd-sized
// chunks, and runs Postcheck, as vfs does.
func commit(c checkCase) (*Image, error) {
	name := c.file
	if name == "" {
		name = "OS_FILE.BIN"
	}
	dev := testDevice()
	if c.dev != nil {
		c.dev(&dev)
	}
	var st State = testState()
	if c.state != nil {
		st = c.state
	}
	if c.noState {
		st = nil
	}
	on := CheckAll &^ c.off
	im, err := Precheck(bytes.NewReader(c.data), int64(len(c.data)), name, dev, st, on)
	if err != nil {
		return im, err
	}
	d := im.NewDigest()
	for p := c.data; len(p) > 0; {
		n := min(len(p), 97)
		d.Write(p[:n])
		p = p[n:]
	}
	if got, want := d.FileSHA256(), sha256.Sum256(c.data); got != want {
		return im, errors.New("file sha256 mismatch")
	}
	return im, Postcheck(im, d, dev, on)
}

func TestChecks(t *testing.T) {
	for _, c := range checkCases(t) {
		t.Run(c.name, func(t *testing.T) {
			im, err := commit(c)
			switch {
			case c.wantText == "" && err != nil:
				t.Fatalf("got error %q, want success", err)
			case c.wantText == "":
				if (im == nil) != c.wantNil {
					t.Errorf("got image %v, want nil %v", im != nil, c.wantNil)
				}
				return
			case err == nil:
				t.Fatalf("got success, want %q", c.wantText)
			case err.Error() != c.wantText:
				t.Fatalf("got %q, want %q", err, c.wantText)
			}
			if c.wantReason == 0 {
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCheck) {
				t.Fatalf("got %T, want *CheckError matching ErrCheck", err)
			}
			if ce.Reason != c.wantReason {
				t.Errorf("got reason %v, want %v", ce.Reason, c.wantReason)
			}
			if im != nil && ce.Kind != im.Kind {
				t.Errorf("got kind %v, want the image's %v", ce.Kind, im.Kind)
			}
		})
	}
}

// TestCheckErrorFields: what a front end's table needs is in the error's
// fields, not in its text.
func TestCheckErrorFields(t *testing.T) {
	img := func(f func(*BuildOptions)) []byte { return mustBuild(t, opts(f), testPayload(300)) }
	tests := []struct {
		name       string
		data       []byte
		dev        func(*Device)
		check      Check
		reason     Reason
		kind       Kind
		rcvd, reqd uint32
	}{
		{name: "not an image", data: []byte("no"), check: CheckUnknown, reason: ReasonUnknownType},
		{name: "hardware application", data: img(func(o *BuildOptions) { o.HWLevel = 3 }),
			check: CheckHardware, reason: ReasonHWLevel, kind: KindApplication, rcvd: 3, reqd: 5},
		{name: "hardware bios", data: img(func(o *BuildOptions) {
			o.Kind, o.Name, o.Version, o.HWLevel, o.Firmware = KindBIOS, "BIOS.BIN", v("2.4"), 1, nil
		}), check: CheckHardware, reason: ReasonHWLevel, kind: KindBIOS, rcvd: 1, reqd: 2},
		{name: "version bios", data: img(func(o *BuildOptions) {
			o.Kind, o.Name, o.Version, o.HWLevel, o.Firmware = KindBIOS, "BIOS.BIN", v("1.0"), 2, nil
		}), check: CheckVersion, reason: ReasonOlder, kind: KindBIOS},
		{name: "firmware not required", data: img(fwOpts("ISDN.BFW", "1.0")),
			check: CheckFirmware, reason: ReasonFirmwareNotRequired, kind: KindFirmware},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := commit(checkCase{data: tt.data, dev: tt.dev})
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *CheckError", err)
			}
			if ce.Check != tt.check || ce.Reason != tt.reason || ce.Kind != tt.kind || ce.Rcvd != tt.rcvd || ce.Reqd != tt.reqd {
				t.Errorf("got %v %v %v rcvd %d reqd %d, want %v %v %v rcvd %d reqd %d",
					ce.Check, ce.Reason, ce.Kind, ce.Rcvd, ce.Reqd, tt.check, tt.reason, tt.kind, tt.rcvd, tt.reqd)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	for r := ReasonUnknownType; r <= ReasonAltFS; r++ {
		if s := r.String(); s == "" || strings.HasPrefix(s, "reason(") {
			t.Errorf("Reason(%d) has no name: %q", uint8(r), s)
		}
		if got := (&CheckError{Reason: r, Kind: KindApplication}).Error(); strings.HasPrefix(got, ErrCheck.Error()) {
			t.Errorf("Reason %v has no message: %q", r, got)
		}
	}
	if got := Reason(0).String(); got != "reason(0)" {
		t.Errorf("Reason(0): got %q", got)
	}
}

func TestPostcheckChanged(t *testing.T) {
	good := mustBuild(t, appOpts(), testPayload(500))
	dev := testDevice()
	im, err := Precheck(bytes.NewReader(good), int64(len(good)), "OS_FILE.BIN", dev, testState(), CheckAll)
	if err != nil {
		t.Fatal(err)
	}
	other := mustBuild(t, opts(func(o *BuildOptions) { o.HWLevel = 6 }), testPayload(500))
	tests := []struct {
		name   string
		stream []byte
	}{
		{"short", good[:len(good)-1]},
		{"long", append(bytes.Clone(good), 0)},
		{"other header", other},
		{"other tail", corrupt(good, false, func(b []byte) []byte { b[len(b)-1] = 1; return b })},
	}
	for _, tt := range tests {
		d := im.NewDigest()
		d.Write(tt.stream)
		// Even with every check off, changed bytes are refused.
		if err := Postcheck(im, d, dev, 0); !errors.Is(err, ErrChanged) {
			t.Errorf("%s: Postcheck = %v, want ErrChanged", tt.name, err)
		}
	}
	if err := Postcheck(im, (*Image)(nil).NewDigest(), dev, CheckAll); err == nil {
		t.Error("Postcheck with another image's digest: got nil")
	}
	if err := Postcheck(nil, nil, dev, CheckAll); err != nil {
		t.Errorf("Postcheck(nil) = %v", err)
	}
}

func TestDigest(t *testing.T) {
	b := mustBuild(t, appOpts(), testPayload(5000))
	im, err := parseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	wantSigned := sha256.Sum256(b[:im.SignedLen])
	wantFile := sha256.Sum256(b)
	wantCRC := crc32.ChecksumIEEE(testPayload(5000))
	for _, chunk := range []int{1, 7, 128, 256, 4096, len(b)} {
		d := im.NewDigest()
		for p := b; len(p) > 0; {
			n := min(chunk, len(p))
			if w, err := d.Write(p[:n]); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			p = p[n:]
		}
		signed, ok := d.SignedSHA256()
		if !ok || signed != wantSigned {
			t.Errorf("chunk %d: signed digest %x (%v), want %x", chunk, signed, ok, wantSigned)
		}
		if got := d.FileSHA256(); got != wantFile {
			t.Errorf("chunk %d: file digest %x, want %x", chunk, got, wantFile)
		}
		if d.PayloadCRC() != wantCRC || d.Len() != int64(len(b)) || !d.complete() {
			t.Errorf("chunk %d: crc %08x len %d complete %v", chunk, d.PayloadCRC(), d.Len(), d.complete())
		}
	}
	// A nil image still gives the file SHA-256.
	d := (*Image)(nil).NewDigest()
	d.Write(b)
	if d.FileSHA256() != wantFile {
		t.Error("nil-image digest: wrong file SHA-256")
	}
	if _, ok := d.SignedSHA256(); ok {
		t.Error("nil-image digest has a signed digest")
	}
}

func TestParseChecks(t *testing.T) {
	tests := []struct {
		in      []string
		want    Check
		str     string
		letters string
		wantErr bool
	}{
		{in: []string{"all"}, want: CheckAll, str: "all", letters: "ALL"},
		{in: nil, want: 0, str: "none", letters: "NONE"},
		{in: []string{"none"}, want: 0, str: "none", letters: "NONE"},
		{in: []string{"CRC", "length"}, want: CheckCRC | CheckLength, str: "crc,length", letters: "-CL-----------"},
		{in: []string{"all", "no signature"}, want: CheckAll &^ CheckSignature, str: "path,crc,length,bios,firmware,version,rename,delete,system,unknown,hardware,hw-supported,profile", letters: "PCLBFVRDSUHWE-"},
		{in: []string{"all", "no-hw-supported", "no profile", "no signature"}, want: CheckAll &^ (CheckHWSupported | CheckProfile | CheckSignature), letters: "PCLBFVRDSUH---"},
		{in: []string{"hw_supported", "HW Supported", "hwsupported"}, want: CheckHWSupported, str: "hw-supported", letters: "-----------W--"},
		{in: []string{"signature", "profile"}, want: CheckSignature | CheckProfile, str: "profile,signature", letters: "------------EG"},
		{in: []string{"all", "none", "bios"}, want: CheckBIOS, str: "bios", letters: "---B----------"},
		{in: []string{"compatible"}, wantErr: true},
		{in: []string{"no none"}, wantErr: true},
		{in: []string{""}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseChecks(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseChecks(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got != tt.want {
			t.Errorf("ParseChecks(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if tt.str != "" && got.String() != tt.str {
			t.Errorf("ParseChecks(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
		if got.Letters() != tt.letters {
			t.Errorf("ParseChecks(%q).Letters() = %q, want %q", tt.in, got.Letters(), tt.letters)
		}
		// String round-trips through ParseChecks.
		back, err := ParseChecks(strings.Split(got.String(), ","))
		if err != nil || back != got {
			t.Errorf("ParseChecks(%q) = %#x, %v; want %#x", got.String(), back, err, got)
		}
	}
	if n := len(CheckAll.Names()); n != 14 {
		t.Errorf("CheckAll has %d names, want 14", n)
	}
}

func TestEvaluated(t *testing.T) {
	tests := []struct {
		kind Kind
		want Check
	}{
		{KindApplication, CheckAll &^ Actions &^ CheckFirmware},
		{KindBIOS, CheckAll &^ Actions &^ CheckFirmware &^ CheckBIOS},
		{KindFirmware, CheckAll &^ Actions},
	}
	for _, tt := range tests {
		if got := Evaluated(tt.kind, CheckAll); got != tt.want {
			t.Errorf("Evaluated(%v) = %v, want %v", tt.kind, got, tt.want)
		}
	}
}

func TestTargetFS(t *testing.T) {
	for k, want := range map[Kind]string{KindApplication: "dsk", KindBIOS: "bio", KindFirmware: "dsk", KindBoot: "dsk"} {
		if got := TargetFS(&Image{Kind: k}); got != want {
			t.Errorf("TargetFS(%v) = %q, want %q", k, got, want)
		}
	}
	if TargetFS(nil) != "" {
		t.Error(`TargetFS(nil) != ""`)
	}
}

func TestVerifySignatureBadKeys(t *testing.T) {
	b := mustBuild(t, appOpts(), nil)
	im, _ := parseBytes(b)
	sum := sha256.Sum256(b[:im.SignedLen])
	// Malformed keys are skipped, never passed to ed25519.Verify.
	keys := []ed25519.PublicKey{nil, make([]byte, 5), pub(testKey(1))}
	if err := im.VerifySignature(sum, keys); err != nil {
		t.Errorf("VerifySignature = %v", err)
	}
	sum[0] ^= 1
	if err := im.VerifySignature(sum, keys); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifySignature(wrong digest) = %v, want ErrBadSignature", err)
	}
}
