package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/ftpgateway"
	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// startSluiceFTPS runs sluice's FTP gateway with explicit FTPS required
// (require_tls: no transfer without PROT P) on host, with the certificate
// serve would use: generated in the data directory by hostkeys.LoadTLS
// with the loopback addresses. It returns the address, the staging
// buffer, the dsk directory and the certificate file.
func startSluiceFTPS(t *testing.T, host string) (addr string, store *mem.Store, dsk, cert string) {
	t.Helper()
	dir := t.TempDir()
	hash, err := policy.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Parse(filepath.Join(dir, "sluice.toml"), []byte(`
[limits]
login_fail_delay = "10ms"
[ftp]
require_tls = true
[[user]]
name = "root"
level = "supervisor"
password_hash = "`+hash+`"
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := hostkeys.LoadTLS("", "", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if store, err = mem.New(mem.Config{MaxBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store, Checks: cfg.Checks.On, Device: cfg.ImageDevice()})
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	srv, err := ftpgateway.New(ftpgateway.Config{Policy: cfg, Store: tree, TLS: tlsCfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		tree.Close()
		t.Skipf("listen on %s: %v", host, err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); tree.Close() })
	return l.Addr().String(), store, filepath.Join(cfg.DataDir, "dsk"), hostkeys.TLSCertPath("", cfg.DataDir)
}

// TestPutCACert: --cacert with the server's own certificate verifies it
// by address on the control and the data connections (require_tls
// refuses a data connection in clear), in active and passive mode.
// The puts here run with --timeout 0: under -race on a busy machine the
// login (bcrypt) can take longer than any fixed idle timeout; go test's
// own timeout bounds a hang.
func TestPutCACert(t *testing.T) {
	addr, store, _, cert := startSluiceFTPS(t, "127.0.0.1")
	file, data := writePutFile(t, "cfg.cfg", 1<<20+3)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{addr, "root", "pw", file, "--tls", "--cacert", cert, "--timeout", "0"}
			if mode == "passive" {
				args = append(args, "passive")
			}
			out, code, _ := runPutCmd(t, context.Background(), args...)
			if out != "100% transfer complete\n" || code != 0 {
				t.Fatalf("got %q, exit %d; want 100%% transfer complete, exit 0", out, code)
			}
			f, err := store.Open("cfg.cfg")
			if err != nil {
				t.Fatalf("not staged in /mem: %v", err)
			}
			got := make([]byte, f.Size())
			f.ReadAt(got, 0)
			f.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("staged bytes differ (%d of %d)", len(got), len(data))
			}
			if err := store.Remove("cfg.cfg"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPutCACertRefused: a certificate that does not chain to --cacert, or
// that does not name the address dialled, ends the put at the control
// connection's handshake, before login: Connection error, exit 3,
// nothing stored.
func TestPutCACertRefused(t *testing.T) {
	file, _ := writePutFile(t, "cfg.cfg", 64<<10)
	other := newPutTestCert(t) // a self-signed CA for 127.0.0.1, not the server's
	for _, tc := range []struct {
		name  string
		host  string // the server's listen address
		ca    func(own string) string
		check func(error) bool
	}{
		{"other CA", "127.0.0.1", func(string) string { return other.certFile }, func(err error) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua)
		}},
		// The generated certificate names 127.0.0.1 and ::1, not 127.0.0.2.
		{"address not in certificate", "127.0.0.2", func(own string) string { return own }, func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, store, dsk, cert := startSluiceFTPS(t, tc.host)
			for _, mode := range []string{"active", "passive"} {
				args := []string{addr, "root", "pw", file, "--tls", "--cacert", tc.ca(cert), "--timeout", "0"}
				if mode == "passive" {
					args = append(args, "passive")
				}
				out, code, err := runPutCmd(t, context.Background(), args...)
				if out != "Connection error\n" || code != 3 {
					t.Errorf("%s: got %q, exit %d; want Connection error, exit 3", mode, out, code)
				}
				if !tc.check(err) {
					t.Errorf("%s: error %v is not the certificate verification's", mode, err)
				}
			}
			if l := store.List(); len(l) != 0 {
				t.Errorf("staged: %v; want nothing", l)
			}
			if ents, err := os.ReadDir(dsk); err != nil || len(ents) != 0 {
				t.Errorf("dsk: %v, %v; want empty", ents, err)
			}
		})
	}
}

// TestPutCACertBadFile: a --cacert that is missing, holds no certificate
// or a broken one, or comes without --tls or with --insecure, is a
// command-line error (exit 2) before anything is dialled.
func TestPutCACertBadFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file, _ := writePutFile(t, "cfg.cfg", 10)
	good := newPutTestCert(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"missing", []string{"--tls", "--cacert", filepath.Join(dir, "nonexistent.pem")}},
		{"directory", []string{"--tls", "--cacert", dir}},
		{"empty", []string{"--tls", "--cacert", write("empty.pem", "")}},
		{"key only", []string{"--tls", "--cacert", good.keyFile}},
		{"not PEM", []string{"--tls", "--cacert", write("der.pem", "0\x82\x01\x00garbage")}},
		{"broken certificate", []string{"--tls", "--cacert", write("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n")}},
		{"without --tls", []string{"--cacert", good.certFile}},
		{"with --insecure", []string{"--tls", "--insecure", "--cacert", good.certFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{ln.Addr().String(), "root", "pw", file, "passive"}, tc.flags...)
			out, code, err := runPutCmd(t, context.Background(), args...)
			if out != "" || code != 2 || err == nil {
				t.Errorf("got %q, exit %d, %v; want no output, exit 2", out, code, err)
			}
		})
	}
	// Nothing connected: a connection made before put returned would be
	// in the accept queue now.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Errorf("put connected to %s", c.RemoteAddr())
	}
}
