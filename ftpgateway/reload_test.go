package ftpgateway

import (
	"testing"

	"github.com/sluice/sluice/policy"
)

// TestReload: after Reload a new user can log in, while a session logged in before keeps its user and works.
func TestReload(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	before := e.login(t, "guest")
	next := *e.pol
	next.Users = []policy.User{{Name: "dev", Level: policy.Guest, PasswordHash: e.pol.User("guest").PasswordHash}}
	if err := e.srv.Reload(&next); err != nil {
		t.Fatal(err)
	}
	e.login(t, "dev")
	if e.srv.pol().User("guest") != nil {
		t.Error("removed user still in the policy in force")
	}
	if r := before.cmd("PWD"); r.code != 257 {
		t.Errorf("session logged in before Reload: PWD got %q, want 257", r)
	}
	if r := before.cmd("NOOP"); r.code != 200 {
		t.Errorf("session logged in before Reload: NOOP got %q, want 200", r)
	}

	bad := next
	bad.FTP.RequireTLS = true
	e.srv.cfg.TLS = nil
	if err := e.srv.Reload(&bad); err == nil || e.srv.pol() != &next {
		t.Errorf("Reload with require_tls and no TLS: got %v, want an error and the policy kept", err)
	}
}
