package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"unknown top key", "data_dir = \"x\"\nbogus = 1\n", "sluice.toml:2: unknown key \"bogus\""},
		{"unknown nested key", "[limits]\nmax_sessions = 3\nidle_timeot = \"1s\"\n", "sluice.toml:3: unknown key \"limits.idle_timeot\""},
		{"unknown table", "[sssh]\nlisten = \"x\"\n", "sluice.toml:1: unknown key \"sssh\""},
		{"syntax", "data_dir = \n", "sluice.toml:1:"},
		{"unclosed table header", "data_dir = \".\"\n[limits\nmax_sessions = 2\n", "sluice.toml:2:"},
		{"bad duration", "[limits]\nidle_timeout = \"soon\"\n", "sluice.toml:2:"},
		{"wrong type", "[mem]\nmax_bytes = \"big\"\n", "sluice.toml:2:"},
		{"bad level", "[[user]]\nname = \"a\"\nlevel = \"god\"\n", "level must be supervisor, guest or viewer"},
		{"bad mount", "[[mount]]\nname = \"usb\"\n", "mount \"usb\""},
		{"sandbox unknown fs", "[[user]]\nname = \"a\"\nlevel = \"guest\"\nfilesystems = [\"xyz\"]\n", "unknown file system \"xyz\""},
		{"bad hash", "[[user]]\nname = \"a\"\nlevel = \"guest\"\npassword_hash = \"plain\"\n", "neither bcrypt nor argon2id"},
		{"duplicate user", "[[user]]\nname = \"a\"\nlevel = \"guest\"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\n", "listed twice"},
		{"bad winscp", "[ssh]\nwinscp_setstat = \"maybe\"\n", "auto, on or off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/sluice.toml", []byte(tt.input))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("got %v, want an ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("/srv/sluice/sluice.toml", []byte(""))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, "/srv/sluice/data"},
		{"max_auth_tries", c.SSH.MaxAuthTries, 3},
		{"winscp", c.SSH.WinSCPSetstat, "auto"},
		{"chacha20 off", c.SSH.ChaCha20, false},
		{"idle", c.Limits.IdleTimeout, 10 * time.Minute},
		{"login grace", c.Limits.LoginGraceTime, 2 * time.Minute},
		{"handshake (older name)", c.Limits.HandshakeTimeout, 2 * time.Minute},
		{"data timeout", c.Limits.DataTimeout, time.Minute},
		{"max sessions", c.Limits.MaxSessions, 16},
		{"per address", c.Limits.MaxSessionsPerIP, 8},
		{"max startups", c.Limits.Startups, Startups{10, 30, 100}},
		{"startups per source", c.Limits.MaxStartupsPerSource, 8},
		{"penalties on", c.Penalties.On(), true},
		{"threshold", c.Penalties.Threshold, 20},
		{"ban", c.Penalties.BanTime, time.Minute},
		{"fail delay", c.Limits.LoginFailDelay, time.Second},
		{"mem", c.Mem.MaxBytes, int64(DefaultMemMax)},
		{"mounts", len(c.Mounts), 2},
		{"bio exclusive", c.Mounts[1].Exclusive, true},
		{"dsk path", c.Mounts[0].Path, "/srv/sluice/data/dsk"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestAllow(t *testing.T) {
	yes, no := true, false
	sup := &User{Name: "root", Level: Supervisor}
	guest := &User{Name: "g", Level: Guest}
	viewer := &User{Name: "v", Level: Viewer}
	sandboxed := &User{Name: "s", Level: Supervisor, FileSystems: []string{"mem"}}
	custom := &User{Name: "c", Level: Guest, Permissions: Permissions{Write: &yes, Read: &no}}
	upload := &User{Name: "u", Level: Viewer, FileSystems: []string{"dsk"}, Incoming: "mem"}
	tests := []struct {
		name string
		u    *User
		op   Op
		fs   string
		want error
	}{
		{"supervisor commit", sup, OpCommit, "dsk", nil},
		{"supervisor delete", sup, OpDelete, "bio", nil},
		{"guest list", guest, OpList, "dsk", nil},
		{"guest read", guest, OpRead, "dsk", nil},
		{"guest write", guest, OpWrite, "mem", ErrDenied},
		{"guest delete", guest, OpDelete, "dsk", ErrDenied},
		{"viewer list", viewer, OpList, "dsk", nil},
		{"viewer read", viewer, OpRead, "dsk", ErrDenied},
		{"root listing", viewer, OpList, "", nil},
		{"write on root", sup, OpWrite, "", ErrDenied},
		{"sandbox inside", sandboxed, OpWrite, "mem", nil},
		{"sandbox outside", sandboxed, OpRead, "dsk", ErrNotVisible},
		{"override grants", custom, OpWrite, "mem", nil},
		{"override revokes", custom, OpRead, "dsk", ErrDenied},
		{"incoming write", upload, OpWrite, "mem", nil},
		{"incoming read", upload, OpRead, "mem", ErrDenied},
		{"incoming list", upload, OpList, "mem", ErrDenied},
		{"incoming delete", upload, OpDelete, "mem", ErrDenied},
		{"incoming user elsewhere", upload, OpList, "dsk", nil},
		{"no user", nil, OpList, "dsk", ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Allow(tt.u, tt.op, tt.fs)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Allow(%s, %s, %q): got %v, want %v", tt.name, tt.op, tt.fs, err, tt.want)
			}
		})
	}
}

