package sshd

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

// dialFrom opens an SSH connection from the loopback address src.
func (f *fixture) dialFrom(t *testing.T, src string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	t.Helper()
	nc, err := f.rawFrom(t, src)
	if err != nil {
		return nil, err
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey()
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(nc, f.addr, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	cl := ssh.NewClient(c, chans, reqs)
	t.Cleanup(func() { cl.Close() })
	return cl, nil
}

func (f *fixture) rawFrom(t *testing.T, src string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", f.addr)
	if err == nil {
		t.Cleanup(func() { nc.Close() })
	}
	return nc, err
}

// TestSilentConnectionsDoNotLockOut: connections that never log in hold
// pre-authentication slots, not session slots, and a source with none in
// progress is admitted: an operator still logs in.
func TestSilentConnectionsDoNotLockOut(t *testing.T) {
	f := start(t, func(c *policy.Config) { c.Limits.MaxSessions = 2 })
	held := 0
	for i := range 40 {
		src := "127.0.0." + string(rune('3'+i%5))
		nc, err := f.rawFrom(t, src)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc
		held++
	}
	// Two operators (sources with no connection in progress), one after
	// the other: max_sessions = 2.
	for i, src := range []string{"127.0.0.2", "127.0.0.8"} {
		if _, err := f.dialFrom(t, src, &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}}); err != nil {
			t.Fatalf("login %d with %d silent connections open: %v", i+1, held, err)
		}
	}
}

// TestRefusalSaysWhy: a connection refused by the budget gets an SSH
// disconnect with the reason, before any key exchange.
func TestRefusalSaysWhy(t *testing.T) {
	f := start(t, func(c *policy.Config) { c.Limits.MaxStartupsPerSource = 1 })
	if _, err := f.rawFrom(t, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.budget.InProgress() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := f.dialFrom(t, "127.0.0.1", &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}})
	if err == nil || !strings.Contains(err.Error(), policy.ErrPreAuthSource.Error()) {
		t.Errorf("second connection: got %v, want the reason %q", err, policy.ErrPreAuthSource)
	}
}

// TestBanAfterFailedPasswords: failed passwords past the threshold ban
// the source for SSH (and, sharing the Defender, FTP); the connection is
// told why; other sources still log in.
func TestBanAfterFailedPasswords(t *testing.T) {
	f := start(t, func(c *policy.Config) {
		c.Penalties.Threshold = 4
		c.SSH.MaxAuthTries = 6
	})
	var mu sync.Mutex
	var banners []string
	cfg := &ssh.ClientConfig{
		Auth: []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.Password("wrong"), 5)},
		BannerCallback: func(m string) error {
			mu.Lock()
			banners = append(banners, m)
			mu.Unlock()
			return nil
		},
	}
	if _, err := f.dialFrom(t, "127.0.0.1", cfg); err == nil {
		t.Fatal("wrong password accepted")
	}
	mu.Lock()
	got := strings.Join(banners, "")
	mu.Unlock()
	if !strings.Contains(got, policy.ErrSourceBanned.Error()) {
		t.Errorf("banner: got %q, want the ban", got)
	}
	if _, err := f.dialFrom(t, "127.0.0.1", &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}}); err == nil ||
		!strings.Contains(err.Error(), policy.ErrSourceBanned.Error()) {
		t.Errorf("key login from the banned source: got %v, want the ban's reason", err)
	}
	if _, err := f.dialFrom(t, "127.0.0.2", &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}}); err != nil {
		t.Errorf("key login from another source: %v", err)
	}
}

// TestSessionLimitTold: the session limit applies at the login, and the
// refused client reads why in a banner.
func TestSessionLimitTold(t *testing.T) {
	f := start(t, func(c *policy.Config) { c.Limits.MaxSessions = 1 })
	if _, err := f.dialFrom(t, "127.0.0.1", &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)}}); err != nil {
		t.Fatal(err)
	}
	var banner string
	_, err := f.dialFrom(t, "127.0.0.2", &ssh.ClientConfig{Auth: []ssh.AuthMethod{ssh.PublicKeys(f.signer)},
		BannerCallback: func(m string) error { banner += m; return nil }})
	if err == nil {
		t.Fatal("second session accepted with max_sessions = 1")
	}
	if want := "sluice: too many sessions (1 of 1 sessions in use); try again later"; !strings.Contains(banner, want) {
		t.Errorf("banner: got %q, want %q", banner, want)
	}
}

// TestIdleSFTPSessionDoesNotDelayShutdown: an SFTP session that moves no
// bytes is closed by Shutdown without waiting for its deadline.
func TestIdleSFTPSessionDoesNotDelayShutdown(t *testing.T) {
	f := start(t, nil)
	c, err := f.dial(t)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReadDir("/"); err != nil {
		t.Fatal(err)
	}
	// Idle from now on. Shutdown's deadline is far beyond the idle time
	// (1 s): it must return nil, having closed the session itself.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with an idle SFTP session: %v", err)
	}
	if err := c.Wait(); err == nil {
		t.Error("idle session survived Shutdown")
	}
}
