package policy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseErrorLines: semantic errors, bare-integer durations and unknown
// keys name the line of the key at fault, in the table it belongs to.
func TestParseErrorLines(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"integer duration", "[limits]\nmax_sessions = 2\nidle_timeout = 5\n", "sluice.toml:3: limits.idle_timeout: a duration is a string"},
		{"integer duration in ftp", "[ftp]\ninactivity_timer = 360\n", "sluice.toml:2: ftp.inactivity_timer"},
		{"integer duration in penalties", "[penalties]\n\nban_time = 60\n", "sluice.toml:3: penalties.ban_time"},
		{"unknown key named like another table's", "[ssh]\nlisten = \"127.0.0.1:22\"\n[limits]\nlisten = 3\n", "sluice.toml:4: unknown key \"limits.listen\""},
		{"bad level", "[[user]]\nname = \"a\"\nlevel = \"guest\"\n[[user]]\nname = \"b\"\nlevel = \"god\"\n", "sluice.toml:6: user \"b\": level"},
		{"duplicate user", "[[user]]\nname = \"a\"\nlevel = \"guest\"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\n", "sluice.toml:5: user \"a\" listed twice"},
		{"user after a sub-table", "[[user]]\nname = \"a\"\nlevel = \"guest\"\n[user.permissions]\nread = true\n[[user]]\nname = \"b\"\nfilesystems = [\"zzz\"]\nlevel = \"guest\"\n", "sluice.toml:8: user \"b\": unknown file system"},
		{"bad mount", "[[mount]]\nname = \"dsk\"\n[[mount]]\nname = \"usb\"\n", "sluice.toml:4: mount \"usb\""},
		{"negative limit", "[limits]\nmax_sessions = 3\ndata_timeout = \"-1s\"\n", "sluice.toml:3: limits must not be negative"},
		{"winscp", "[ssh]\nwinscp_setstat = \"maybe\"\n", "sluice.toml:2: ssh.winscp_setstat"},
		{"listen without port", "[ssh]\nlisten = \"localhost\"\n", "sluice.toml:2: ssh.listen"},
		{"ftp listen bad port", "[ftp]\nlisten = \"127.0.0.1:http-ish\"\n", "sluice.toml:2: ftp.listen"},
		{"half a tls pair", "[ftp]\nrequire_tls = true\ntls_key = \"k.pem\"\n", "sluice.toml:3: ftp.tls_cert and ftp.tls_key go together"},
		{"checks", "[checks]\nenabled = [\"signature\"]\n", "sluice.toml:2: checks: SIGNATURE"},
		{"bios version", "[device]\nbios_version = \"x.y\"\n", "sluice.toml:2: device.bios_version"},
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
		})
	}
}

// TestStringDurations: durations written as strings still parse.
func TestStringDurations(t *testing.T) {
	c, err := Parse("/etc/sluice.toml", []byte("[limits]\nidle_timeout = \"5s\"\n[ftp]\ninactivity_timer = \"1m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Limits.IdleTimeout.String(); got != "5s" {
		t.Errorf("idle_timeout: got %s, want 5s", got)
	}
}

// TestOverrideDataDir: --data replaces data_dir before the defaults, so
// the mounts without a path of their own move with it.
func TestOverrideDataDir(t *testing.T) {
	data := t.TempDir()
	c, err := ParseWith("/etc/sluice/sluice.toml", []byte("data_dir = \"/srv/x\"\n[[mount]]\nname = \"dsk\"\n[[mount]]\nname = \"fda\"\npath = \"/mnt/fda\"\n"),
		Overrides{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != data {
		t.Errorf("data_dir: got %s, want %s", c.DataDir, data)
	}
	want := map[string]string{"dsk": filepath.Join(data, "dsk"), "fda": "/mnt/fda"}
	for _, m := range c.Mounts {
		if m.Path != want[m.Name] {
			t.Errorf("mount %s: got %s, want %s", m.Name, m.Path, want[m.Name])
		}
	}
}

func TestCheckListen(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"", true}, {"127.0.0.1:2222", true}, {":22", true}, {"[::1]:0", true}, {"localhost:2121", true},
		{"localhost", false}, {"127.0.0.1", false}, {"127.0.0.1:x-no-such-port", false}, {"::1:22", false},
	} {
		if err := CheckListen(tt.addr); (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q): got %v, want ok %v", tt.addr, err, tt.ok)
		}
	}
}
