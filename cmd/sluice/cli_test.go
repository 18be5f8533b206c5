package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/policy"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
)

// runCLI runs the command line and returns stdout, stderr and the error.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// commands lists every command of the tree but cobra's hidden ones.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, s := range c.Commands() {
		if !s.Hidden && s.Name() != "help" {
			out = append(out, commands(s)...)
		}
	}
	return out
}

// TestHelpEveryCommand: --help of every command exits 0 and lists each
// of its flags.
func TestHelpEveryCommand(t *testing.T) {
	root := newApp(t.Context(), nil, io.Discard, io.Discard).root
	root.InitDefaultCompletionCmd()
	cmds := commands(root)
	if len(cmds) < 15 {
		t.Fatalf("got %d commands, want serve, user add, keys, bans, config, config check, image *, put, completion, man and more", len(cmds))
	}
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:]
		for _, h := range []string{"--help", "-h"} {
			out, _, err := runCLI(t, "", append(path, h)...)
			if err != nil {
				t.Errorf("sluice %s %s: got %v, want exit 0", strings.Join(path, " "), h, err)
				continue
			}
			if !strings.Contains(out, "Usage:") {
				t.Errorf("sluice %s %s: no usage in %q", strings.Join(path, " "), h, out)
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(out, "--"+f.Name) {
					t.Errorf("sluice %s %s: flag --%s not listed:\n%s", strings.Join(path, " "), h, f.Name, out)
				}
			})
		}
	}
}

// TestUsageErrors: a bad command line is a usage error (exit status 2),
// typos get a suggestion, and nothing is created.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"typo", []string{"serv"}, `did you mean "serve"`},
		{"subcommand typo", []string{"user", "ad"}, `did you mean "add"`},
		{"config typo", []string{"config", "chek"}, `did you mean "check"`},
		{"image typo", []string{"image", "inspct"}, `did you mean "inspect"`},
		{"unknown flag", []string{"serve", "--nope", "--data", data}, "--nope"},
		{"unknown root flag", []string{"--nope", "--data", data}, "--nope"},
		{"argument to serve", []string{"serve", "extra", "--data", data}, "extra"},
		{"bare group", []string{"user"}, "want a command"},
		{"man without a directory", []string{"man"}, "arg"},
		{"pprof not loopback", []string{"--pprof-addr", "0.0.0.0:6060", "--data", data}, "loopback"},
		{"no listener", []string{"serve", "--ssh-addr", "", "--ftp-addr", "", "--data", data}, "no listener"},
		{"ssh-addr without port", []string{"serve", "--ssh-addr", "localhost", "--data", data}, "--ssh-addr"},
		{"ftp-addr bad port", []string{"serve", "--ftp-addr", "127.0.0.1:nope-port", "--data", data}, "--ftp-addr"},
		{"bad log level", []string{"serve", "--log-level", "loud", "--data", data}, "loud"},
		{"bad log format", []string{"serve", "--log-format", "xml", "--data", data}, "xml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCLI(t, "", tt.args...)
			var ue usageError
			if !errors.As(err, &ue) || exitCode(err) != 2 {
				t.Fatalf("got %v (exit %d), want a usage error (exit 2)", err, exitCode(err))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
			if out != "" {
				t.Errorf("stdout: got %q, want nothing", out)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data directory: got %v, want none created", err)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"usage", usageError{errors.New("x")}, 2},
		{"wrapped usage", errors.Join(usageError{errors.New("x")}), 2},
		{"runtime", errors.New("disk full"), 1},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestFormatVersion(t *testing.T) {
	for _, tt := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-03T09:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"v1.2.3 (revision abc123, committed 2026-12-03T09:00:00Z) go1.26.8"},
		{"modified checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) (revision abc123, modified) go1.26.8"},
		{"no vcs", debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel) (no VCS information (built with -buildvcs=false?)) go1.26.8"},
	} {
		if got := formatVersion(&tt.bi); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	out, _, err := runCLI(t, "", "--version")
	if err != nil || !strings.HasPrefix(out, "sluice ") {
		t.Errorf("--version: got %q, %v", out, err)
	}
}

// TestFirstRunPasswordFile: the first run writes root's password to a
// 0600 file in the data directory and, stdout not being a terminal, does
// not print it; the password is root's.
func TestFirstRunPasswordFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath := filepath.Join(data, "sluice.toml")
	var out bytes.Buffer
	if err := firstRun(cfgPath, data, &out); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, initialPasswordFile)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode: got %#o, want 0600", file, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	pw := strings.TrimSpace(string(b))
	if len(pw) < 16 {
		t.Fatalf("password file holds %q", b)
	}
	if strings.Contains(out.String(), pw) {
		t.Errorf("stdout %q has the password; stdout is not a terminal", out.String())
	}
	if !strings.Contains(out.String(), file) {
		t.Errorf("stdout %q does not say where the password is", out.String())
	}
	cfg, err := (&common{config: cfgPath}).load(pflag.NewFlagSet("test", pflag.ContinueOnError))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.CheckPassword("root", pw); err != nil {
		t.Errorf("root's password from the file: %v", err)
	}
}

