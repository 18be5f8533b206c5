package policy

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice/sluice/image"
	"golang.org/x/crypto/ssh"
)

func newPub(t *testing.T) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func authorizedLine(t *testing.T, pub ed25519.PublicKey) []byte {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.MarshalAuthorizedKey(k)
}

// TestTrustedKeysDir: [device] trusted_keys_dir adds one key per *.pub
// or *.pem file (the forms ParsePublicKey takes), after trusted_keys, in
// name order, relative to data_dir; other files are ignored; a bad key
// file or a missing directory is an error at the key's line; with keys
// only in the directory, the default checks include SIGNATURE.
func TestTrustedKeysDir(t *testing.T) {
	inline, a, b, c := newPub(t), newPub(t), newPub(t), newPub(t)
	der, err := x509.MarshalPKIXPublicKey(c)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	dir := filepath.Join(data, "keys")
	if err := os.MkdirAll(filepath.Join(dir, "sub.pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a.pub":       authorizedLine(t, a),
		"b.pub":       []byte(base64.StdEncoding.EncodeToString(b) + "\n"),
		"c.pem":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"README":      []byte("not a key"),
		".hidden.pub": []byte("not a key"),
		"x.pub~":      []byte("not a key"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(data, "sluice.toml")
	cfg := "data_dir = \"" + data + "\"\n[device]\ntrusted_keys = [\"" + strings.TrimSpace(string(authorizedLine(t, inline))) + "\"]\ntrusted_keys_dir = \"keys\"\n"

	got, err := Parse(name, []byte(cfg))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []ed25519.PublicKey{inline, a, b, c}
	if len(got.Device.Keys) != len(want) {
		t.Fatalf("got %d keys, want %d (inline, a.pub, b.pub, c.pem)", len(got.Device.Keys), len(want))
	}
	for i := range want {
		if !bytes.Equal(got.Device.Keys[i], want[i]) {
			t.Errorf("key %d: got id %x, want %x", i, image.KeyID(got.Device.Keys[i]), image.KeyID(want[i]))
		}
	}
	if got.Device.TrustedKeysDir != "keys" {
		t.Errorf("TrustedKeysDir = %q, want it kept as written", got.Device.TrustedKeysDir)
	}

	// Only the directory: SIGNATURE is in the default checks.
	onlyDir := "data_dir = \"" + data + "\"\n[device]\ntrusted_keys_dir = \"" + dir + "\"\n"
	if got, err := Parse(name, []byte(onlyDir)); err != nil || got.Checks.On&image.CheckSignature == 0 {
		t.Errorf("keys only in the directory: checks %v, %v; want signature on", got.Checks.On, err)
	}

	tests := []struct {
		name   string
		dir    string
		broken string // a key file to add
		want   string // in the error
	}{
		{"missing directory", "nope", "", "trusted_keys_dir"},
		{"bad key file", "keys", "z.pub", "z.pub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.broken != "" {
				p := filepath.Join(dir, tt.broken)
				if err := os.WriteFile(p, []byte("ssh-ed25519 AAAAnotbase64"), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(p) })
			}
			in := "data_dir = \"" + data + "\"\n[device]\ntrusted_keys_dir = \"" + tt.dir + "\"\n"
			_, err := Parse(name, []byte(in))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), ":3") {
				t.Errorf("Parse: got %v, want an error naming %s at line 3", err, tt.want)
			}
		})
	}
}

// TestChecksAllWithoutKeys (issue 10 item 2): "all" means every check
// that can run, so without a trusted key ["all"] and ["all", "no crc"]
// load with SIGNATURE off, as the default does; naming "signature"
// without a key is an error; with a key "all" includes it.
func TestChecksAllWithoutKeys(t *testing.T) {
	for _, tt := range []struct {
		enabled string
		want    image.Check
	}{
		{``, image.CheckAll &^ image.CheckSignature},
		{`enabled = ["all"]`, image.CheckAll &^ image.CheckSignature},
		{`enabled = ["all", "no crc"]`, image.CheckAll &^ (image.CheckSignature | image.CheckCRC)},
		{`enabled = ["ALL", "No Profile"]`, image.CheckAll &^ (image.CheckSignature | image.CheckProfile)},
		{`enabled = ["none", "crc"]`, image.CheckCRC},
		{`enabled = ["all", "signature", "no signature"]`, image.CheckAll &^ image.CheckSignature},
	} {
		c, err := Parse("t.toml", []byte("[checks]\n"+tt.enabled+"\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.enabled, err)
			continue
		}
		if c.Checks.On != tt.want {
			t.Errorf("%s: checks %v, want %v", tt.enabled, c.Checks.On, tt.want)
		}
	}
	for _, enabled := range []string{`["all", "signature"]`, `["signature"]`, `["none", "Signature"]`} {
		_, err := Parse("t.toml", []byte("[checks]\nenabled = "+enabled+"\n"))
		if err == nil || !strings.Contains(err.Error(), "SIGNATURE is on but device.trusted_keys is empty") {
			t.Errorf("%s without a key: %v, want the SIGNATURE error", enabled, err)
		}
	}
	line := strings.TrimSpace(string(authorizedLine(t, newPub(t))))
	c, err := Parse("t.toml", []byte("[device]\ntrusted_keys = [\""+line+"\"]\n[checks]\nenabled = [\"all\", \"no crc\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := image.CheckAll &^ image.CheckCRC; c.Checks.On != want {
		t.Errorf("with a key: checks %v, want %v", c.Checks.On, want)
	}
}
