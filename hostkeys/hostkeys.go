// Package hostkeys loads or generates sluice's SSH host keys and reports
// their fingerprints.
//
// Keys live in the data directory as OpenSSH private key files
// (ssh_host_ed25519_key, and ssh_host_rsa_key when RSA is asked for). A new
// key is written through a temporary file with mode 0600, fsynced and
// renamed, so a crash never leaves a truncated or world-readable key.
// Next to each, as sshd has them, is its public key in authorized_keys
// form (ssh_host_ed25519_key.pub, mode 0644), rewritten from the private
// key whenever it is missing or differs; KnownHosts makes known_hosts
// lines from the same keys.
package hostkeys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/atomicfile"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// File names inside Config.Dir.
const (
	Ed25519File = "ssh_host_ed25519_key"
	RSAFile     = "ssh_host_rsa_key"
	PubSuffix   = ".pub" // public key file: the private key's name + PubSuffix
	rsaBits     = 3072
)

// Config says where keys live and which to have.
type Config struct {
	Dir    string // required
	RSA    bool   // also an RSA-3072 key, offered as rsa-sha2-256/512 only
	Logger hclog.Logger
}

// Load returns the host key signers, generating missing ones. With RSA the
// RSA signer refuses the SHA-1 "ssh-rsa" signature algorithm.
func Load(cfg Config) ([]ssh.Signer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("hostkeys: no directory")
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("hostkeys: %w", err)
	}
	ed, err := loadOrCreate(filepath.Join(cfg.Dir, Ed25519File), func() (any, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}, log)
	if err != nil {
		return nil, err
	}
	signers := []ssh.Signer{ed}
	if cfg.RSA {
		rs, err := loadOrCreate(filepath.Join(cfg.Dir, RSAFile), func() (any, error) {
			return rsa.GenerateKey(rand.Reader, rsaBits)
		}, log)
		if err != nil {
			return nil, err
		}
		alg, ok := rs.(ssh.AlgorithmSigner)
		if !ok {
			return nil, errors.New("hostkeys: rsa key cannot choose algorithms")
		}
		rs, err = ssh.NewSignerWithAlgorithms(alg, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256})
		if err != nil {
			return nil, fmt.Errorf("hostkeys: %w", err)
		}
		signers = append(signers, rs)
	}
	for _, s := range signers {
		log.Info("host key", "type", s.PublicKey().Type(), "fingerprint", ssh.FingerprintSHA256(s.PublicKey()))
	}
	return signers, nil
}

// PublicKeys returns the public halves of the host keys in dir (ed25519
// first) without generating any. It reads the private key files, which
// are authoritative; the .pub files are copies for operators.
func PublicKeys(dir string) ([]ssh.PublicKey, error) {
	var out []ssh.PublicKey
	for _, name := range []string{Ed25519File, RSAFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("hostkeys: %s: %w", name, err)
		}
		out = append(out, s.PublicKey())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hostkeys: no host key in %s", dir)
	}
	return out, nil
}

// Fingerprints returns "type SHA256:..." lines for the keys in dir without
// generating any.
func Fingerprints(dir string) ([]string, error) {
	keys, err := PublicKeys(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %s", k.Type(), ssh.FingerprintSHA256(k))
	}
	return out, nil
}

// KnownHosts returns one known_hosts line per key, naming the hosts
// (host or host:port, as a client dials them; "[host]:port" is written
// for a port other than 22, as OpenSSH does).
func KnownHosts(hosts []string, keys []ssh.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = knownhosts.Line(hosts, k)
	}
	return out
}

// writePub makes path hold the authorized_keys line of pub, unless it
// does already.
func writePub(path string, pub ssh.PublicKey) error {
	line := ssh.MarshalAuthorizedKey(pub)
	line = append(line[:len(line)-1], " sluice host key\n"...)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, line) {
		return nil
	}
	return atomicfile.Write(path, line, 0o644)
}

// loadOrCreate returns the key in path, generating it when it does not
// exist, and writes its .pub file. A .pub that cannot be written is
// logged: it is for operators, and the server does not need it.
func loadOrCreate(path string, gen func() (any, error), log hclog.Logger) (ssh.Signer, error) {
	s, err := loadOrGenerate(path, gen, log)
	if err != nil {
		return nil, err
	}
	if err := writePub(path+PubSuffix, s.PublicKey()); err != nil {
		log.Warn("cannot write the public host key file", "path", path+PubSuffix, "error", err)
	}
	return s, nil
}

func loadOrGenerate(path string, gen func() (any, error), log hclog.Logger) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("hostkeys: %s: %w", path, err)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hostkeys: %w", err)
	}
	key, err := gen()
	if err != nil {
		return nil, fmt.Errorf("hostkeys: generate: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(key, "sluice host key")
	if err != nil {
		return nil, fmt.Errorf("hostkeys: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("hostkeys: %w", err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("hostkeys: %w", err)
	}
	log.Info("generated host key", "path", path)
	return s, nil
}