// writeConfig writes a data directory with sluice.toml and returns it.
func writeConfig(t *testing.T, toml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConfigCheck: config check accepts what serve accepts and refuses,
// with file:line, what serve refuses, without writing anything.
func TestConfigCheck(t *testing.T) {
	key := strings.TrimSpace(string(mustRead(t, hostPub(t))))
	for _, tt := range []struct {
		name, toml string
		want       string // "" for ok; "CONFIG" is the file
	}{
		{"empty", "data_dir = \".\"\n", ""},
		{"user with a key", "data_dir = \".\"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\nauthorized_keys = [\"" + key + "\"]\n", ""},
		{"integer duration", "data_dir = \".\"\n[limits]\nmax_sessions = 2\nidle_timeout = 5\n", "CONFIG:4: limits.idle_timeout"},
		{"listen localhost", "data_dir = \".\"\n[ssh]\nlisten = \"localhost\"\n", "CONFIG:3: ssh.listen"},
		{"bad authorized key", "data_dir = \".\"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\n[[user]]\nname = \"b\"\nlevel = \"guest\"\nauthorized_keys = [\"ssh-ed25519 AAAA\"]\n", "CONFIG:8: user \"b\": authorized key 1"},
		{"missing tls files", "data_dir = \".\"\n[ftp]\ntls_cert = \"none.crt\"\ntls_key = \"none.key\"\n", "CONFIG:3: ftp.tls_cert"},
		{"mount path is a file", "data_dir = \".\"\n[[mount]]\nname = \"dsk\"\npath = \"sluice.toml\"\n", "CONFIG:4: mount \"dsk\""},
		{"unknown key", "data_dir = \".\"\n[ssh]\nlisten = \"127.0.0.1:22\"\n[limits]\nlisten = 1\n", "CONFIG:5: unknown key \"limits.listen\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeConfig(t, tt.toml)
			cfg := filepath.Join(dir, "sluice.toml")
			out, _, err := runCLI(t, "", "config", "check", "--config", cfg)
			if tt.want == "" {
				if err != nil || out != cfg+": ok\n" {
					t.Errorf("got %q, %v; want ok", out, err)
				}
			} else {
				want := strings.ReplaceAll(tt.want, "CONFIG", cfg)
				if exitCode(err) != 2 || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v (exit %d), want exit 2 and %q", err, exitCode(err), want)
				}
				// serve refuses it the same way, before it listens.
				_, _, serr := runCLI(t, "", "serve", "--config", cfg, "--ssh-addr", "127.0.0.1:0", "--ftp-addr", "127.0.0.1:0")
				if exitCode(serr) != 2 || !strings.Contains(serr.Error(), want) {
					t.Errorf("serve: got %v, want exit 2 and %q", serr, want)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("config check wrote files: %v", ents)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostPub writes an authorized_keys line file for a fresh key.
func hostPub(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	signers, err := hostkeys.Load(hostkeys.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "key.pub")
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signers[0].PublicKey()))) + " ops@test\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigShow: config prints every section with the defaults, the
// keys by fingerprint and no secret, as TOML or JSON; --data moves
// data_dir and the mounts.
func TestConfigShow(t *testing.T) {
	key := strings.TrimSpace(string(mustRead(t, hostPub(t))))
	hash, err := policy.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, "data_dir = \"/nowhere\"\n[limits]\nidle_timeout = \"5m\"\n[[user]]\nname = \"ops\"\nlevel = \"guest\"\npassword_hash = \""+hash+"\"\nauthorized_keys = [\""+key+"\"]\n")
	out, _, err := runCLI(t, "", "config", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"data_dir = \"" + dir + "\"", "[ssh]", "[ftp]", "inactivity_timer = \"6m0s\"", "[limits]", "idle_timeout = \"5m0s\"",
		"max_file_bytes = 4294967296", "[penalties]", "enabled = true", "[mem]", "[names]", "[device]", "trusted_keys = []",
		"[checks]", "[[mount]]", "path = \"" + filepath.Join(dir, "dsk") + "\"", "[[user]]", "password = \"set (bcrypt)\"",
		"ssh-ed25519 SHA256:", "ops@test", "[user.permissions]", "write = false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, hash) || strings.Contains(out, "$2a$") {
		t.Errorf("config output has the password hash:\n%s", out)
	}
	if strings.Contains(out, strings.Fields(key)[1]) {
		t.Errorf("config output has the whole public key rather than its fingerprint")
	}

	js, _, err := runCLI(t, "", "config", "--json", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("--json: %v\n%s", err, js)
	}
	for _, k := range []string{"data_dir", "ssh", "ftp", "limits", "penalties", "mem", "names", "device", "checks", "mount", "user"} {
		if _, ok := m[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	if got := m["limits"].(map[string]any)["idle_timeout"]; got != "5m0s" {
		t.Errorf("--json limits.idle_timeout: got %v, want \"5m0s\"", got)
	}
	if strings.Contains(js, hash) {
		t.Error("--json has the password hash")
	}
}

// TestManAndCompletion: man pages and completion scripts come from the
// command tree.
func TestManAndCompletion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man")
	if _, _, err := runCLI(t, "", "man", dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"sluice.1", "sluice-serve.1", "sluice-config-check.1", "sluice-user-add.1", "sluice-image-build.1", "sluice-put.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("man page: %v", err)
		} else if page == "sluice-serve.1" && !strings.Contains(string(b), "pprof-addr") {
			t.Errorf("%s does not list --pprof-addr", page)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, _, err := runCLI(t, "", "completion", sh)
		if err != nil || !strings.Contains(out, "sluice") {
			t.Errorf("completion %s: %v, %d bytes", sh, err, len(out))
		}
	}
}

// TestLegacyCompletion: the commands that parse their own flags complete
// the flags' names (cobra, from the declaration) and their values
// (legacyComplete), as cobra's `__complete` answers the shell scripts.
func TestLegacyCompletion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string // lines of the answer, the directive last
	}{
		{[]string{"put", "--ti"}, []string{"--timeout\t"}},
		{[]string{"image", "check", "--js"}, []string{"--json\t"}},
		{[]string{"user", "add", "root", "--level", ""}, []string{"supervisor", "guest", "viewer", ":4"}},
		{[]string{"keys", "--data", ""}, []string{":16"}},    // directories
		{[]string{"put", "--timeout", ""}, []string{":4"}},   // no files for a duration
		{[]string{"put", "--cacert", ""}, []string{":0"}},    // files
		{[]string{"reload", "--config", ""}, []string{":0"}}, // files
	} {
		out, _, err := runCLI(t, "", append([]string{"__complete"}, tt.args...)...)
		if err != nil {
			t.Errorf("__complete %q: %v", tt.args, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("__complete %q: %q lacks %q", tt.args, out, w)
			}
		}
	}
}

// TestLegacyFlags: each flag declared for --help on a command that parses
// its own flags (app.legacy) is one the command accepts. Every command is
// run without its positional arguments, or on a data directory that does
// not exist, so it fails before doing anything.
func TestLegacyFlags(t *testing.T) {
	root := newApp(t.Context(), nil, io.Discard, io.Discard).root
	missing := filepath.Join(t.TempDir(), "none")
	n := 0
	for _, c := range commands(root) {
		if !c.DisableFlagParsing {
			continue
		}
		path := strings.Fields(c.CommandPath())[1:]
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			n++
			arg := "--" + f.Name
			if f.Value.Type() != "bool" {
				arg += "=1s"
			}
			args := append(append([]string(nil), path...), arg)
			if f.Name != "data" && c.LocalFlags().Lookup("data") != nil {
				args = append(args, "--data", missing)
			}
			_, _, err := runCLI(t, "", args...)
			if err != nil && strings.Contains(err.Error(), "not defined") {
				t.Errorf("sluice %s: %v; the command does not take the flag its help lists", strings.Join(args, " "), err)
			}
		})
	}
	if n < 15 {
		t.Errorf("checked %d flags, want those of put, keys, reload and the user commands", n)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: got %v, want nothing created", missing, err)
	}
}
