package policy

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sluice/sluice/image"
	"golang.org/x/crypto/ssh"
)

// Section is an ordered set of settings, a table of the effective
// configuration (Effective). A value is a string, bool, int64, uint64,
// []string, Section or []Section.
type Section []Setting

// Setting is one key of a Section.
type Setting struct {
	Key   string
	Value any
}

// Effective is the configuration as serve uses it, for `sluice config`
// (OpenSSH's sshd -T): every section, every key, with the defaults Load
// filled in and durations as strings ("10m0s"). It holds no secret: a
// user's password is only said to be set, authorized keys are given by
// fingerprint and trusted keys by key id.
func (c *Config) Effective() Section {
	pen := tableOf(reflect.ValueOf(c.Penalties))
	pen.set("enabled", c.Penalties.On())
	var keyIDs []string
	for _, k := range c.Device.Keys {
		keyIDs = append(keyIDs, hex.EncodeToString(image.KeyID(k)))
	}
	dev := tableOf(reflect.ValueOf(c.Device))
	dev.set("trusted_keys", nonNil(keyIDs))
	var mounts []Section
	for _, m := range c.Mounts {
		mounts = append(mounts, tableOf(reflect.ValueOf(m)))
	}
	var users []Section
	for i := range c.Users {
		users = append(users, c.Users[i].effective())
	}
	return Section{
		{"data_dir", c.DataDir},
		{"ssh", tableOf(reflect.ValueOf(c.SSH))},
		{"ftp", tableOf(reflect.ValueOf(c.FTP))},
		{"limits", tableOf(reflect.ValueOf(c.Limits))},
		{"penalties", pen},
		{"audit", tableOf(reflect.ValueOf(c.Audit))},
		{"mem", tableOf(reflect.ValueOf(c.Mem))},
		{"names", tableOf(reflect.ValueOf(c.Names))},
		{"device", dev},
		{"checks", Section{
			{"enabled", nonNil(c.Checks.On.Names())},
			{"allow_delete_active", c.Checks.AllowDeleteActive},
		}},
		{"builtin_mounts", BuiltinMounts},
		{"mount", mounts},
		{"user", users},
	}
}

// effective is a user without secrets, with the permissions in force.
func (u *User) effective() Section {
	pw := "none"
	if u.PasswordHash != "" {
		// Which scheme, never the hash.
		if strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			pw = "set (argon2id)"
		} else {
			pw = "set (bcrypt)"
		}
	}
	var keys []string
	for i, line := range u.AuthorizedKeys {
		k, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			keys = append(keys, fmt.Sprintf("key %d does not parse", i+1))
			continue
		}
		s := k.Type() + " " + ssh.FingerprintSHA256(k)
		if comment != "" {
			s += " " + comment
		}
		keys = append(keys, s)
	}
	var perms Section
	for op := OpList; op <= OpCommit; op++ {
		perms = append(perms, Setting{op.String(), u.may(op)})
	}
	return Section{
		{"name", u.Name},
		{"level", string(u.Level)},
		{"password", pw},
		{"authorized_keys", nonNil(keys)},
		{"filesystems", nonNil(u.FileSystems)},
		{"incoming", u.Incoming},
		{"permissions", perms},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s Section) set(key string, v any) {
	for i := range s {
		if s[i].Key == key {
			s[i].Value = v
		}
	}
}

// tableOf lists a struct's TOML keys in order, leaving out the parsed
// forms (toml:"-").
func tableOf(v reflect.Value) Section {
	t := v.Type()
	var s Section
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		s = append(s, Setting{name, plain(v.Field(i))})
	}
	return s
}

func plain(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.String:
		return v.String()
	case reflect.Slice:
		out := []string{}
		for i := range v.Len() {
			out = append(out, fmt.Sprint(v.Index(i).Interface()))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return "default"
		}
		return plain(v.Elem())
	case reflect.Struct:
		return tableOf(v)
	}
	return fmt.Sprint(v.Interface())
}

// MarshalJSON writes the section as an object, keys in order.
func (s Section) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// WriteTOML writes the section in the configuration file's own syntax:
// keys first, then tables ([ssh]) and arrays of tables ([[user]]).
func (s Section) WriteTOML(w io.Writer) error {
	var b bytes.Buffer
	s.writeTOML(&b, "")
	_, err := w.Write(b.Bytes())
	return err
}

