package policy

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/sluice/sluice/image"
)

// startupsCases are TestParseStartupsValues' table and FuzzParseStartups'
// seeds.
var startupsCases = []struct {
	in   string
	want Startups
	ok   bool
}{
	{"10:30:100", Startups{10, 30, 100}, true},
	{"5", Startups{5, 100, 5}, true},
	{" 3 : 50 : 9 ", Startups{3, 50, 9}, true},
	{"0:100:1", Startups{0, 100, 1}, true},
	{"1:0:1", Startups{1, 0, 1}, true},
	{"0:0:5", Startups{}, false}, // would admit nobody past zero: say so
	{"0", Startups{}, false},
	{"10:30", Startups{}, false},
	{"1:2:3:4", Startups{}, false},
	{"11:30:10", Startups{}, false},
	{"10:101:100", Startups{}, false},
	{"-1:30:100", Startups{}, false},
	{"a:b:c", Startups{}, false},
	{"", Startups{}, false},
	{":", Startups{}, false},
	{"99999999999999999999", Startups{}, false},
}

func TestParseStartupsValues(t *testing.T) {
	for _, tc := range startupsCases {
		got, err := ParseStartups(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseStartups(%q) = %+v, %v; want %+v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseStartups: an accepted value is a usable budget (1 <= full,
// start <= full, rate a percentage) that prints and parses back the same.
func FuzzParseStartups(f *testing.F) {
	for _, tc := range startupsCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStartups(s)
		if err != nil {
			return
		}
		if st.Full < 1 || st.Start < 0 || st.Start > st.Full || st.Rate < 0 || st.Rate > 100 {
			t.Fatalf("ParseStartups(%q) = %+v", s, st)
		}
		back, err := ParseStartups(fmt.Sprintf("%d:%d:%d", st.Start, st.Rate, st.Full))
		if err != nil || back != st {
			t.Fatalf("%+v printed and parsed: %+v, %v", st, back, err)
		}
	})
}

// FuzzParseNet: penalties.allow entries. An accepted entry is a network
// in canonical form (4-byte IPv4, 16-byte IPv6, a mask of the same
// length) containing its own address, and its String parses back to it.
func FuzzParseNet(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "10.0.0.0/8", "192.0.2.7/24", "2001:db8::/32", "::ffff:10.1.2.3",
		"fe80::1%eth0", "10.0.0.0/33", "1.2.3", "", "/", "10.0.0.1/", "2001:db8::1/128", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseNet(s)
		if err != nil {
			if n != nil {
				t.Fatalf("parseNet(%q) = %v and %v", s, n, err)
			}
			return
		}
		ones, bits := n.Mask.Size()
		if len(n.IP) != bits/8 || bits != 32 && bits != 128 || ones > bits || !n.Contains(n.IP) {
			t.Fatalf("parseNet(%q) = %v (IP of %d bytes, mask %d/%d)", s, n, len(n.IP), ones, bits)
		}
		back, err := parseNet(n.String())
		if err != nil || back.String() != n.String() {
			t.Fatalf("parseNet(%q) = %v; its String parses to %v, %v", s, n, back, err)
		}
		if !strings.Contains(s, "/") && !n.Contains(net.ParseIP(s)) {
			t.Fatalf("parseNet(%q) = %v does not contain the address", s, n)
		}
	})
}

// FuzzPasswordHash: password_hash values. checkHashFormat (run by Parse)
// must never panic, and an argon2id hash it accepts must have parameters
// that verifyHash can use within the documented bounds. No hash is
// verified here: a bcrypt cost of 31 would take days.
func FuzzPasswordHash(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194305,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=65536,t=3,p=256$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=65536,t=3$c2FsdA$a2V5",
		"$argon2id$v=18$m=65536,t=3,p=2$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=-1,t=3,p=2$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"$2b$04$abcdefghijklmnopqrstuu5Vh8S8v5wL0yLQZ4Jq9fP7y3pI8xI5W",
		"$2a$99$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"plain", "", "$", "$argon2id$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkHashFormat(s)
		if err != nil || !strings.HasPrefix(s, "$argon2id$") {
			return
		}
		p, err := parseArgon2(s)
		switch {
		case err != nil:
			t.Fatalf("checkHashFormat accepted %q, parseArgon2 did not: %v", s, err)
		case p.memory < 8 || p.memory > 4<<20 || p.time < 1 || p.time > 100 || p.threads < 1:
			t.Fatalf("%q: parameters %+v out of range", s, p)
		case len(p.salt) < 8 || len(p.key) < 16 || len(p.key) > 64:
			t.Fatalf("%q: salt of %d or key of %d bytes", s, len(p.salt), len(p.key))
		}
	})
}

