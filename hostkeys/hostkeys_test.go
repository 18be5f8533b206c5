package hostkeys

import (
	"os"
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
	if len(ents) != 2 {
		t.Errorf("directory holds %d files, want 2 (no temporary files)", len(ents))
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