func (s Section) writeTOML(b *bytes.Buffer, prefix string) {
	for _, kv := range s {
		switch kv.Value.(type) {
		case Section, []Section:
			continue
		}
		fmt.Fprintf(b, "%s = %s\n", kv.Key, tomlValue(kv.Value))
	}
	for _, kv := range s {
		switch v := kv.Value.(type) {
		case Section:
			fmt.Fprintf(b, "\n[%s%s]\n", prefix, kv.Key)
			v.writeTOML(b, prefix+kv.Key+".")
		case []Section:
			if len(v) == 0 {
				fmt.Fprintf(b, "\n# no [[%s%s]]\n", prefix, kv.Key)
			}
			for _, e := range v {
				fmt.Fprintf(b, "\n[[%s%s]]\n", prefix, kv.Key)
				e.writeTOML(b, prefix+kv.Key+".")
			}
		}
	}
}

func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// FTPList is the FTP configuration as the manual's "FTP config> list"
// shows it (§2.1.12), with sluice's settings: one "Label: value" line
// each, the labels padded to one column. Settings the device has and
// sluice has not (Priority) are left out; each line says where its value
// comes from when the manual's label alone would not.
func (c *Config) FTPList() []string {
	enable := func(b bool) string {
		if b {
			return "ENABLE"
		}
		return "DISABLE"
	}
	sys := "UNIX"
	if strings.EqualFold(c.FTP.OS, "msdos") {
		sys = "MSDOS"
	}
	deffs := "NUL"
	if c.FTP.DefaultFS != "" {
		deffs = strings.ToUpper(c.FTP.DefaultFS)
	}
	control, data := "off", "off"
	if c.FTP.Listen != "" {
		control = c.FTP.Listen
		if _, p, err := splitHostPort(c.FTP.Listen); err == nil {
			control = strconv.Itoa(p)
			switch {
			case c.FTP.DataPort == -1:
				data = "any (active mode)"
			case c.FTP.DataPort > 0:
				data = strconv.Itoa(c.FTP.DataPort)
			default:
				data = strconv.Itoa(p - 1)
			}
		}
	}
	bytesOr := func(n int) string {
		if n == 0 {
			return "system default"
		}
		return strconv.Itoa(n)
	}
	// The manual's "ALL", or the shorter of the checks on and "ALL" less
	// the checks off, in checks.enabled's words.
	checks := "NONE"
	on, off := c.Checks.On.Names(), (image.CheckAll &^ c.Checks.On).Names()
	switch {
	case c.Checks.On == image.CheckAll:
		checks = "ALL"
	case len(off) < len(on):
		checks = "ALL, NO " + strings.ToUpper(strings.Join(off, ", NO "))
	case c.Checks.On != 0:
		checks = strings.ToUpper(strings.Join(on, ", "))
	}
	if c.Checks.On&image.CheckSignature == 0 && len(c.Device.Keys) == 0 && len(off) < len(on) {
		checks += " (SIGNATURE needs a trusted key)"
	}
	rows := [][2]string{
		{"Operating System", sys},
		{"Default File System", deffs},
		{"Control port", control},
		{"Data port", data},
		{"Inactivity timer", fmt.Sprintf("%d seconds (FTP control connection idle between commands, never during a transfer: [ftp] inactivity_timer)",
			int64(c.FTP.InactivityTimer/time.Second))},
		{"Number of clients", fmt.Sprintf("%d (sessions, SSH and FTP together: [limits] max_sessions)", c.Limits.MaxSessions)},
		{"Maximum Segment Size", bytesOr(c.FTP.MSS)},
		{"Transmission Buffer Size", bytesOr(c.FTP.TxBuff)},
		{"Reception Buffer Size", bytesOr(c.FTP.RxBuff)},
		{"Temporal Buffer Size", fmt.Sprintf("%d ([mem] max_bytes)", c.Mem.MaxBytes)},
		{"Reply", enable(c.FTP.Reply)},
		{"Keepalive", enable(c.FTP.Keepalive)},
		{"Immediate", "ENABLE (SITE IMMEDIATE per session)"},
		{"Direct", enable(c.FTP.Direct)},
		{"Checks", checks},
	}
	out := []string{"FTP configuration:"}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%-26s%s", r[0]+":", r[1]))
	}
	return out
}

// splitHostPort splits a listen address and parses its port.
func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}
