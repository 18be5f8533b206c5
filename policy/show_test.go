package policy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestEffective: every section, defaults filled in, durations as strings,
// no secret; the JSON form keeps the order of the TOML form.
func TestEffective(t *testing.T) {
	hash, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("/etc/sluice/sluice.toml", []byte("[[user]]\nname = \"a\"\nlevel = \"guest\"\npassword_hash = \""+hash+"\"\n[user.permissions]\nwrite = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	eff := c.Effective()
	var text bytes.Buffer
	if err := eff.WriteTOML(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"data_dir = \"/etc/sluice/data\"\n", "\n[ssh]\n", "\n[ftp]\n", "inactivity_timer = \"6m0s\"\n", "\n[limits]\n",
		"idle_timeout = \"10m0s\"\n", "max_file_bytes = 4294967296\n", "\n[penalties]\n", "enabled = true\n", "\n[audit]\nfile = \"\"\n", "\n[device]\n",
		"trusted_keys = []\n", "\n[checks]\n", "\n[[mount]]\nname = \"dsk\"\npath = \"/etc/sluice/data/dsk\"\n",
		"\n[[user]]\nname = \"a\"\nlevel = \"guest\"\npassword = \"set (bcrypt)\"\n", "\n[user.permissions]\nlist = true\nread = true\nwrite = true\ndelete = false\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("TOML form lacks %q:\n%s", want, text.String())
		}
	}
	js, err := json.Marshal(eff)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), hash) || strings.Contains(string(js), hash) {
		t.Error("the password hash is shown")
	}
	if !json.Valid(js) || !strings.HasPrefix(string(js), `{"data_dir":"/etc/sluice/data","ssh":{"listen":`) {
		t.Errorf("JSON form: %s", js)
	}
}

// TestFTPList (issue 10 item 12): the manual's "FTP config> list"
// (§2.1.12) from the defaults and from a configuration that changes
// each line.
func TestFTPList(t *testing.T) {
	c, err := Parse("/etc/sluice/sluice.toml", []byte("[ftp]\nlisten = \"127.0.0.1:2121\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"FTP configuration:",
		"Operating System:         UNIX",
		"Default File System:      NUL",
		"Control port:             2121",
		"Data port:                2120",
		"Inactivity timer:         360 seconds (FTP control connection idle between commands, never during a transfer: [ftp] inactivity_timer)",
		"Number of clients:        16 (sessions, SSH and FTP together: [limits] max_sessions)",
		"Maximum Segment Size:     system default",
		"Transmission Buffer Size: system default",
		"Reception Buffer Size:    system default",
		"Temporal Buffer Size:     268435456 ([mem] max_bytes)",
		"Reply:                    DISABLE",
		"Keepalive:                DISABLE",
		"Immediate:                ENABLE (SITE IMMEDIATE per session)",
		"Direct:                   DISABLE",
		"Checks:                   ALL, NO SIGNATURE (SIGNATURE needs a trusted key)",
	}
	if got := c.FTPList(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("defaults:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c, err = Parse("/etc/sluice/sluice.toml", []byte(`[ftp]
listen = "127.0.0.1:21"
data_port = -1
os = "msdos"
default_fs = "dsk"
inactivity_timer = "90s"
reply = true
keepalive = true
direct = true
mss = 1024
tx_buff = 2048
rx_buff = 16384
[limits]
max_sessions = 4
[mem]
max_bytes = 1048576
[checks]
enabled = ["none", "crc", "length"]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.FTPList(), "\n")
	for _, w := range []string{"Operating System:         MSDOS\n", "Default File System:      DSK\n", "Control port:             21\n",
		"Data port:                any (active mode)\n", "Inactivity timer:         90 seconds ", "Number of clients:        4 ",
		"Maximum Segment Size:     1024\n", "Transmission Buffer Size: 2048\n", "Reception Buffer Size:    16384\n",
		"Temporal Buffer Size:     1048576 ", "Reply:                    ENABLE\n", "Keepalive:                ENABLE\n",
		"Direct:                   ENABLE\n", "Checks:                   CRC, LENGTH"} {
		if !strings.Contains(got, w) {
			t.Errorf("configured list lacks %q:\n%s", w, got)
		}
	}
}
