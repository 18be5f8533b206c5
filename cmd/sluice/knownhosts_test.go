package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice/sluice/hostkeys"
	"golang.org/x/crypto/ssh"
)

// TestKeysKnownHosts: `sluice keys --known-hosts` prints one known_hosts
// line per host key for the configured SSH address, in the form OpenSSH
// writes ([host]:port unless the port is 22), and x/crypto reads it back.
func TestKeysKnownHosts(t *testing.T) {
	tests := []struct {
		name   string
		config string // sluice.toml; "" for none
		hosts  []string
		rsa    bool
	}{
		{name: "default address", hosts: []string{"[127.0.0.1]:2222"}},
		{name: "configured address", config: "[ssh]\nlisten = \"127.0.0.5:2200\"\n", hosts: []string{"[127.0.0.5]:2200"}},
		{name: "port 22", config: "[ssh]\nlisten = \"[::1]:22\"\n", hosts: []string{"::1"}},
		{name: "with rsa", config: "[ssh]\nhost_key_rsa = true\n", hosts: []string{"[127.0.0.1]:2222"}, rsa: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			signers, err := hostkeys.Load(hostkeys.Config{Dir: dir, RSA: tt.rsa})
			if err != nil {
				t.Fatal(err)
			}
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			lines, err := runKeys(t, "--data", dir, "--known-hosts")
			if err != nil {
				t.Fatalf("keys --known-hosts: %v", err)
			}
			if len(lines) != len(signers) {
				t.Fatalf("got %q, want %d lines", lines, len(signers))
			}
			for i, l := range lines {
				key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signers[i].PublicKey())))
				if want := strings.Join(tt.hosts, ",") + " " + key; l != want {
					t.Errorf("line %d: got %q, want %q", i+1, l, want)
				}
				_, hosts, pub, _, _, err := ssh.ParseKnownHosts([]byte(l))
				if err != nil || !slices.Equal(hosts, tt.hosts) || !bytes.Equal(pub.Marshal(), signers[i].PublicKey().Marshal()) {
					t.Errorf("line %d: ParseKnownHosts: %q, %v", i+1, hosts, err)
				}
			}
		})
	}
	if lines, err := runKeys(t, "--data", t.TempDir(), "--known-hosts"); err == nil {
		t.Errorf("keys --known-hosts without a host key: got %q, want an error", lines)
	}
}

func TestKnownHostsAddrs(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:2222", "[::]:2222", ":2222"} {
		got := knownHostsAddrs(listen)
		if !slices.Contains(got, "127.0.0.1:2222") {
			t.Errorf("knownHostsAddrs(%q) = %q, want 127.0.0.1:2222 among them", listen, got)
		}
		for _, a := range got {
			if strings.HasPrefix(a, "0.0.0.0") || strings.HasPrefix(a, "[::]") || strings.HasPrefix(a, ":") {
				t.Errorf("knownHostsAddrs(%q) = %q, with an unspecified address", listen, got)
			}
		}
	}
	if got := knownHostsAddrs("192.0.2.1:22"); !slices.Equal(got, []string{"192.0.2.1:22"}) {
		t.Errorf("knownHostsAddrs(192.0.2.1:22) = %q, want itself", got)
	}
}
