package ftpgateway

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice/sluice/image"
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
	c.want("CWD /dsk", "200 CWD command successful.")
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
