package integration

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSSHAudit runs ssh-audit against the server, with the default host
// key and with the optional RSA host key: no algorithm may be rated
// [fail] (DESIGN §5).
func TestSSHAudit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		want   []string // lines that must be present
		absent []string // substrings no line may contain
	}{
		{"ed25519", "", []string{"(key) ssh-ed25519"}, []string{"(key) rsa-", "(key) ssh-rsa"}},
		{"rsa", "[ssh]\nhost_key_rsa = true", []string{"(key) ssh-ed25519", "(key) rsa-sha2-512", "(key) rsa-sha2-256"},
			[]string{"(key) ssh-rsa "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bin := requireTool(t, "ssh-audit")
			s := newServer(t, tt.config)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			r := run(t, ctx, t.TempDir(), clientEnv(), bin, "-n", "-p", s.port(), "127.0.0.1")
			if r.timedOut {
				t.Fatalf("ssh-audit: still running after 60s\n%v", r)
			}
			if !strings.Contains(r.stdout, "(gen) banner: SSH-2.0-sluice") {
				t.Fatalf("ssh-audit did not reach the server:\n%v", r)
			}
			for _, line := range strings.Split(r.stdout, "\n") {
				if strings.Contains(line, "[fail]") {
					t.Errorf("ssh-audit: %s", strings.TrimSpace(line))
				}
				for _, a := range tt.absent {
					if strings.Contains(line, a) {
						t.Errorf("ssh-audit: got %q, want no %q", strings.TrimSpace(line), a)
					}
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("ssh-audit output: missing %q", w)
				}
			}
			if t.Failed() {
				t.Logf("ssh-audit output:\n%s", r.stdout)
			}
		})
	}
}
