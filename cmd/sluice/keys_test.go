package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice/sluice/hostkeys"
)

// pemFingerprints computes the certificate's fingerprints from the PEM
// file the way an operator would check them, without hostkeys: the
// SHA-256 of the DER bytes in unpadded base64 (ssh-keygen) and in
// colon-separated hex (openssl x509 -fingerprint -sha256).
func pemFingerprints(t *testing.T, file string) (b64, colonHex string, cert *x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", file)
	}
	if cert, err = x509.ParseCertificate(b.Bytes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var pairs []string
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, h[i:i+2])
	}
	return "SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "="), strings.Join(pairs, ":"), cert
}

// runKeys runs "sluice keys" with args and returns its output lines.
func runKeys(t *testing.T, args ...string) ([]string, error) {
	t.Helper()
	var out bytes.Buffer
	err := keys(args, &out)
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), err
}

// keysDataDir is a data directory as serve leaves it: an ed25519 host key.
func keysDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := hostkeys.Load(hostkeys.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestKeysFTPSFingerprint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string   // sluice.toml in the data directory; "" for none
		ips    []string // addresses the certificate must name
	}{
		{name: "no configuration", ips: []string{"127.0.0.1", "::1"}},
		{name: "default listen", config: "[ftp]\n", ips: []string{"127.0.0.1", "::1"}},
		{name: "listen address", config: "[ftp]\nlisten = \"127.0.0.3:2121\"\n", ips: []string{"127.0.0.1", "::1", "127.0.0.3"}},
		{name: "all addresses", config: "[ftp]\nlisten = \"0.0.0.0:21\"\n", ips: []string{"127.0.0.1", "::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := keysDataDir(t)
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			lines, err := runKeys(t, "--data", dir)
			if err != nil {
				t.Fatalf("keys: %v", err)
			}
			crt := filepath.Join(dir, "ftp-tls.crt")
			b64, colonHex, cert := pemFingerprints(t, crt)
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			for _, ip := range tc.ips {
				if !slices.Contains(ips, ip) {
					t.Errorf("certificate names %q, not %s", ips, ip)
				}
			}
			if slices.Contains(ips, "0.0.0.0") {
				t.Errorf("certificate names %q, with the unspecified address", ips)
			}
			want := []string{
				"ftps certificate " + crt,
				"ftps " + b64,
				"ftps sha256 Fingerprint=" + colonHex,
				"ftps IP SANs: " + strings.Join(ips, " "),
				"ftps DNS SANs: " + strings.Join(cert.DNSNames, " "),
			}
			if len(lines) != 1+len(want) || !strings.HasPrefix(lines[0], "ssh-ed25519 SHA256:") {
				t.Fatalf("got %q; want the ssh-ed25519 line and %q", lines, want)
			}
			for i, w := range want {
				if lines[1+i] != w {
					t.Errorf("line %d: got %q, want %q", 2+i, lines[1+i], w)
				}
			}
			// A second run reads the same certificate.
			again, err := runKeys(t, "--data", dir)
			if err != nil || strings.Join(again, "\n") != strings.Join(lines, "\n") {
				t.Errorf("second run: got %q, %v; want %q", again, err, lines)
			}
			if openssl, err := exec.LookPath("openssl"); err == nil {
				out, err := exec.Command(openssl, "x509", "-in", crt, "-noout", "-fingerprint", "-sha256").Output()
				if got := strings.ToUpper(strings.TrimSpace(string(out))); err != nil || got != "SHA256 FINGERPRINT="+colonHex {
					t.Errorf("openssl: got %q, %v; want %s", got, err, colonHex)
				}
			}
		})
	}
}

// TestKeysConfiguredCertificate: with tls_cert and tls_key, keys prints
// that certificate and generates none.
func TestKeysConfiguredCertificate(t *testing.T) {
	dir := keysDataDir(t)
	c := newPutTestCert(t)
	cfg := "[ftp]\ntls_cert = \"" + c.certFile + "\"\ntls_key = \"" + c.keyFile + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, err := runKeys(t, "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	b64, colonHex, _ := pemFingerprints(t, c.certFile)
	want := []string{"ftps certificate " + c.certFile, "ftps " + b64, "ftps sha256 Fingerprint=" + colonHex, "ftps IP SANs: 127.0.0.1"}
	if got := strings.Join(lines[1:], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(dir, "ftp-tls.crt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ftp-tls.crt: %v; want none generated", err)
	}
}

// TestKeysErrors: no host key, or a configuration that does not load, is
// an error, and nothing is generated.
func TestKeysErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hostKey bool
		config  string
		usage   bool // exit status 2
	}{
		{name: "no host key"},
		{name: "bad configuration", hostKey: true, config: "[ftp]\nlisten_typo = 1\n", usage: true},
		{name: "half a certificate pair", hostKey: true, config: "[ftp]\ntls_cert = \"x.crt\"\n", usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.hostKey {
				dir = keysDataDir(t)
			}
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			lines, err := runKeys(t, "--data", dir)
			var ue usageError
			if err == nil || errors.As(err, &ue) != tc.usage {
				t.Errorf("got %q, %v; want an error (usage: %v)", lines, err, tc.usage)
			}
			if _, err := os.Stat(filepath.Join(dir, "ftp-tls.crt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ftp-tls.crt: %v; want none generated", err)
			}
		})
	}
}
