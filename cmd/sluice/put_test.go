package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/ftpput"
)

// The client itself is tested in package ftpput; these tests cover the
// command line and, in put_sluice_test.go, the command against sluice.

func TestPutUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"too few", []string{"127.0.0.1", "root", "pw"}},
		{"too many", []string{"127.0.0.1", "root", "pw", file, "passive", "x"}},
		{"not passive", []string{"127.0.0.1", "root", "pw", file, "active"}},
		{"bad server", []string{"127.0.0.1:x", "root", "pw", file}},
		{"insecure without tls", []string{"127.0.0.1", "root", "pw", file, "--insecure"}},
		{"negative timeout", []string{"127.0.0.1", "root", "pw", file, "--timeout", "-1s"}},
		{"unknown flag", []string{"--bogus", "127.0.0.1", "root", "pw", file}},
		{"CR in user", []string{"127.0.0.1", "ro\rot", "pw", file}},
		{"negative progress-every", []string{"127.0.0.1", "root", "pw", file, "--progress-every", "-1s"}},
		{"insecure and cacert", []string{"127.0.0.1", "root", "pw", file, "--tls", "--insecure", "--cacert", file}},
		{"password from no stdin", []string{"127.0.0.1", "root", "-", file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := putCmd(context.Background(), tt.args, nil, &out, &errOut)
			if got := putExitCode(err); got != 2 {
				t.Errorf("exit code %d (%v), want 2", got, err)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := putCmd(context.Background(), []string{"--help"}, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "usage: sluice put") {
		t.Errorf("--help: %v, %q", err, out.String())
	}
}

func TestPutExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, 0},
		{"usage", usageError{errors.New("x")}, 2},
		{"plain", errors.New("open: no such file"), 1},
		{"transfer", &ftpput.Error{Kind: ftpput.TransferFailed, Op: "STOR", Err: errors.New("553")}, 1},
		{"connection", &ftpput.Error{Kind: ftpput.ConnectionError, Op: "connect", Err: errors.New("refused")}, 3},
		{"login", &ftpput.Error{Kind: ftpput.LoginError, Op: "login", Err: errors.New("530")}, 4},
		{"aborted wrapped", fmt.Errorf("x: %w", &ftpput.Error{Kind: ftpput.Aborted, Op: "STOR", Err: context.Canceled}), 5},
	}
	for _, tt := range tests {
		if got := putExitCode(tt.err); got != tt.want {
			t.Errorf("%s: putExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func writePutFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// runPutCmd runs putCmd with args and returns stdout and the exit code.
func runPutCmd(t *testing.T, ctx context.Context, args ...string) (string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	// Progress steps depend on wall time: with one step an hour the
	// output is the same on a busy machine as on an idle one.
	args = append([]string{"--progress-every", "1h"}, args...)
	err := putCmd(ctx, args, strings.NewReader("pw\n"), &out, &errOut)
	if err != nil {
		t.Logf("put %q: %v (stderr %q)", args, err, errOut.String())
	}
	return out.String(), putExitCode(err), err
}

// putTestCert is a self-signed certificate for 127.0.0.1.
type putTestCert struct {
	certFile, keyFile string
	pool              *x509.CertPool
}

func newPutTestCert(t *testing.T) *putTestCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice put test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &putTestCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c.pool.AddCert(leaf)
	return c
}
