package hostkeys

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// certPEMCases are the PEM inputs of TestParseCertificates and the seeds
// of FuzzParseCertificates. want is the number of certificates, 0 for an
// error.
func certPEMCases(t testing.TB) []struct {
	name string
	data []byte
	want int
} {
	t.Helper()
	dir := t.TempDir()
	if _, err := LoadTLS("", "", dir); err != nil {
		t.Fatal(err)
	}
	crt, err := os.ReadFile(filepath.Join(dir, "ftp-tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "ftp-tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crt)
	broken := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes[:len(block.Bytes)/2]})
	return []struct {
		name string
		data []byte
		want int
	}{
		{"generated certificate", crt, 1},
		{"two certificates", slices.Concat(crt, crt), 2},
		{"certificate and key", slices.Concat(key, crt), 1},
		{"text around", slices.Concat([]byte("subject=sluice\n"), crt, []byte("trailer\n")), 1},
		{"CRLF", bytes.ReplaceAll(crt, []byte("\n"), []byte("\r\n")), 1},
		{"key only", key, 0},
		{"empty", nil, 0},
		{"not PEM", []byte("MIIB"), 0},
		{"truncated DER", broken, 0},
		{"truncated PEM", crt[:len(crt)/2], 0},
		{"valid then broken", slices.Concat(crt, broken), 0},
	}
}

func TestParseCertificates(t *testing.T) {
	for _, tc := range certPEMCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCertificates(tc.data)
			if len(got) != tc.want || (err != nil) != (tc.want == 0) {
				t.Errorf("got %d certificates, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

func TestCertFingerprint(t *testing.T) {
	// SHA-256 of the empty string.
	b64, hex := CertFingerprint(nil)
	if want := "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"; b64 != want {
		t.Errorf("base64: got %q, want %q", b64, want)
	}
	if want := "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"; hex != want {
		t.Errorf("hex: got %q, want %q", hex, want)
	}
}

// FuzzParseCertificates: any input gives certificates or an error, never
// both or neither, and each certificate is one whose fingerprint can be
// printed.
func FuzzParseCertificates(f *testing.F) {
	for _, tc := range certPEMCases(f) {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if (err == nil) != (len(certs) > 0) {
			t.Fatalf("got %d certificates and %v", len(certs), err)
		}
		for _, c := range certs {
			b64, hex := CertFingerprint(c.Raw)
			if !strings.HasPrefix(b64, "SHA256:") || len(hex) != 32*3-1 {
				t.Fatalf("fingerprint %q %q", b64, hex)
			}
		}
	})
}
