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
		"idle_timeout = \"10m0s\"\n", "max_file_bytes = 4294967296\n", "\n[penalties]\n", "enabled = true\n", "\n[device]\n",
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
