package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Set once by TestMain, read-only afterwards.
var (
	sluiceBin    string     // the server binary
	sluiceFault  string     // the server binary with -tags faultinject, for the crash tests
	clientKey    string     // OpenSSH private key file of the client (authorized for root)
	clientPub    string     // its authorized_keys line file
	clientSigner ssh.Signer // the same key for Go clients
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sluice-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildServer(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	if err := makeClientKey(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	return m.Run()
}

// buildServer builds ./cmd/sluice from the module root into dir.
func buildServer(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := ".." // this package's directory is a child of the module root
	if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
		root = filepath.Dir(gomod)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	sluiceFault = filepath.Join(dir, "sluice-faultinject")
	for _, b := range []struct{ out, tags string }{{sluiceBin, ""}, {sluiceFault, "faultinject"}} {
		args := []string{"build", "-o", b.out}
		if raceEnabled {
			args = append(args, "-race")
		}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		args = append(args, "./cmd/sluice")
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// makeClientKey writes an ed25519 key pair in OpenSSH format, as
// ssh-keygen -t ed25519 with an empty passphrase does, so that tests
// driving only Go clients do not need ssh-keygen.
func makeClientKey(dir string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "sluice-integration")
	if err != nil {
		return err
	}
	clientKey = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(clientKey, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	if clientSigner, err = ssh.NewSignerFromKey(priv); err != nil {
		return err
	}
	clientPub = clientKey + ".pub"
	return os.WriteFile(clientPub, ssh.MarshalAuthorizedKey(clientSigner.PublicKey()), 0o644)
}

// requireTool returns the path of a client program. When it is missing the
// test is skipped, or fails when CI is set (CI installs every client).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found and CI is set: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// newSigner returns a fresh ed25519 key that no user authorizes.
func newSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}
