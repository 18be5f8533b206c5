package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// testKey is a fixed key so that golden images are reproducible.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func v(s string) Version {
	ver, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return ver
}

// appOpts is the example application.
func appOpts() BuildOptions {
	return BuildOptions{
		Kind: KindApplication, Name: "OS_FILE.BIN", Version: v("11.7.3"),
		HWLevel: 5, MinBIOS: v("2.1"), HardwareIDs: []uint32{0x1a2b, 0x1a2c}, Profile: "STD",
		Firmware: []FirmwareReq{{"DSP.BFW", v("1.2")}, {"MODEM.BFW", v("3.0.1")}},
		SignKey:  testKey(1),
	}
}

func mustBuild(t testing.TB, o BuildOptions, payload []byte) []byte {
	t.Helper()
	b, err := Build(o, payload)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

func testPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

func parseBytes(b []byte) (*Image, error) { return Parse(bytes.NewReader(b), int64(len(b))) }

func TestVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		str     string
		wantErr bool
	}{
		{in: "11.7.3", want: Version{11, 7, 3, 0}, str: "11.7.3"},
		{in: "2.1", want: Version{2, 1, 0, 0}, str: "2.1"},
		{in: "10.6.69.1", want: Version{10, 6, 69, 1}, str: "10.6.69.1"},
		{in: "1.0.0.5", want: Version{1, 0, 0, 5}, str: "1.0.0.5"},
		{in: "7", want: Version{7, 0, 0, 0}, str: "7.0"},
		{in: "65535.0", want: Version{65535, 0, 0, 0}, str: "65535.0"},
		{in: "", wantErr: true},
		{in: "1.2.3.4.5", wantErr: true},
		{in: "1..2", wantErr: true},
		{in: "65536", wantErr: true},
		{in: "+1.2", wantErr: true},
		{in: "1.-2", wantErr: true},
		{in: " 1.2", wantErr: true},
		{in: "v1.2", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got != tt.want || got.String() != tt.str {
			t.Errorf("ParseVersion(%q) = %v (%q), want %v (%q)", tt.in, got, got.String(), tt.want, tt.str)
		}
	}
	cmp := []struct {
		a, b string
		want int
	}{
		{"11.7.3", "11.7.3", 0}, {"11.7.3", "11.7.4", -1}, {"11.8", "11.7.9", 1},
		{"2.0", "10.0", -1}, {"1.0.0.1", "1.0", 1},
	}
	for _, c := range cmp {
		if got := v(c.a).Compare(v(c.b)); got != c.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestIsKnownName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"OS_FILE.BIN", true}, {"os_file.bin", true}, {"dsp.Bfw", true}, {"x.y.BIN", true},
		{"os_file.bin.filepart", false}, {"BIN", false}, {"config.cfg", false}, {"a.bi", false}, {"", false},
	}
	for _, tt := range tests {
		if got := IsKnownName(tt.name); got != tt.want {
			t.Errorf("IsKnownName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKind(t *testing.T) {
	for k := KindApplication; k <= KindBoot; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := ParseKind("kernel"); err == nil {
		t.Error("ParseKind(kernel): got nil error")
	}
	if got := Kind(9).String(); got != "kind(9)" {
		t.Errorf("Kind(9).String() = %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	bios := BuildOptions{Kind: KindBIOS, Name: "bios.bin", Version: v("2.3"), HWLevel: 1, HardwareIDs: []uint32{7}}
	fw := BuildOptions{Kind: KindFirmware, Name: "DSP.BFW", Version: v("1.4"), HWLevel: 5, HardwareIDs: []uint32{0x1a2b}, SignKey: testKey(2)}
	max := appOpts()
	max.HardwareIDs = make([]uint32, MaxHardwareIDs)
	for i := range max.HardwareIDs {
		max.HardwareIDs[i] = uint32(i + 1)
	}
	tests := []struct {
		name    string
		o       BuildOptions
		payload int
	}{
		{"application signed", appOpts(), 1000},
		{"bios unsigned empty payload", bios, 0},
		{"firmware signed aligned", fw, 1024 - HeaderSize - signatureRecordSize},
		{"max hardware ids", max, 128},
		{"boot", BuildOptions{Kind: KindBoot, Name: "BOOT.BIN", Version: v("1.0"), HardwareIDs: []uint32{1}, Profile: "std"}, 77},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := testPayload(tt.payload)
			b := mustBuild(t, tt.o, payload)
			if len(b)%Align != 0 {
				t.Fatalf("len = %d, not a multiple of %d", len(b), Align)
			}
			im, err := parseBytes(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := &Image{
				Kind: tt.o.Kind, Name: upper(tt.o.Name), Version: tt.o.Version, HWLevel: tt.o.HWLevel,
				MinBIOS: tt.o.MinBIOS, HardwareIDs: tt.o.HardwareIDs, Profile: upper(tt.o.Profile),
				PayloadLen: uint64(len(payload)), PayloadCRC: crc32.ChecksumIEEE(payload),
				Firmware: tt.o.Firmware, Size: int64(len(b)),
			}
			if tt.o.SignKey != nil {
				want.KeyID = KeyID(pub(tt.o.SignKey))
				want.SignedLen = int64(HeaderSize + len(payload) + len(tt.o.Firmware)*(recordHeaderSize+firmwareBodySize))
				want.Signature = im.Signature
				if !ed25519.Verify(pub(tt.o.SignKey), sha256Of(b[:want.SignedLen]), im.Signature) {
					t.Error("signature does not verify over SHA-256 of the signed bytes")
				}
			}
			want.header, want.tail = im.header, im.tail
			if !reflect.DeepEqual(im, want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", im, want)
			}
			if got := b[HeaderSize : HeaderSize+len(payload)]; !bytes.Equal(got, payload) {
				t.Error("payload not at offset 256")
			}
			d := im.NewDigest()
			d.Write(b)
			if err := Postcheck(im, d, Device{TrustedKeys: []ed25519.PublicKey{pub(testKey(1)), pub(testKey(2))}}, CheckCRC|CheckSignature&checkSigIf(tt.o.SignKey != nil)); err != nil {
				t.Errorf("Postcheck: %v", err)
			}
		})
	}
}

func checkSigIf(b bool) Check {
	if b {
		return CheckSignature
	}
	return 0
}

func upper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestBuildRefuses(t *testing.T) {
	mod := func(f func(*BuildOptions)) BuildOptions { o := appOpts(); f(&o); return o }
	tests := []struct {
		name string
		o    BuildOptions
	}{
		{"no kind", mod(func(o *BuildOptions) { o.Kind = 0 })},
		{"long name", mod(func(o *BuildOptions) { o.Name = "OS_FILE12.BIN" })},
		{"bad extension", mod(func(o *BuildOptions) { o.Name = "OS_FILE.EXE" })},
		{"space in name", mod(func(o *BuildOptions) { o.Name = "OS FILE.BIN" })},
		{"application named BFW", mod(func(o *BuildOptions) { o.Name = "OS_FILE.BFW" })},
		{"firmware named BIN", mod(func(o *BuildOptions) { o.Kind, o.Name, o.Firmware = KindFirmware, "DSP.BIN", nil })},
		{"no hardware ids", mod(func(o *BuildOptions) { o.HardwareIDs = nil })},
		{"33 hardware ids", mod(func(o *BuildOptions) { o.HardwareIDs = make([]uint32, 33) })},
		{"long profile", mod(func(o *BuildOptions) { o.Profile = "ABCDEFGHI" })},
		{"bad profile", mod(func(o *BuildOptions) { o.Profile = "S.D" })},
		{"firmware needs firmware", mod(func(o *BuildOptions) { o.Kind, o.Name = KindFirmware, "DSP.BFW" })},
		{"required firmware named BIN", mod(func(o *BuildOptions) { o.Firmware = []FirmwareReq{{"DSP.BIN", v("1.0")}} })},
		{"required twice", mod(func(o *BuildOptions) { o.Firmware = []FirmwareReq{{"DSP.BFW", v("1.0")}, {"dsp.bfw", v("2.0")}} })},
		{"64 requirements", mod(func(o *BuildOptions) { o.Firmware = make([]FirmwareReq, 64) })},
		{"short key", mod(func(o *BuildOptions) { o.SignKey = o.SignKey[:32] })},
	}
	for _, tt := range tests {
		if _, err := Build(tt.o, nil); err == nil {
			t.Errorf("%s: Build succeeded, want an error", tt.name)
		}
	}
	// Build must not change the caller's slices.
	o := appOpts()
	o.Firmware = []FirmwareReq{{"dsp.bfw", v("1.0")}}
	mustBuild(t, o, nil)
	if o.Firmware[0].Name != "dsp.bfw" {
		t.Errorf("Build changed the caller's firmware list to %q", o.Firmware[0].Name)
	}
}

// fixHeaderCRC recomputes the header checksum after a test edits a field.
func fixHeaderCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offHeaderCRC:], crc32.ChecksumIEEE(b[:offHeaderCRC]))
}