func TestPasswords(t *testing.T) {
	bc, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := HashArgon2id("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Users: []User{
		{Name: "b", Level: Guest, PasswordHash: bc},
		{Name: "a", Level: Guest, PasswordHash: a2},
		{Name: "keyonly", Level: Guest},
	}}
	tests := []struct {
		name, user, pw string
		ok             bool
	}{
		{"bcrypt good", "b", "s3cret", true},
		{"bcrypt bad", "b", "S3cret", false},
		{"argon2id good", "a", "s3cret", true},
		{"argon2id bad", "a", "", false},
		{"unknown user", "nobody", "s3cret", false},
		{"no password set", "keyonly", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.CheckPassword(tt.user, tt.pw)
			if got := err == nil; got != tt.ok {
				t.Fatalf("got ok=%v (%v), want %v", got, err, tt.ok)
			}
			if tt.ok && u.Name != tt.user {
				t.Errorf("got user %q, want %q", u.Name, tt.user)
			}
			if !tt.ok && !errors.Is(err, ErrBadLogin) {
				t.Errorf("got %v, want ErrBadLogin", err)
			}
		})
	}
	if err := checkHashFormat(a2); err != nil {
		t.Errorf("argon2id hash rejected: %v", err)
	}
}

func TestSessionLimiter(t *testing.T) {
	l := NewSessionLimiter(Limits{MaxSessions: 3, MaxSessionsPerIP: 2})
	r1, err := l.Acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire("a"); !errors.Is(err, ErrTooManySessionsForIP) {
		t.Errorf("third from a: got %v, want ErrTooManySessionsForIP", err)
	}
	if _, err := l.Acquire("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire("c"); !errors.Is(err, ErrTooManySessions) {
		t.Errorf("fourth: got %v, want ErrTooManySessions", err)
	}
	r1()
	r1() // idempotent
	if n, _ := l.Active(); n != 2 {
		t.Errorf("active: got %d, want 2", n)
	}
	if _, err := l.Acquire("c"); err != nil {
		t.Errorf("after release: got %v, want nil", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "data_dir = \"x\"\n", "[limits]\nidle_timeout = \"5s\"\n", "[[mount]]\nname = \"dsk\"\nexclusive = true\n",
		"[[user]]\nname = \"a\"\nlevel = \"guest\"\nfilesystems = [\"mem\"]\n[user.permissions]\nread = false\n",
		"bogus = 1", "[ssh]\nmax_auth_tries = -1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("/f/sluice.toml", data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			return
		}
		if c.Mem.MaxBytes <= 0 || c.Names.MaxLen < 1 || c.SSH.MaxAuthTries < 1 {
			t.Fatalf("accepted config without safe defaults: %+v", c)
		}
		for _, u := range c.Users {
			if !u.Level.valid() {
				t.Fatalf("accepted level %q", u.Level)
			}
		}
	})
}
