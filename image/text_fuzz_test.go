package image

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

// The text parsers behind the configuration and the command line
// (device.bios_version, checks.enabled, device.trusted_keys, image build
// --version and --kind, image keygen's files). Seeds are the unit tests'
// tables.

// FuzzParseVersion: an accepted version prints as a string that parses
// back to it, and compares equal to itself.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"11.7.3", "2.1", "10.6.69.1", "1.0.0.5", "7", "65535.0", "", "1.2.3.4.5",
		"1..2", "65536", "+1.2", "1.-2", " 1.2", "v1.2", "0.0.0.0", "00001.2", "1.2.", "１.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			if v != (Version{}) {
				t.Fatalf("ParseVersion(%q) = %v with error %v", s, v, err)
			}
			return
		}
		back, err := ParseVersion(v.String())
		if err != nil || back != v || v.Compare(back) != 0 {
			t.Fatalf("ParseVersion(%q) = %v; String %q parses to %v, %v", s, v, v.String(), back, err)
		}
		if strings.Count(s, ".") > 3 || strings.TrimLeft(s, "0123456789.") != "" {
			t.Fatalf("ParseVersion(%q) accepted %v", s, v)
		}
	})
}

// FuzzParseKind: only the four names, in any case.
func FuzzParseKind(f *testing.F) {
	for _, s := range []string{"application", "BIOS", "Firmware", "boot", "kernel", "", "kind(9)", "BOOT\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKind(s)
		if err != nil {
			return
		}
		if !k.Valid() || !strings.EqualFold(k.String(), s) {
			t.Fatalf("ParseKind(%q) = %v", s, k)
		}
	})
}

// FuzzParseChecks takes a comma-separated list as checks.enabled would
// hold it. An accepted set holds only known checks, and its String and
// Names parse back to it.
func FuzzParseChecks(f *testing.F) {
	for _, s := range []string{"all", "", "none", "CRC,length", "all,no signature", "all,no-hw-supported,no profile,no signature",
		"hw_supported,HW Supported,hwsupported", "signature,profile", "all,none,bios", "compatible", "no none", ",", "no  crc", "NO-ALL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var names []string
		if s != "" {
			names = strings.Split(s, ",")
		}
		c, err := ParseChecks(names)
		if err != nil {
			if c != 0 {
				t.Fatalf("ParseChecks(%q) = %v with error %v", names, c, err)
			}
			return
		}
		if c&^CheckAll != 0 {
			t.Fatalf("ParseChecks(%q) = %#x: unknown bits", names, uint16(c))
		}
		if back, err := ParseChecks(strings.Split(c.String(), ",")); err != nil || back != c {
			t.Fatalf("ParseChecks(%q) = %v; String %q parses to %v, %v", names, c, c.String(), back, err)
		}
		if back, err := ParseChecks(c.Names()); err != nil || back != c {
			t.Fatalf("ParseChecks(%q) = %v; Names %q parse to %v, %v", names, c, c.Names(), back, err)
		}
		if l := c.Letters(); l != "ALL" && l != "NONE" && len(l) != len(checkInfo) {
			t.Fatalf("Letters %q", l)
		}
	})
}

// FuzzParsePublicKey: an accepted key is 32 bytes, and MarshalPublicKey
// of it parses back to it.
func FuzzParsePublicKey(f *testing.F) {
	pk := pub(testKey(7))
	der, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		f.Fatal(err)
	}
	priv, err := MarshalPrivateKey(testKey(7))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{
		MarshalPublicKey(pk, "vendor signing key"), MarshalPublicKey(pk, ""),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		[]byte(base64.StdEncoding.EncodeToString(pk) + "\n"), priv,
		[]byte(""), []byte("ssh-rsa AAAAB3NzaC1yc2E="), []byte("ssh-ed25519 !!!"), []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
		[]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), []byte(base64.StdEncoding.EncodeToString(make([]byte, 31))),
		[]byte("ssh-ed25519 \u00a0AAAA"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		if len(k) != 32 {
			t.Fatalf("key of %d bytes", len(k))
		}
		back, err := ParsePublicKey(MarshalPublicKey(k, "fuzz"))
		if err != nil || !back.Equal(k) {
			t.Fatalf("key %x marshalled parses to %x, %v", k, back, err)
		}
		if len(data) > 0 {
			// The key must not alias the input (a caller may reuse it).
			saved := append([]byte(nil), k...)
			for i := range data {
				data[i] ^= 0xff
			}
			if !bytes.Equal(k, saved) {
				t.Fatalf("key changed with its input")
			}
		}
	})
}

// FuzzParsePrivateKey: an accepted key is a whole Ed25519 key that
// marshals and parses back to itself.
func FuzzParsePrivateKey(f *testing.F) {
	priv, err := MarshalPrivateKey(testKey(7))
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub(testKey(7)))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{priv, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), []byte(""),
		[]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), priv[:len(priv)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data)
		if err != nil {
			return
		}
		m, err := MarshalPrivateKey(k)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := ParsePrivateKey(m)
		if err != nil || !back.Equal(k) || len(k) != 64 {
			t.Fatalf("key of %d bytes marshalled parses to %v", len(k), err)
		}
	})
}