// configSeeds are whole configuration files touching every section, for
// FuzzParseConfig.
func configSeeds(t testing.TB) []string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(image.MarshalPublicKey(pub, "release")))
	full := `data_dir = "/srv/sluice"
[ssh]
listen = "0.0.0.0:22"
host_key_rsa = true
chacha20 = false
max_auth_tries = 4
winscp_setstat = "on"
[ftp]
listen = "192.0.2.7:21"
data_port = -1
pasv_min_port = 50000
pasv_max_port = 50100
pasv_address = "198.51.100.1"
inactivity_timer = "6m"
os = "MS-DOS"
default_fs = "dsk"
direct = true
reply = true
keepalive = true
mss = 1400
rx_buff = 65536
tx_buff = 65536
motd = "motd.txt"
max_login_failures = 5
anonymous = true
tls_cert = "crt.pem"
tls_key = "/etc/key.pem"
require_tls = true
reload_command = ["/bin/true", "--now"]
backup_dir = "backup"
[limits]
max_sessions = 32
max_sessions_per_ip = 4
idle_timeout = "15m"
login_grace_time = "90s"
max_startups = "5:50:20"
max_startups_per_source = 3
login_fail_delay = "2s"
data_timeout = "30s"
max_file_bytes = 1048576
[penalties]
enabled = true
threshold = 10
score_password = 3
score_unknown_user = 5
score_no_auth = 1
score_limit = 2
observation = "5m"
ban_time = "30s"
max_ban_time = "2h"
allow = ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]
max_sources = 100
[mem]
max_bytes = 67108864
[names]
max_len = 32
[device]
system_id = "DM724"
hardware_id = 7
hw_level = 3
bios_hw_level = 2
bios_version = "2.1.3"
profile = "STD"
trusted_keys = ["` + key + `"]
[checks]
enabled = ["all", "no rename", "no-delete"]
allow_delete_active = true
[[mount]]
name = "DSK"
path = "disk"
[[mount]]
name = "bio"
exclusive = true
[[mount]]
name = "fda"
path = "/mnt/fda"
[[user]]
name = "root"
level = "supervisor"
password_hash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
authorized_keys = ["` + key + ` ops@host"]
[[user]]
name = "cam"
level = "guest"
password_hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"
filesystems = ["MEM", "dsk"]
incoming = "fda"
[user.permissions]
list = true
read = false
write = true
delete = false
rename = false
commit = true
`
	return []string{
		full,
		"",
		"[penalties]\nenabled = false\n",
		"[limits]\nhandshake_timeout = \"20s\"\n",
		"[limits]\nhandshake_timeout = \"20s\"\nlogin_grace_time = \"30s\"\n",
		"[limits]\nmax_startups = \"7\"\n",
		"[penalties]\nban_time = \"2h\"\nmax_ban_time = \"1h\"\n",
		"[checks]\nenabled = [\"none\", \"crc\", \"length\"]\n",
		"[checks]\nenabled = [\"signature\"]\n",
		"[ftp]\ntls_cert = \"a\"\n",
		"data_dir = \"rel\"\n[[mount]]\nname = \"smc\"\n",
		"[ftp]\nreload_command = []\n[penalties]\nallow = []\n",
		"mount = []\n",
		// Found by bench/fuzz.sh: an empty list turned every check off,
		// and a rewrite (which omits it) turned them all on. Now an error.
		"[CheCks]\nenABleD=[]",
		"[checks]\nenabled = []\n",
	}
}

