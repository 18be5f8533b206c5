package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/ftpgateway"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// startSluiceFTP runs sluice's own FTP gateway in-process with a
// supervisor "root" (password "pw") and returns its address, the staging
// buffer and the dsk directory.
func startSluiceFTP(t *testing.T, extra string) (string, *mem.Store, string) {
	t.Helper()
	dir := t.TempDir()
	hash, err := policy.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Parse(filepath.Join(dir, "sluice.toml"), []byte(`
[limits]
login_fail_delay = "10ms"
`+extra+`
[[user]]
name = "root"
level = "supervisor"
password_hash = "`+hash+`"
`))
	if err != nil {
		t.Fatal(err)
	}
	store, err := mem.New(mem.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store, Checks: cfg.Checks.On, Device: cfg.ImageDevice()})
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	srv, err := ftpgateway.New(ftpgateway.Config{Policy: cfg, Store: tree, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); tree.Close() })
	return l.Addr().String(), store, filepath.Join(cfg.DataDir, "dsk")
}

// TestPutSluice: the chapter 6 client against sluice itself. In secure
// mode (the default) the file lands in the staging buffer, in active and
// passive mode; with DIRECT ON it lands in the current file system.
func TestPutSluice(t *testing.T) {
	addr, store, _ := startSluiceFTP(t, "")
	file, data := writePutFile(t, "cfg.cfg", 3<<20+5)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{addr, "root", "pw", file}
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
	t.Run("password from stdin", func(t *testing.T) {
		// runPutCmd gives "pw\n" on standard input.
		out, code, _ := runPutCmd(t, context.Background(), addr, "root", "-", file, "passive")
		if out != "100% transfer complete\n" || code != 0 {
			t.Fatalf("got %q, exit %d; want 100%% transfer complete, exit 0", out, code)
		}
		if err := store.Remove("cfg.cfg"); err != nil {
			t.Errorf("not staged: %v", err)
		}
	})
	t.Run("login error", func(t *testing.T) {
		out, code, _ := runPutCmd(t, context.Background(), addr, "root", "wrong", file, "passive")
		if out != "Login error\n" || code != 4 {
			t.Errorf("got %q, exit %d; want Login error, exit 4", out, code)
		}
	})
}

func TestPutSluiceDirect(t *testing.T) {
	addr, _, dsk := startSluiceFTP(t, "[ftp]\ndirect = true\ndefault_fs = \"dsk\"\n")
	file, data := writePutFile(t, "app.cfg", 1<<20)
	out, code, _ := runPutCmd(t, context.Background(), addr, "root", "pw", file, "passive")
	if out != "100% transfer complete\n" || code != 0 {
		t.Fatalf("got %q, exit %d", out, code)
	}
	got, err := os.ReadFile(filepath.Join(dsk, "app.cfg"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("DIRECT ON: file in dsk: %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
}

// TestPutSluiceInsecure: --tls --insecure takes the gateway's self-signed
// certificate without a check, says so on standard error, and sends the
// file over TLS (require_tls refuses anything else), active and passive.
func TestPutSluiceInsecure(t *testing.T) {
	addr, store, _, _ := startSluiceFTPS(t, "127.0.0.1")
	file, data := writePutFile(t, "cfg.cfg", 700<<10)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--progress-every", "1h", addr, "root", "pw", file, "--tls", "--insecure"}
			if mode == "passive" {
				args = append(args, "passive")
			}
			var out, errOut bytes.Buffer
			err := putCmd(context.Background(), args, nil, &out, &errOut)
			if out.String() != "100% transfer complete\n" || err != nil {
				t.Fatalf("got %q, %v (stderr %q)", out.String(), err, errOut.String())
			}
			if !strings.Contains(errOut.String(), "warning: --insecure") {
				t.Errorf("stderr %q, want the --insecure warning", errOut.String())
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
