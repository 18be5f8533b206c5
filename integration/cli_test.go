package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestFirstRun: a first start on an empty data directory creates it, a
// private host key and configuration, and prints root's password once; the
// password works; a second start keeps the key and prints nothing.
func TestFirstRun(t *testing.T) {
	t.Parallel()
	s := newDataDir(t)
	p := s.start()
	pw, ok := p.firstRunPassword()
	if !ok {
		t.Fatalf("first run stdout: got %q, want the root password line", p.stdout.String())
	}
	s.password = pw
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{
		{"ssh_host_ed25519_key", 0o600},
		{"sluice.toml", 0o600},
	} {
		fi, err := os.Stat(filepath.Join(s.data, f.name))
		if err != nil {
			t.Errorf("DATA/%s: %v", f.name, err)
			continue
		}
		if got := fi.Mode().Perm(); got != f.mode {
			t.Errorf("DATA/%s mode: got %#o, want %#o", f.name, got, f.mode)
		}
	}
	for _, d := range []string{"dsk", "bio"} {
		if fi, err := os.Stat(filepath.Join(s.data, d)); err != nil || !fi.IsDir() {
			t.Errorf("DATA/%s: got %v, want a directory", d, err)
		}
	}
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), pw) {
		t.Errorf("sluice.toml contains the plain password")
	}

	// The printed password logs in, and the host key is the one on disk.
	key := s.hostKey()
	c, err := s.dial(s.clientConfig("root", ssh.Password(pw)))
	if err != nil {
		t.Fatalf("login with the printed password: %v", err)
	}
	c.Close()

	s.stop() // the output is complete once the process has exited
	if n := strings.Count(p.stdout.String(), pw); n != 1 {
		t.Errorf("password printed %d times, want once", n)
	}
	if strings.Contains(p.log.String(), pw) {
		t.Errorf("server log contains the password")
	}
	p = s.start()
	if got := s.hostKey(); string(got.Marshal()) != string(key.Marshal()) {
		t.Errorf("host key after restart: got %s, want %s (unchanged)",
			ssh.FingerprintSHA256(got), ssh.FingerprintSHA256(key))
	}
	c, err = s.dial(s.clientConfig("root", ssh.Password(pw)))
	if err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	c.Close()
	s.stop()
	if out := p.stdout.String(); strings.Contains(out, "password") {
		t.Errorf("second start stdout: got %q, want no password", out)
	}
}

// TestBadInput: a bad command line or configuration ends sluice at once
// with status 2 and one line on stderr that names the problem (for a
// configuration, the file and the line).
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string // written to DATA/sluice.toml when not empty
		args   []string
		want   []string // in stderr; "CONFIG" is replaced by the file's path
	}{
		{"unknown flag", "", []string{"serve", "--nope"}, []string{"nope"}},
		{"unknown command", "", []string{"frobnicate"}, []string{"frobnicate"}},
		{"bad log level", "", []string{"serve", "--log-level", "loud"}, []string{"loud"}},
		{"bad log format", "", []string{"serve", "--log-format", "xml"}, []string{"xml"}},
		{"unknown key", "data_dir = \".\"\n\n[limits]\nmax_sesions = 2\n", []string{"serve"},
			[]string{"CONFIG:4", "max_sesions"}},
		{"unknown top-level key", "data_dir = \".\"\nport = 22\n", []string{"serve"},
			[]string{"CONFIG:2", "port"}},
		{"syntax error", "data_dir = \".\"\n[limits]\nmax_sessions = = 2\n", []string{"serve"},
			[]string{"CONFIG:3"}},
		{"wrong type", "data_dir = \".\"\n[limits]\nmax_sessions = \"two\"\n", []string{"serve"},
			[]string{"CONFIG:3", "max_sessions"}},
		{"bad duration", "data_dir = \".\"\n[limits]\nidle_timeout = \"5 parsecs\"\n", []string{"serve"},
			[]string{"CONFIG:3", "5 parsecs"}},
		{"bad level", "data_dir = \".\"\n[[user]]\nname = \"x\"\nlevel = \"god\"\n", []string{"serve"},
			[]string{"CONFIG", "god"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := filepath.Join(t.TempDir(), "data")
			cfg := filepath.Join(data, "sluice.toml")
			if tt.config != "" {
				if err := os.MkdirAll(data, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cfg, []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append(append([]string(nil), tt.args...), "--data", data, "--ssh-addr", "127.0.0.1:0")
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, sluiceBin, args...)
			cmd.Env = serverEnv(nil)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("sluice %s: still running after 20s, want an immediate exit\n%s", strings.Join(tt.args, " "), stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Errorf("sluice %s: got %v, want exit status 2", strings.Join(tt.args, " "), err)
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("stderr: got %q, want exactly one line", stderr.String())
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "CONFIG", cfg)
				if !strings.Contains(msg, w) {
					t.Errorf("stderr: got %q, want it to contain %q", msg, w)
				}
			}
			if tt.config == "" {
				if _, err := os.Stat(data); !os.IsNotExist(err) {
					t.Errorf("data directory after a bad command line: got %v, want not created", err)
				}
			} else if got, _ := os.ReadFile(cfg); string(got) != tt.config {
				t.Errorf("configuration after a failed start: got %q, want it unchanged", got)
			}
		})
	}
}
