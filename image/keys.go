package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Signing keys are plain Ed25519 keys in files OpenSSL and OpenSSH both
// read:
//
//   - private key: PEM "PRIVATE KEY", PKCS #8 (what `openssl genpkey
//     -algorithm ed25519` writes);
//   - public key: one OpenSSH authorized_keys line, "ssh-ed25519 AAAA...
//     comment" (what ssh-keygen writes). ParsePublicKey also takes a PEM
//     "PUBLIC KEY" (PKIX, `openssl pkey -pubout`) or the bare 32-byte key
//     in standard base64.

const sshEd25519 = "ssh-ed25519"

// KeyID returns the key ID a signature record carries for pub: the first
// KeyIDSize bytes of SHA-256 of the 32-byte public key.
func KeyID(pub ed25519.PublicKey) []byte {
	sum := sha256.Sum256(pub)
	return sum[:KeyIDSize]
}

// MarshalPrivateKey encodes priv as PEM PKCS #8.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("image: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey decodes a PEM PKCS #8 Ed25519 private key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New(`image: private key: want a PEM "PRIVATE KEY" block (PKCS #8)`)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("image: private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("image: private key: %T, want Ed25519", k)
	}
	return priv, nil
}

// MarshalPublicKey encodes pub as an authorized_keys line ending in a
// newline, with an optional comment.
func MarshalPublicKey(pub ed25519.PublicKey, comment string) []byte {
	blob := sshString(nil, []byte(sshEd25519))
	blob = sshString(blob, pub)
	line := sshEd25519 + " " + base64.StdEncoding.EncodeToString(blob)
	if comment = strings.TrimSpace(comment); comment != "" {
		line += " " + comment
	}
	return []byte(line + "\n")
}

func sshString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// ParsePublicKey decodes an Ed25519 public key given as an authorized_keys
// line ("ssh-ed25519 AAAA... [comment]"), a PEM "PUBLIC KEY" block, or the
// standard base64 of the 32 key bytes.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		b, _ := pem.Decode([]byte(s))
		if b == nil || b.Type != "PUBLIC KEY" {
			return nil, errors.New(`image: public key: want a PEM "PUBLIC KEY" block`)
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("image: public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("image: public key: %T, want Ed25519", k)
		}
		return pub, nil
	case strings.HasPrefix(s, sshEd25519+" "):
		f := strings.Fields(s)
		blob, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			return nil, fmt.Errorf("image: public key: %w", err)
		}
		typ, rest, ok := sshField(blob)
		key, rest2, ok2 := sshField(rest)
		if !ok || !ok2 || string(typ) != sshEd25519 || len(key) != ed25519.PublicKeySize || len(rest2) != 0 {
			return nil, errors.New("image: public key: malformed ssh-ed25519 key")
		}
		return ed25519.PublicKey(bytes.Clone(key)), nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("image: public key: want an ssh-ed25519 line, a PEM PUBLIC KEY, or 32 bytes in base64")
	}
	return ed25519.PublicKey(raw), nil
}

func sshField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}
