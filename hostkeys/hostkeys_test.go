package hostkeys

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestLoadGeneratesOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	first, err := Load(Config{Dir: dir, RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Fatalf("got %d signers, want 2", len(first))
	}
	for _, name := range []string{Ed25519File, RSAFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	again, err := Load(Config{Dir: dir, RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if ssh.FingerprintSHA256(first[i].PublicKey()) != ssh.FingerprintSHA256(again[i].PublicKey()) {
			t.Errorf("key %d changed on reload", i)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 {
		t.Errorf("directory holds %d files, want 4: two keys and their .pub (no temporary files)", len(ents))
	}
	fps, err := Fingerprints(dir)
	if err != nil || len(fps) != 2 || !strings.HasPrefix(fps[0], "ssh-ed25519 SHA256:") {
		t.Errorf("fingerprints: got %v, %v", fps, err)
	}
}

func TestRSASignerRefusesSHA1(t *testing.T) {
	signers, err := Load(Config{Dir: t.TempDir(), RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := signers[1].(ssh.AlgorithmSigner)
	if !ok {
		t.Fatal("rsa signer is not an AlgorithmSigner")
	}
	if _, err := rs.SignWithAlgorithm(nil, []byte("x"), ssh.KeyAlgoRSA); err == nil {
		t.Error("ssh-rsa (SHA-1) signature made, want refusal")
	}
	if _, err := rs.SignWithAlgorithm(nil, []byte("x"), ssh.KeyAlgoRSASHA512); err != nil {
		t.Errorf("rsa-sha2-512: %v", err)
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Ed25519File), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Config{Dir: dir}); err == nil {
		t.Error("got nil, want an error for a corrupt key")
	}
	if _, err := Load(Config{}); err == nil {
		t.Error("got nil, want an error for no directory")
	}
}

// TestPublicKeyFiles: each private key has a .pub next to it, mode 0644,
// in authorized_keys form, that ssh-keygen reads as the same key; a
// missing or stale .pub is rewritten at the next Load; one that cannot be
// written does not stop Load.
func TestPublicKeyFiles(t *testing.T) {
	dir := t.TempDir()
	signers, err := Load(Config{Dir: dir, RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for i, name := range []string{Ed25519File, RSAFile} {
			path := filepath.Join(dir, name+PubSuffix)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("%s: %s: %v", when, name+PubSuffix, err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("%s: %s: got mode %v, want 0644", when, name+PubSuffix, fi.Mode().Perm())
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pub, comment, _, rest, err := ssh.ParseAuthorizedKey(data)
			if err != nil || len(rest) != 0 {
				t.Fatalf("%s: %s: %v (rest %q)", when, name+PubSuffix, err, rest)
			}
			if !bytes.Equal(pub.Marshal(), signers[i].PublicKey().Marshal()) || comment != "sluice host key" {
				t.Errorf("%s: %s: got %s %q, want the host key %s", when, name+PubSuffix,
					ssh.FingerprintSHA256(pub), comment, ssh.FingerprintSHA256(signers[i].PublicKey()))
			}
		}
	}
	check("first Load")
	if keygen, err := exec.LookPath("ssh-keygen"); err == nil {
		out, err := exec.Command(keygen, "-l", "-f", filepath.Join(dir, Ed25519File+PubSuffix)).Output()
		fp := ssh.FingerprintSHA256(signers[0].PublicKey())
		if err != nil || !strings.Contains(string(out), fp) {
			t.Errorf("ssh-keygen -l: got %q, %v; want %s", out, err, fp)
		}
	}

	if err := os.Remove(filepath.Join(dir, Ed25519File+PubSuffix)); err != nil {
		t.Fatal(err)
	}
	other, err := Load(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stale := ssh.MarshalAuthorizedKey(other[0].PublicKey())
	if err := os.WriteFile(filepath.Join(dir, RSAFile+PubSuffix), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Config{Dir: dir, RSA: true}); err != nil {
		t.Fatal(err)
	}
	check("Load after a missing and a stale .pub")

	blocked := t.TempDir()
	if err := os.Mkdir(filepath.Join(blocked, Ed25519File+PubSuffix), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Config{Dir: blocked}); err != nil {
		t.Errorf("Load with a .pub that cannot be written: %v, want the key loaded", err)
	}
}

func TestKnownHosts(t *testing.T) {
	dir := t.TempDir()
	signers, err := Load(Config{Dir: dir, RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := PublicKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Type() != ssh.KeyAlgoED25519 || keys[1].Type() != ssh.KeyAlgoRSA {
		t.Fatalf("PublicKeys: got %d keys, want ed25519 then rsa", len(keys))
	}
	ed := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signers[0].PublicKey())))
	tests := []struct {
		name  string
		hosts []string
		want  string
	}{
		{"port 2222", []string{"127.0.0.1:2222"}, "[127.0.0.1]:2222 " + ed},
		{"port 22", []string{"192.0.2.7:22"}, "192.0.2.7 " + ed},
		{"ipv6", []string{"[::1]:2222"}, "[::1]:2222 " + ed},
		{"several", []string{"device.example:22", "[192.0.2.7]:2222"}, "device.example,[192.0.2.7]:2222 " + ed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := KnownHosts(tt.hosts, keys)
			if len(lines) != 2 || lines[0] != tt.want {
				t.Errorf("KnownHosts(%q): got %q, want %q first", tt.hosts, lines, tt.want)
			}
			// x/crypto's parser, which the ssh client side uses, reads the
			// line back as this host's key.
			marker, hosts, pub, _, _, err := ssh.ParseKnownHosts([]byte(lines[1]))
			if err != nil || marker != "" || len(hosts) != len(tt.hosts) || !bytes.Equal(pub.Marshal(), keys[1].Marshal()) {
				t.Errorf("ParseKnownHosts(%q) = %q, %q, %v", lines[1], marker, hosts, err)
			}
		})
	}
	if _, err := PublicKeys(t.TempDir()); err == nil {
		t.Error("PublicKeys of an empty directory: got nil, want an error")
	}
}
