package image

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary files to Parse and, through Precheck, Digest
// and Postcheck, to the whole commit check. Nothing may panic; a parsed
// image must satisfy the format's invariants. The seeds are every image
// the unit tests use.
func FuzzParse(f *testing.F) {
	for _, c := range checkCases(f) {
		f.Add(c.data)
	}
	for _, c := range badImages(f) {
		f.Add(c.data)
	}
	if golden, err := os.ReadFile(filepath.Join("testdata", "example.bin")); err == nil {
		f.Add(golden)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := parseBytes(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || im != nil {
				t.Fatalf("Parse = %v, %v; want nil, *ParseError", im, err)
			}
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrLength) && !errors.Is(err, ErrHeaderCRC) {
				t.Fatalf("Parse error %v has no kind", err)
			}
		} else {
			switch {
			case im.Size != int64(len(data)) || im.Size%Align != 0:
				t.Fatalf("Size %d for %d bytes", im.Size, len(data))
			case !im.Kind.Valid() || validName(im.Name) != nil || validProfile(im.Profile) != nil:
				t.Fatalf("invalid fields accepted: %+v", im)
			case len(im.HardwareIDs) > MaxHardwareIDs || len(im.Firmware) > MaxRecords:
				t.Fatalf("too many entries: %+v", im)
			case im.Signed() != (im.SignedLen > 0) || im.SignedLen > im.Size || (im.Signed() && im.SignedLen < im.payloadEnd()):
				t.Fatalf("SignedLen %d, size %d, payload end %d", im.SignedLen, im.Size, im.payloadEnd())
			case uint64(im.Size) < HeaderSize+im.PayloadLen:
				t.Fatalf("payload of %d bytes in a %d-byte file", im.PayloadLen, im.Size)
			}
		}
		for _, name := range []string{"FUZZ.BIN", "FUZZ.BFW"} {
			got, err := Precheck(bytes.NewReader(data), int64(len(data)), name, testDevice(), testState(), CheckAll)
			if err != nil {
				continue
			}
			d := got.NewDigest()
			d.Write(data)
			Postcheck(got, d, testDevice(), CheckAll)
		}
	})
}
