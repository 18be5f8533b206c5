package ftpput

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startVsftpd runs a private vsftpd (REFERENCE-SERVERS.md) with an
// anonymous, writable root, and returns its address and root directory.
// With cert set it requires explicit TLS for anonymous logins and data.
func startVsftpd(t *testing.T, cert *testCert) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/vsftpd")
	}
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("vsftpd: %v (CI is set: .ci/run must install it)", err)
	} else if err != nil {
		t.Skipf("vsftpd: %v", err)
	}
	// run_as_launching_user: no root, no chroot, no "ftp" user; the
	// anonymous root is then our own writable temporary directory.
	root, empty, dir := t.TempDir(), t.TempDir(), t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=%s
run_as_launching_user=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
anon_other_write_enable=YES
pasv_enable=YES
pasv_address=127.0.0.1
port_enable=YES
connect_from_port_20=NO
secure_chroot_dir=%s
xferlog_enable=NO
seccomp_sandbox=NO
`, port, root, empty)
	if cert != nil {
		conf += fmt.Sprintf(`ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
rsa_cert_file=%s
rsa_private_key_file=%s
`, cert.certFile, cert.keyFile)
	}
	confFile := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, confFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("vsftpd output: %s", logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			line, rerr := textproto.NewReader(bufio.NewReader(c)).ReadLine()
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "220") {
				return addr, root
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vsftpd did not start on %s: %v; output %q", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testCert is a self-signed certificate for 127.0.0.1.
type testCert struct {
	certFile, keyFile string
	pool              *x509.CertPool
}

func newTestCert(t *testing.T) *testCert {
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
	c := &testCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
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

func TestPutVsftpd(t *testing.T) {
	addr, root := startVsftpd(t, nil)
	file, data := writeFile(t, "SONY_A390_DSC00372.JPG", 2<<20)
	check := func(t *testing.T) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(root, "SONY_A390_DSC00372.JPG"))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("stored file: %d bytes, %v; want %d bytes", len(got), err, len(data))
		}
		os.Remove(filepath.Join(root, "SONY_A390_DSC00372.JPG"))
	}
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "anonymous", Pass: "x", File: file, Passive: mode == "passive"})
			if out != "100% transfer complete\n" || code != 0 {
				t.Fatalf("got %q, exit %d", out, code)
			}
			check(t)
		})
	}
	t.Run("login error", func(t *testing.T) {
		// This vsftpd is anonymous only: "530 This FTP server is anonymous only."
		out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "ot", Pass: "switch", File: file, Passive: true})
		if out != "Login error\n" || code != 4 {
			t.Errorf("got %q, exit %d; want Login error, exit 4", out, code)
		}
	})
	t.Run("wrong port", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wrong := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if wrong == p {
			t.Skip("free port is vsftpd's")
		}
		out, code, _ := put(t, context.Background(), Config{Addr: net.JoinHostPort(host, strconv.Itoa(wrong)), User: "anonymous", Pass: "x", File: file})
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		big, _ := writeFile(t, "big.bin", 8<<20)
		out, err := putCancelMidway(t, addr, big, true, nil)
		if want := "3%,\nOperation aborted or timeout expired\n"; out != want || ExitCode(err) != 5 {
			t.Errorf("got %q, exit %d; want %q, exit 5", out, ExitCode(err), want)
		}
	})
}

func TestPutVsftpdTLS(t *testing.T) {
	cert := newTestCert(t)
	addr, root := startVsftpd(t, cert)
	file, data := writeFile(t, "cfg.cfg", 700<<10)
	verified := func() *tls.Config {
		return &tls.Config{ServerName: "127.0.0.1", RootCAs: cert.pool, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	}
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "anonymous", Pass: "x", File: file, Passive: mode == "passive", TLS: verified()})
			if out != "100% transfer complete\n" || code != 0 {
				t.Fatalf("got %q, exit %d", out, code)
			}
			got, err := os.ReadFile(filepath.Join(root, "cfg.cfg"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("stored file: %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
			os.Remove(filepath.Join(root, "cfg.cfg"))
		})
	}
	t.Run("empty active", func(t *testing.T) {
		empty, _ := writeFile(t, "EMPTY.CFG", 0)
		out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "anonymous", Pass: "x", File: empty, TLS: verified()})
		if out != "100% transfer complete\n" || code != 0 {
			t.Fatalf("got %q, exit %d", out, code)
		}
		if st, err := os.Stat(filepath.Join(root, "EMPTY.CFG")); err != nil || st.Size() != 0 {
			t.Errorf("stored file: %v", err)
		}
	})
	t.Run("cancel active", func(t *testing.T) {
		big, _ := writeFile(t, "big.bin", 8<<20)
		out, err := putCancelMidway(t, addr, big, false, verified())
		if want := "3%,\nOperation aborted or timeout expired\n"; out != want || ExitCode(err) != 5 {
			t.Errorf("got %q, exit %d; want %q, exit 5", out, ExitCode(err), want)
		}
	})
	t.Run("unverified certificate", func(t *testing.T) {
		tc := &tls.Config{ServerName: "127.0.0.1"} // the system's roots
		out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "anonymous", Pass: "x", File: file, Passive: true, TLS: tc})
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})
	t.Run("plain refused", func(t *testing.T) {
		// force_anon_logins_ssl: "530 Anonymous sessions must use encryption."
		out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "anonymous", Pass: "x", File: file, Passive: true})
		if out != "Login error\n" || code != 4 {
			t.Errorf("got %q, exit %d; want Login error, exit 4", out, code)
		}
	})
}
