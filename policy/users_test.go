package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

const testHash = "$2a$10$m/4/x0F/y/d9I73jMtwHtuG.KSaVEDzVtycqpldUVOFapP4lIF/KK"

// usersSetup writes a hand-written configuration with a comment and a
// guest "ops", and returns its path and its loaded form.
func usersSetup(t *testing.T) (string, *Config) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.toml")
	text := "# keep this comment\ndata_dir = \".\"\n\n[limits]\nmax_sessions = 7\n\n[[user]]\nname = \"ops\"\nlevel = \"guest\"\n"
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return path, load(t, path)
}

func load(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// merged is the configuration at path with its users file.
func merged(t *testing.T, path string) *Config {
	t.Helper()
	c := load(t, path)
	if err := c.MergeUsers(path, UsersPath(c.DataDir)); err != nil {
		t.Fatal(err)
	}
	return c
}

func testKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment
}

func TestUserOperations(t *testing.T) {
	path, cfg := usersSetup(t)
	before, _ := os.ReadFile(path)
	k1, k2 := testKey(t, "a@x"), testKey(t, "b@x")

	created, err := AddUser(path, cfg, "root", UserEdit{Level: Supervisor, PasswordHash: testHash, AddKeys: []string{k1}})
	if err != nil || !created {
		t.Fatalf("add root: got %v, %v; want created", created, err)
	}
	// Again with another key: added to the list, the password kept.
	if created, err = AddUser(path, cfg, "root", UserEdit{AddKeys: []string{k2, k1}}); err != nil || created {
		t.Fatalf("add root again: got %v, %v; want changed", created, err)
	}
	c := merged(t, path)
	root := c.User("root")
	if root == nil || root.PasswordHash != testHash || len(root.AuthorizedKeys) != 2 || root.Level != Supervisor {
		t.Fatalf("root: got %+v, want the hash kept and two keys", root)
	}
	if c.User("ops") == nil || c.Limits.MaxSessions != 7 {
		t.Errorf("configuration's own settings lost: %+v", c)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("sluice.toml rewritten:\n%s", after)
	}

	// Demoting or removing the only supervisor needs force.
	if _, err := AddUser(path, cfg, "root", UserEdit{Level: Guest}); !errors.Is(err, ErrLastSupervisor) {
		t.Errorf("demote last supervisor: got %v, want ErrLastSupervisor", err)
	}
	if err := DelUser(path, cfg, "root", false); !errors.Is(err, ErrLastSupervisor) {
		t.Errorf("delete last supervisor: got %v, want ErrLastSupervisor", err)
	}
	if _, err := AddUser(path, cfg, "sup2", UserEdit{Level: Supervisor, AddKeys: []string{k1}}); err != nil {
		t.Fatal(err)
	}
	if err := DelUser(path, cfg, "root", false); err != nil {
		t.Errorf("delete a supervisor while another remains: %v", err)
	}
	if err := DelUser(path, cfg, "sup2", true); err != nil {
		t.Errorf("delete last supervisor with force: %v", err)
	}

	// A user of the configuration file is not changed.
	if err := SetPassword(path, cfg, "ops", testHash); !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "sluice.toml:8") {
		t.Errorf("passwd of a configuration user: got %v, want ErrNotOwned at sluice.toml:8", err)
	}
	if err := SetPassword(path, cfg, "nobody", testHash); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("passwd of an unknown user: got %v, want ErrNoSuchUser", err)
	}

	// Keys: added once, removed by fingerprint or by line.
	if _, err := AddUser(path, cfg, "dev", UserEdit{Level: Guest}); err != nil {
		t.Fatal(err)
	}
	if err := AddKeys(path, cfg, "dev", []string{k1, k2, k1}); err != nil {
		t.Fatal(err)
	}
	if n := len(merged(t, path).User("dev").AuthorizedKeys); n != 2 {
		t.Errorf("dev has %d keys, want 2", n)
	}
	if n, err := DelKey(path, cfg, "dev", KeyFingerprint(k1)); err != nil || n != 1 {
		t.Errorf("del key by fingerprint: got %d, %v; want 1", n, err)
	}
	if n, err := DelKey(path, cfg, "dev", k2); err != nil || n != 1 {
		t.Errorf("del key by line: got %d, %v; want 1", n, err)
	}
	if _, err := DelKey(path, cfg, "dev", k2); err == nil {
		t.Error("del of a missing key: got nil, want an error")
	}
	if err := AddKeys(path, cfg, "dev", []string{"ssh-ed25519 AAAA"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad key: got %v, want ErrConfig", err)
	}
}

func TestUsersFileModeKept(t *testing.T) {
	path, cfg := usersSetup(t)
	if _, err := AddUser(path, cfg, "a", UserEdit{Level: Guest}); err != nil {
		t.Fatal(err)
	}
	up := UsersPath(cfg.DataDir)
	if fi, err := os.Stat(up); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new users file: got %v, %v; want mode 0600", fi.Mode().Perm(), err)
	}
	if err := os.Chmod(up, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := AddUser(path, cfg, "b", UserEdit{Level: Guest}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(up); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("rewritten users file: got %v, %v; want mode 0640 kept", fi.Mode().Perm(), err)
	}
}

func TestMergeUsersErrors(t *testing.T) {
	tests := []struct {
		name, users, want string
	}{
		{"in both files", "\n[[user]]\nname = \"ops\"\nlevel = \"guest\"\n", "users.toml:3: user \"ops\" is also defined in"},
		{"unknown key", "[[user]]\nname = \"a\"\nlevel = \"guest\"\nshell = \"/bin/sh\"\n", "users.toml:4: unknown key"},
		{"bad level", "[[user]]\nname = \"a\"\nlevel = \"root\"\n", "users.toml:2: user \"a\": level"},
		{"bad key", "[[user]]\nname = \"a\"\nlevel = \"guest\"\nauthorized_keys = [\"nope\"]\n", "authorized key 1"},
		{"twice", "[[user]]\nname = \"a\"\nlevel = \"guest\"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\n", "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, cfg := usersSetup(t)
			if err := os.WriteFile(UsersPath(cfg.DataDir), []byte(tt.users), 0o600); err != nil {
				t.Fatal(err)
			}
			err := cfg.MergeUsers(path, UsersPath(cfg.DataDir))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an ErrConfig containing %q", err, tt.want)
			}
			if strings.Contains(tt.want, "also defined") && !strings.Contains(err.Error(), "sluice.toml:8") {
				t.Errorf("got %v, want the configuration's line 8 named", err)
			}
		})
	}
}

func TestWriteSplitsUsers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.toml")
	c := &Config{DataDir: ".", Limits: Limits{MaxSessions: 3},
		Users: []User{{Name: "root", Level: Supervisor, PasswordHash: testHash}}}
	if err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); strings.Contains(string(raw), "[[user]]") {
		t.Errorf("users written to the configuration:\n%s", raw)
	}
	got := merged(t, path)
	if u := got.User("root"); u == nil || u.PasswordHash != testHash || got.Limits.MaxSessions != 3 {
		t.Errorf("got %+v, want root from users.toml and max_sessions 3", got)
	}
}