// TestConfigSeeds: the full seed is valid, so that the fuzzer starts from
// a configuration Parse accepts in every section.
func TestConfigSeeds(t *testing.T) {
	c, err := Parse("/etc/sluice/sluice.toml", []byte(configSeeds(t)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Users) != 2 || len(c.Device.Keys) != 1 || len(c.Penalties.AllowNets) != 3 || c.Limits.Startups != (Startups{5, 50, 20}) {
		t.Errorf("full seed parsed as %+v", c)
	}
}

// FuzzParseConfig: Parse accepts only configurations with safe, valid
// values filled in, and a configuration it accepts means the same once
// decoded without defaults, encoded as Write encodes it and parsed again
// (a rewrite of the file must not change what it means).
func FuzzParseConfig(f *testing.F) {
	for _, s := range configSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("/etc/sluice/sluice.toml", data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			return
		}
		l, p := c.Limits, c.Penalties
		switch {
		case l.Startups.Full < 1 || l.Startups.Start > l.Startups.Full || l.Startups.Rate > 100:
			t.Fatalf("accepted max_startups %q as %+v", l.MaxStartups, l.Startups)
		case l.LoginGraceTime <= 0 || l.HandshakeTimeout != l.LoginGraceTime || l.DataTimeout <= 0 || l.IdleTimeout <= 0:
			t.Fatalf("accepted limits without deadlines: %+v", l)
		case l.MaxSessions < 1 || l.MaxSessionsPerIP < 1 || l.MaxStartupsPerSource < 1 || l.MaxFileBytes < 1:
			t.Fatalf("accepted limits that are off: %+v", l)
		case p.Threshold < 1 || p.MaxSources < 1 || p.MaxBanTime < p.BanTime || len(p.AllowNets) != len(p.Allow):
			t.Fatalf("accepted penalties %+v", p)
		case len(c.Device.Keys) != len(c.Device.TrustedKeys):
			t.Fatalf("%d trusted keys parsed from %d", len(c.Device.Keys), len(c.Device.TrustedKeys))
		case c.Checks.On&^image.CheckAll != 0 || c.Checks.On&image.CheckSignature != 0 && len(c.Device.Keys) == 0:
			t.Fatalf("accepted checks %v with %d keys", c.Checks.On, len(c.Device.Keys))
		case c.Mem.MaxBytes <= 0 || c.Names.MaxLen < 1 || c.SSH.MaxAuthTries < 1:
			t.Fatalf("accepted config without safe defaults: %+v", c)
		}
		for _, u := range c.Users {
			if !u.Level.valid() || u.Name == "" {
				t.Fatalf("accepted user %q level %q", u.Name, u.Level)
			}
		}
		var raw Config
		if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
			t.Fatalf("Parse accepted what a plain decode refuses: %v", err)
		}
		if raw.Mounts != nil && len(raw.Mounts) == 0 {
			// "mount = []" (no host file system) has no encoding: Write
			// omits the empty list, which means dsk and bio. Only a first
			// run writes a configuration, and it lists no mounts.
			return
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(&raw); err != nil {
			t.Fatalf("encode: %v", err)
		}
		out := emptyTable.ReplaceAll(buf.Bytes(), nil)
		again, err := Parse("/etc/sluice/sluice.toml", out)
		if err != nil {
			t.Fatalf("rewritten configuration does not parse: %v\n%s", err, out)
		}
		// An empty list and an absent one mean the same everywhere else
		// (reload_command, filesystems, allow, ...); the encoder omits both.
		nilEmpty(reflect.ValueOf(again))
		nilEmpty(reflect.ValueOf(c))
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("rewritten configuration differs:\n%+v\nwant\n%+v\n%s", again, c, out)
		}
	})
}

// nilEmpty sets every empty slice reachable from v to nil.
func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			nilEmpty(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				nilEmpty(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if !v.IsNil() && v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		for i := range v.Len() {
			nilEmpty(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			nilEmpty(v.MapIndex(k)) // not settable: maps of slices keep theirs
		}
	}
}
