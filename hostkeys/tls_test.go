package hostkeys

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLoadTLSGenerated: the generated certificate names the loopback and
// the given addresses, its key is 0600, and TLS 1.2 offers only AEAD
// suites.
func TestLoadTLSGenerated(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadTLS("", "", dir, net.ParseIP("192.0.2.7"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "192.0.2.7"} {
		if err := cert.VerifyHostname(ip); err != nil {
			t.Errorf("certificate for %s: %v", ip, err)
		}
	}
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Errorf("certificate for localhost: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "ftp-tls.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if len(cfg.CipherSuites) == 0 {
		t.Fatal("no TLS 1.2 suite list: Go's defaults include CBC suites")
	}
	insecure := tls.InsecureCipherSuites()
	for _, id := range cfg.CipherSuites {
		for _, s := range tls.CipherSuites() {
			if s.ID == id && !slices.Contains([]string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
				"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
				"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}, s.Name) {
				t.Errorf("suite %s is not ECDHE with AEAD", s.Name)
			}
		}
		for _, s := range insecure {
			if s.ID == id {
				t.Errorf("insecure suite %s offered", s.Name)
			}
		}
	}
	// A second load reads the same files.
	again, err := LoadTLS("", "", dir)
	if err != nil || !slices.Equal(again.Certificates[0].Certificate[0], cfg.Certificates[0].Certificate[0]) {
		t.Errorf("second load: %v, or another certificate", err)
	}
}
