package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestFirstRun: a first start on an empty data directory creates it, a
// private host key and configuration, and root's password in a 0600 file;
// stdout, not a terminal (the journal under systemd), names the file but
// does not have the password; the password works; a second start keeps
// the key and prints nothing about a password.
func TestFirstRun(t *testing.T) {
	t.Parallel()
	s := newDataDir(t)
	p := s.start()
	pw, ok := p.firstRunPassword()
	if !ok {
		t.Fatalf("first run: no DATA/initial-root-password; stdout %q", p.stdout.String())
	}
	s.password = pw
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{
		{"ssh_host_ed25519_key", 0o600},
		{"sluice.toml", 0o600},
		{"initial-root-password", 0o600},
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
	if out := p.stdout.String(); strings.Contains(out, pw) || !strings.Contains(out, filepath.Join(s.data, "initial-root-password")) {
		t.Errorf("first run stdout: got %q, want the password file named and no password", out)
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
			[]string{"CONFIG:4", "god"}},
		{"integer duration", "data_dir = \".\"\n[limits]\nidle_timeout = 5\n", []string{"serve"},
			[]string{"CONFIG:3", "idle_timeout", "string"}},
		{"integer duration, config check", "data_dir = \".\"\n[limits]\nidle_timeout = 5\n", []string{"config", "check"},
			[]string{"CONFIG:3", "idle_timeout"}},
		{"listen without a port, config check", "data_dir = \".\"\n[ssh]\nlisten = \"localhost\"\n", []string{"config", "check"},
			[]string{"CONFIG:3", "ssh.listen"}},
		{"bad authorized key, config", "data_dir = \".\"\n[[user]]\nname = \"x\"\nlevel = \"guest\"\nauthorized_keys = [\"ssh-ed25519 AAAA\"]\n", []string{"config"},
			[]string{"CONFIG:5", "authorized key 1"}},
		{"pprof not on loopback", "", []string{"serve", "--pprof-addr", "0.0.0.0:6060"}, []string{"loopback"}},
		{"no listener", "", []string{"serve", "--ftp-addr", "", "--ssh-addr", ""}, []string{"no listener"}},
		{"typo", "", []string{"serv"}, []string{`did you mean "serve"`}},
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
			args := append(append([]string(nil), tt.args...), "--data", data)
			if tt.args[0] == "serve" && !slices.Contains(tt.args, "--ssh-addr") {
				args = append(args, "--ssh-addr", "127.0.0.1:0")
			}
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

// TestHelp: every command's --help exits 0, lists its flags on stdout
// and writes nothing in the working directory.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"--help"}, []string{"--data", "--ssh-addr", "--version"}},
		{[]string{"serve", "-h"}, []string{"--config", "--data", "--ssh-addr", "--ftp-addr", "--log-format", "--log-level", "--pprof-addr"}},
		{[]string{"config", "--help"}, []string{"--config", "--data", "--json"}},
		{[]string{"config", "check", "--help"}, []string{"--config", "--data"}},
		{[]string{"keys", "--help"}, []string{"--config", "--data"}},
		{[]string{"bans", "--help"}, []string{"--config", "--data"}},
		{[]string{"user", "add", "--help"}, []string{"--level", "--password-stdin", "--authorized-key", "--data"}},
		{[]string{"image", "build", "--help"}, []string{"--kind", "--name", "--version", "--hw", "--sign-key"}},
		{[]string{"image", "inspect", "--help"}, []string{"--json", "--key"}},
		{[]string{"image", "keygen", "--help"}, []string{"--comment"}},
		{[]string{"put", "--help"}, []string{"--timeout", "--tls", "--cacert", "--insecure"}},
		{[]string{"completion", "bash", "--help"}, []string{"--help"}},
		{[]string{"man", "--help"}, []string{"--help"}},
		{[]string{"help", "serve"}, []string{"--ssh-addr"}},
	} {
		dir := t.TempDir()
		cmd := exec.Command(sluiceBin, tt.args...)
		cmd.Dir = dir
		cmd.Env = serverEnv(nil)
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("sluice %s: got %v, want exit status 0", strings.Join(tt.args, " "), err)
			continue
		}
		for _, f := range tt.flags {
			if !strings.Contains(string(out), f) {
				t.Errorf("sluice %s: %s not listed:\n%s", strings.Join(tt.args, " "), f, out)
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			t.Errorf("sluice %s wrote %v", strings.Join(tt.args, " "), ents)
		}
	}
}

// TestVersion: --version prints the VCS revision the binary was built
// from. It builds its own binary with -buildvcs=true (the environment may
// turn stamping off); without git or outside a checkout it is skipped,
// but not in CI.
func TestVersion(t *testing.T) {
	t.Parallel()
	git, err := exec.LookPath("git")
	var rev []byte
	if err == nil {
		rev, err = exec.Command(git, "rev-parse", "HEAD").Output()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("git rev-parse HEAD: %v", err)
		}
		t.Skipf("no git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/sluice")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("sluice --version: %v", err)
	}
	want := "revision " + strings.TrimSpace(string(rev))
	if !strings.HasPrefix(string(out), "sluice ") || !strings.Contains(string(out), want) {
		t.Errorf("sluice --version: got %q, want it to contain %q", out, want)
	}
}
