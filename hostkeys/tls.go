package hostkeys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice/sluice/atomicfile"
)

// LoadTLS returns a TLS configuration from a certificate and key file, or,
// when both are empty, from dir/ftp-tls.{crt,key}, generated (self-signed
// ECDSA P-256, key mode 0600) on first use with the host name, localhost,
// the loopback addresses and ips as subject alternative names (so that
// `curl --cacert` and `sluice put --tls` can verify it by address).
//
// TLS 1.2 is limited to ECDHE with AEAD ciphers (no CBC, no SHA-1 MAC);
// TLS 1.3's suites are all AEAD.
func LoadTLS(certFile, keyFile, dir string, ips ...net.IP) (*tls.Config, error) {
	if certFile == "" {
		certFile, keyFile = TLSCertPath("", dir), filepath.Join(dir, "ftp-tls.key")
		if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
			if err := generateCert(certFile, keyFile, ips); err != nil {
				return nil, fmt.Errorf("ftp tls: %w", err)
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ftp tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, CipherSuites: aeadSuites}, nil
}

// TLSCertPath is the certificate file LoadTLS reads for the same
// certFile and dir.
func TLSCertPath(certFile, dir string) string {
	if certFile != "" {
		return certFile
	}
	return filepath.Join(dir, "ftp-tls.crt")
}

// CertFingerprint returns the SHA-256 of a DER certificate in two forms:
// "SHA256:" and unpadded base64, as ssh-keygen and ssh.FingerprintSHA256
// write key fingerprints, and colon-separated upper-case hex, as
// `openssl x509 -fingerprint -sha256` and browsers show it.
func CertFingerprint(der []byte) (b64, hex string) {
	sum := sha256.Sum256(der)
	var h strings.Builder
	for i, b := range sum {
		if i > 0 {
			h.WriteByte(':')
		}
		fmt.Fprintf(&h, "%02X", b)
	}
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]), h.String()
}

// ParseCertificates returns the certificates of the PEM "CERTIFICATE"
// blocks in data, in order. Other blocks (a private key in the same file)
// are skipped; a CERTIFICATE block that does not parse, or no certificate
// at all, is an error.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}

// CertPool returns a pool of the certificates in a PEM file, for a client
// that trusts exactly those (as curl's --cacert).
func CertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// aeadSuites are the TLS 1.2 suites offered: forward secret and AEAD.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func generateCert(certFile, keyFile string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sluice " + host},
		DNSNames:     []string{"localhost", host},
		IPAddresses:  append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, ips...),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