// corrupt returns a copy of b changed by f; fix recomputes the header CRC.
func corrupt(b []byte, fix bool, f func([]byte) []byte) []byte {
	c := f(bytes.Clone(b))
	if fix && len(c) >= HeaderSize {
		fixHeaderCRC(c)
	}
	return c
}

// withRecords replaces the records of an unsigned image with recs (each
// type, body), padding as needed.
func withRecords(base []byte, payloadLen int, recs ...[]byte) []byte {
	area := bytes.Join(recs, nil)
	out := append(bytes.Clone(base[:HeaderSize+payloadLen]), area...)
	for len(out)%Align != 0 {
		out = append(out, 0)
	}
	binary.BigEndian.PutUint32(out[offRecordsLen:], uint32(len(area)))
	fixHeaderCRC(out)
	return out
}

func record(typ uint16, body []byte) []byte {
	r := binary.BigEndian.AppendUint16(nil, typ)
	r = binary.BigEndian.AppendUint16(r, uint16(len(body)))
	return append(r, body...)
}

func fwBody(name string, ver Version) []byte {
	b := make([]byte, firmwareBodySize)
	copy(b, name)
	putVersion(b[NameSize:], ver)
	return b
}

// badImages are malformed files with the parse error each must give. They
// seed the fuzzer too.
func badImages(t testing.TB) []struct {
	name string
	data []byte
	want error
} {
	o := appOpts()
	good := mustBuild(t, o, testPayload(1000))
	o.SignKey, o.Firmware = nil, nil
	const pl = 100
	plain := mustBuild(t, o, testPayload(pl))
	be := binary.BigEndian
	return []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotImage},
		{"text", []byte("hello, world\n"), ErrNotImage},
		{"zip", append([]byte("PK\x03\x04"), make([]byte, 300)...), ErrNotImage},
		{"magic only", []byte(Magic), ErrLength},
		{"magic prefix", []byte(Magic[:5]), ErrLength},
		{"half header", good[:HeaderSize/2], ErrLength},
		{"header only", good[:HeaderSize], ErrLength},
		{"truncated at 128", good[:len(good)-Align], ErrLength},
		{"truncated by 1", good[:len(good)-1], ErrLength},
		{"one extra byte", append(bytes.Clone(good), 0), ErrLength},
		{"128 extra bytes", append(bytes.Clone(good), make([]byte, Align)...), ErrLength},
		{"ascii mode lf", corrupt(good, false, func(b []byte) []byte { return append([]byte("\x89SLU\n\x1a\n"), b[8:]...) }), ErrLength},
		{"ascii mode crlf", corrupt(good, false, func(b []byte) []byte { return append([]byte("\x89SLU\r\r\n\x1a\r\n"), b[8:]...) }), ErrLength},
		{"header crc", corrupt(good, false, func(b []byte) []byte { b[offHeaderCRC] ^= 1; return b }), ErrHeaderCRC},
		{"header bit flip", corrupt(good, false, func(b []byte) []byte { b[offHWLevel+3] ^= 4; return b }), ErrHeaderCRC},
		{"format version 2", corrupt(good, true, func(b []byte) []byte { b[offFormat+1] = 2; return b }), ErrFormat},
		{"header size 512", corrupt(good, true, func(b []byte) []byte { be.PutUint16(b[offHeaderSize:], 512); return b }), ErrFormat},
		{"kind 0", corrupt(good, true, func(b []byte) []byte { b[offKind] = 0; return b }), ErrFormat},
		{"kind 5", corrupt(good, true, func(b []byte) []byte { b[offKind] = 5; return b }), ErrFormat},
		{"flags", corrupt(good, true, func(b []byte) []byte { b[offFlags+1] = 1; return b }), ErrFormat},
		{"empty name", corrupt(good, true, func(b []byte) []byte { clear(b[offName : offName+NameSize]); return b }), ErrFormat},
		{"lower-case name", corrupt(good, true, func(b []byte) []byte { b[offName] = 'o'; return b }), ErrFormat},
		{"text after name nul", corrupt(good, true, func(b []byte) []byte { b[offName+NameSize-1] = 'X'; return b }), ErrFormat},
		{"application named BFW", corrupt(good, true, func(b []byte) []byte { copy(b[offName+8:], "BFW"); return b }), ErrFormat},
		{"bad profile", corrupt(good, true, func(b []byte) []byte { b[offProfile] = '.'; return b }), ErrFormat},
		{"33 hardware ids", corrupt(good, true, func(b []byte) []byte { b[offHWCount] = 33; return b }), ErrFormat},
		{"255 hardware ids", corrupt(good, true, func(b []byte) []byte { b[offHWCount] = 255; return b }), ErrFormat},
		{"unused hardware id", corrupt(good, true, func(b []byte) []byte { b[offHWIDs+4*5] = 1; return b }), ErrFormat},
		{"reserved", corrupt(good, true, func(b []byte) []byte { b[offReserved+10] = 1; return b }), ErrFormat},
		{"records length over max", corrupt(good, true, func(b []byte) []byte { be.PutUint32(b[offRecordsLen:], MaxRecordsLen+1); return b }), ErrFormat},
		{"records length huge", corrupt(good, true, func(b []byte) []byte { be.PutUint32(b[offRecordsLen:], 0xffffffff); return b }), ErrFormat},
		{"payload length huge", corrupt(good, true, func(b []byte) []byte { be.PutUint64(b[offPayloadLen:], 1<<63); return b }), ErrLength},
		{"payload length max", corrupt(good, true, func(b []byte) []byte { be.PutUint64(b[offPayloadLen:], ^uint64(0)); return b }), ErrLength},
		{"payload length short", corrupt(good, true, func(b []byte) []byte { be.PutUint64(b[offPayloadLen:], 500); return b }), ErrLength},
		{"padding not zero", corrupt(good, false, func(b []byte) []byte { b[len(b)-1] = 1; return b }), ErrFormat},
		{"record type 0", withRecords(plain, pl, record(0, nil)), ErrFormat},
		{"unknown critical record", withRecords(plain, pl, record(0x0003, []byte("x"))), ErrFormat},
		{"firmware record short", withRecords(plain, pl, record(RecordFirmware, make([]byte, 19))), ErrFormat},
		{"firmware record bin", withRecords(plain, pl, record(RecordFirmware, fwBody("DSP.BIN", v("1.0")))), ErrFormat},
		{"firmware twice", withRecords(plain, pl, record(RecordFirmware, fwBody("DSP.BFW", v("1.0"))), record(RecordFirmware, fwBody("DSP.BFW", v("2.0")))), ErrFormat},
		{"record past area", withRecords(plain, pl, record(RecordFirmware, fwBody("DSP.BFW", v("1.0")))[:10]), ErrFormat},
		{"record header cut", withRecords(plain, pl, []byte{0, 1}), ErrFormat},
		{"signature short", withRecords(plain, pl, record(RecordSignature, make([]byte, 71))), ErrFormat},
		{"record after signature", withRecords(plain, pl, record(RecordSignature, make([]byte, signatureBodySize)), record(RecordOptional|5, nil)), ErrFormat},
		{"65 records", withRecords(plain, pl, bytes.Repeat(record(RecordOptional|1, nil), 65)), ErrFormat},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range badImages(t) {
		t.Run(tt.name, func(t *testing.T) {
			im, err := parseBytes(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || im != nil {
				t.Errorf("Parse = %v, %T; want nil, *ParseError", im, err)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	o := appOpts()
	o.SignKey, o.Firmware = nil, nil
	plain := mustBuild(t, o, testPayload(10))
	tests := []struct {
		name string
		data []byte
		fw   int
	}{
		{"optional record skipped", withRecords(plain, 10, record(RecordOptional|7, []byte("vendor data"))), 0},
		{"64 records", withRecords(plain, 10, bytes.Repeat(record(RecordOptional|1, nil), 63), record(RecordFirmware, fwBody("A.BFW", v("1.0")))), 1},
		{"signature record last", withRecords(plain, 10, record(RecordFirmware, fwBody("A.BFW", v("1.0"))), record(RecordSignature, make([]byte, signatureBodySize))), 1},
	}
	for _, tt := range tests {
		im, err := parseBytes(tt.data)
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
			continue
		}
		if len(im.Firmware) != tt.fw {
			t.Errorf("%s: %d firmware requirements, want %d", tt.name, len(im.Firmware), tt.fw)
		}
	}
}

// countingReader serves an image whose header claims a huge payload, and
// counts the bytes read.
type countingReader struct {
	head []byte
	read int64
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.read += int64(len(p))
	clear(p)
	if off < int64(len(r.head)) {
		copy(p, r.head[off:])
	}
	return len(p), nil
}

func TestParseReadsLittle(t *testing.T) {
	o := appOpts()
	o.SignKey, o.Firmware = nil, nil
	h := mustBuild(t, o, nil)[:HeaderSize]
	const size = 1 << 40
	binary.BigEndian.PutUint64(h[offPayloadLen:], size-HeaderSize-Align)
	binary.BigEndian.PutUint32(h[offRecordsLen:], 100)
	fixHeaderCRC(h)
	r := &countingReader{head: h}
	_, err := Parse(r, size)
	// The zero records area is one record of type 0: malformed, but only
	// after reading the 128-byte tail.
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("Parse error = %v, want ErrFormat", err)
	}
	if r.read > HeaderSize+MaxRecordsLen+Align {
		t.Errorf("Parse read %d bytes of a %d-byte file", r.read, int64(size))
	}
	allocs := testing.AllocsPerRun(10, func() { Parse(&countingReader{head: h}, size) })
	if allocs > 20 {
		t.Errorf("Parse made %v allocations", allocs)
	}
}

// TestGolden keeps the format stable: testdata/example.bin is the worked
// example in docs/image-format.md.
func TestGolden(t *testing.T) {
	o := BuildOptions{
		Kind: KindApplication, Name: "OS_FILE.BIN", Version: v("11.7.3"), HWLevel: 5,
		MinBIOS: v("2.1"), HardwareIDs: []uint32{0x1a2b}, Profile: "STD",
		Firmware: []FirmwareReq{{"DSP.BFW", v("1.2")}},
		SignKey:  testKey(1),
	}
	got := mustBuild(t, o, []byte("hello, device\n"))
	path := filepath.Join("testdata", "example.bin")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Build output differs from %s; if the format changed on purpose, run go test -update and update docs/image-format.md", path)
	}
}
