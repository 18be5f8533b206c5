package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// reloadTimeout bounds the wait for the server's log line about a reload.
const reloadTimeout = 20 * time.Second

// TestUserAddWhileServing: `sluice user add` of a new user with a new key,
// while the server runs, is taken by the running server (the command
// signals it through its pid file): the user logs in with OpenSSH sftp
// without a restart, a session opened before keeps working, and a comment
// written in sluice.toml survives.
func TestUserAddWhileServing(t *testing.T) {
	requireTool(t, "sftp")
	s := newServer(t, "# operator's note: this line must survive `sluice user add`")
	pid, err := os.ReadFile(filepath.Join(s.data, "sluice.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(s.proc.cmd.Process.Pid) {
		t.Fatalf("pid file: got %q, %v; want %d", pid, err, s.proc.cmd.Process.Pid)
	}
	before := s.sftpClient(t)
	if _, err := before.ReadDir("/dsk"); err != nil {
		t.Fatalf("session before: %v", err)
	}
	cfgBefore, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}

	key, pub := newKeyFiles(t, "dev@reload-test")
	out, stderr, err := runSluice(t, "user", "add", "dev", "--data", s.data, "--level", "guest", "--authorized-key", pub)
	if err != nil {
		t.Fatalf("sluice user add: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "told to reload") {
		t.Errorf("user add output: got %q, want it to say the server was told to reload", out)
	}
	if _, ok := s.waitEvent(reloadTimeout, "configuration reloaded", nil); !ok {
		t.Fatal("the server logged no \"configuration reloaded\"")
	}

	if r := s.sftpWithKey(t, "dev", key); r.exit != 0 {
		t.Fatalf("sftp as the new user: %v", r)
	}
	if _, ok := s.waitEvent(reloadTimeout, "login", map[string]string{"user": "dev", "method": "publickey"}); !ok {
		t.Error("no audited publickey login of dev")
	}

	// The session opened before the change still works, as root.
	if err := upload(before, "/mem/after-reload.bin", []byte("still here")); err != nil {
		t.Errorf("session opened before: upload: %v", err)
	}
	if got, err := download(before, "/mem/after-reload.bin"); err != nil || string(got) != "still here" {
		t.Errorf("session opened before: download: got %q, %v", got, err)
	}

	cfgAfter, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if string(cfgAfter) != string(cfgBefore) || !strings.Contains(string(cfgAfter), "# operator's note") {
		t.Errorf("sluice.toml changed by user add:\n%s\nwant, unchanged:\n%s", cfgAfter, cfgBefore)
	}
	users, err := os.ReadFile(filepath.Join(s.data, "users.toml"))
	if err != nil || !strings.Contains(string(users), `name = "dev"`) {
		t.Errorf("users.toml: got %q, %v; want user dev", users, err)
	}
	if fi, err := os.Stat(filepath.Join(s.data, "users.toml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users.toml mode: got %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestReloadBrokenConfig: SIGHUP with a configuration that does not load
// is logged at error and the server keeps serving with the one in force;
// a change that needs a restart is named in a warning; the pid file goes
// at exit.
func TestReloadBrokenConfig(t *testing.T) {
	s := newServer(t, "")
	c := s.sftpClient(t)
	good, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	s.appendConfig("[limits]\nidle_timeot = \"1m\"")
	if err := s.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e, ok := s.waitEvent(reloadTimeout, "configuration not reloaded; the one in force is kept", map[string]string{"@level": "error"})
	if !ok {
		t.Fatal("no error logged for a broken configuration")
	}
	if !strings.Contains(e.str("error"), "idle_timeot") {
		t.Errorf("error: got %q, want it to name the bad key", e.str("error"))
	}
	if _, err := c.ReadDir("/dsk"); err != nil {
		t.Errorf("session after a refused reload: %v", err)
	}
	fresh := s.sftpClient(t) // a new login with the configuration in force
	if _, err := fresh.ReadDir("/"); err != nil {
		t.Errorf("new session after a refused reload: %v", err)
	}

	if err := os.WriteFile(s.config, append(good, "\n[mem]\nmax_bytes = 1048576\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if e, ok := s.waitEvent(reloadTimeout, "settings changed that need a restart; they keep their running values", nil); !ok || e.str("settings") != "[mem]" {
		t.Errorf("restart warning: got %v, want one naming [mem]", e)
	}
	if _, ok := s.waitEvent(reloadTimeout, "configuration reloaded", nil); !ok {
		t.Error("a good configuration was not reloaded")
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(s.data, "sluice.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file after exit: got %v, want it removed", err)
	}
}

// TestUserCommandsWhileServing: the other user commands take effect in
// the running server too (key del locks the key out at once), the last
// supervisor is not removed without --force, and sluice reload signals
// the server through its pid file.
func TestUserCommandsWhileServing(t *testing.T) {
	requireTool(t, "sftp")
	s := newServer(t, "")
	key, pub := newKeyFiles(t, "dev@reload-test")
	reloads := 0
	sluice := func(want int, args ...string) string {
		t.Helper()
		out, stderr, err := runSluice(t, append(args, "--data", s.data)...)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("sluice %v: exit %d, want %d\n%s%s", args, code, want, out, stderr)
		}
		if code == 0 && (strings.Contains(out, "told to reload") || strings.Contains(out, "sent SIGHUP")) {
			reloads++
			if _, ok := s.proc.log.wait(reloadTimeout, func(e event) bool {
				return e.matches("configuration reloaded", nil) && countEvents(s, "configuration reloaded") >= reloads
			}); !ok {
				t.Fatalf("sluice %v: the server logged no reload", args)
			}
		}
		return out + stderr
	}

	if out := sluice(2, "user", "del", "root"); !strings.Contains(out, "warning") || !strings.Contains(out, "--force") {
		t.Errorf("user del of the last supervisor: got %q, want a warning naming --force", out)
	}
	sluice(0, "user", "add", "dev", "--level", "guest")
	sluice(0, "user", "key", "add", "dev", pub)
	if r := s.sftpWithKey(t, "dev", key); r.exit != 0 {
		t.Fatalf("sftp after user key add: %v", r)
	}
	if out := sluice(0, "user", "list", "-l"); !strings.Contains(out, "dev") || !strings.Contains(out, "dev@reload-test") {
		t.Errorf("user list -l: got %q, want dev and its key", out)
	}
	fp := ""
	for _, f := range strings.Fields(sluice(0, "user", "list", "-l")) {
		if strings.HasPrefix(f, "SHA256:") {
			fp = f // root's key is listed first, dev's (added after) last
		}
	}
	sluice(0, "user", "key", "del", "dev", fp)
	if r := s.sftpWithKey(t, "dev", key); r.exit == 0 {
		t.Errorf("sftp with a deleted key: got exit 0, want a refusal")
	}
	sluice(0, "reload")
	sluice(0, "user", "del", "dev")
}

// countEvents is the number of log lines with the message.
func countEvents(s *server, msg string) int {
	n := 0
	for _, e := range s.proc.log.events() {
		if e.matches(msg, nil) {
			n++
		}
	}
	return n
}

// sftpWithKey runs OpenSSH sftp as user with key, listing / and /dsk.
func (s *server) sftpWithKey(t *testing.T, user, key string) result {
	t.Helper()
	dir := t.TempDir()
	batch := filepath.Join(dir, "batch")
	if err := os.WriteFile(batch, []byte("ls /\nls /dsk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	args := []string{"-F", os.DevNull, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + os.DevNull,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", key, "-P", s.port(), "-b", batch, user + "@127.0.0.1"}
	return run(t, ctx, dir, clientEnv(), requireTool(t, "sftp"), args...)
}

// newKeyFiles writes a new ed25519 key pair for OpenSSH and returns the
// private key's and the public key's file.
func newKeyFiles(t *testing.T, comment string) (key, pub string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub = key + ".pub"
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + comment + "\n"
	if err := os.WriteFile(pub, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, pub
}
