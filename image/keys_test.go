package image

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	priv := testKey(7)
	pk := pub(priv)
	pemPriv, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemPriv, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("private key file starts %q", pemPriv[:20])
	}
	back, err := ParsePrivateKey(pemPriv)
	if err != nil || !back.Equal(priv) {
		t.Fatalf("ParsePrivateKey = %v, %v", back, err)
	}
	line := MarshalPublicKey(pk, "vendor signing key")
	if !strings.HasPrefix(string(line), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI") || !strings.HasSuffix(string(line), " vendor signing key\n") {
		t.Errorf("public key line %q", line)
	}
	der, _ := x509.MarshalPKIXPublicKey(pk)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, in := range [][]byte{line, MarshalPublicKey(pk, ""), pemPub, []byte(base64.StdEncoding.EncodeToString(pk) + "\n")} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pk) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", in, got, err)
		}
	}
	bad := []string{
		"", "ssh-rsa AAAAB3NzaC1yc2E=", "ssh-ed25519 !!!", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
		"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n", base64.StdEncoding.EncodeToString(make([]byte, 31)),
	}
	for _, s := range bad {
		if _, err := ParsePublicKey([]byte(s)); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", s)
		}
	}
	if _, err := ParsePrivateKey(pemPub); err == nil {
		t.Error("ParsePrivateKey(public key) succeeded")
	}
	if id := KeyID(pk); len(id) != KeyIDSize {
		t.Errorf("KeyID length %d", len(id))
	}
}
