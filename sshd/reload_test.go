package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

// TestReload: a key added by Reload logs in, a session opened before
// keeps its user and works, a removed user can no longer log in, and a
// policy with a bad key is refused with the old one kept.
func TestReload(t *testing.T) {
	f := start(t, nil)
	before, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	newKey, _ := ssh.NewSignerFromKey(priv)
	next := *f.srv.pol()
	next.Users = []policy.User{{Name: "dev", Level: policy.Guest,
		AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(newKey.PublicKey()))}}}
	if err := f.srv.Reload(&next); err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", f.addr, &ssh.ClientConfig{User: "dev", Auth: []ssh.AuthMethod{ssh.PublicKeys(newKey)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatalf("new user after Reload: %v", err)
	}
	c.Close()
	if _, err := f.dial(t); err == nil {
		t.Error("root removed by Reload still logs in")
	}
	sc, err := sftp.NewClient(before)
	if err != nil {
		t.Fatalf("session opened before Reload: %v", err)
	}
	if _, err := sc.ReadDir("/"); err != nil {
		t.Errorf("session opened before Reload: ReadDir: %v", err)
	}
	sc.Close()

	bad := next
	bad.Users = []policy.User{{Name: "x", Level: policy.Guest, AuthorizedKeys: []string{"ssh-ed25519 AAAA"}}}
	if err := f.srv.Reload(&bad); err == nil {
		t.Fatal("Reload with a bad key: got nil, want an error")
	}
	if f.srv.pol() != &next {
		t.Error("a refused Reload replaced the policy")
	}
}
