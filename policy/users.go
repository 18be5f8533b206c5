package policy

// Users managed by `sluice user …` live in a file sluice owns,
// DATA/users.toml, with the same [[user]] tables as the configuration.
// They are merged with the [[user]] tables the operator wrote in the
// configuration, which sluice never rewrites: a hand-written file keeps
// its comments, order and layout. A name defined in both is an error.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/sluice/sluice/atomicfile"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// UsersFile is the name of the users file in the data directory.
const UsersFile = "users.toml"

// Errors of the user operations.
var (
	ErrNoSuchUser = errors.New("no such user")
	// ErrLastSupervisor refuses a change that leaves no supervisor;
	// passing force makes it anyway.
	ErrLastSupervisor = errors.New("this leaves no supervisor (nobody could commit or manage the device over the network)")
	// ErrNotOwned refuses to change a user defined in the configuration
	// file, which sluice does not rewrite.
	ErrNotOwned = errors.New("defined in the configuration file, which sluice does not rewrite")
)

// UsersPath is the users file of a data directory.
func UsersPath(dataDir string) string { return filepath.Join(dataDir, UsersFile) }

// usersDoc is the users file's schema.
type usersDoc struct {
	Users []User `toml:"user,omitempty,omitzero"`
}

// MergeUsers adds the users of the users file at usersPath (none when it
// does not exist) to c, which was loaded from cfgPath. A user defined in
// both files, an unknown key or an invalid user is an ErrConfig error
// with file:line.
func (c *Config) MergeUsers(cfgPath, usersPath string) error {
	_, data, err := readUsers(usersPath)
	if err != nil {
		return err
	}
	return c.mergeUsers(cfgPath, usersPath, data)
}

// mergeUsers is MergeUsers on the users file's bytes.
func (c *Config) mergeUsers(cfgPath, usersPath string, data []byte) error {
	own, err := decodeUsers(usersPath, data)
	if err != nil {
		return err
	}
	merged := slices.Clone(c.Users)
	for i := range own {
		u := &own[i]
		if err := c.checkUser(u); err != nil {
			return fmt.Errorf("%w: %s:%d: %v", ErrConfig, usersPath, userLine(data, u.Name, i), err)
		}
		if c.User(u.Name) != nil {
			cfgData, _ := os.ReadFile(cfgPath)
			return fmt.Errorf("%w: %s:%d: user %q is also defined in %s:%d; keep one", ErrConfig,
				usersPath, userLine(data, u.Name, i), u.Name, cfgPath, userLine(cfgData, u.Name, -1))
		}
		if slices.ContainsFunc(merged[len(c.Users):], func(o User) bool { return o.Name == u.Name }) {
			return fmt.Errorf("%w: %s:%d: user %q listed twice", ErrConfig, usersPath, userLine(data, u.Name, i), u.Name)
		}
		merged = append(merged, *u)
	}
	c.Users = merged
	return nil
}

// readUsers decodes a users file strictly; a missing file has no users.
func readUsers(path string) ([]User, []byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	users, err := decodeUsers(path, data)
	return users, data, err
}

// decodeUsers decodes a users file's bytes strictly; path is for errors.
func decodeUsers(path string, data []byte) ([]User, error) {
	var doc usersDoc
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrConfig, path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, path, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, fmt.Errorf("%w: %s:%d: unknown key %q", ErrConfig, path, keyLine(data, k), k.String())
	}
	return doc.Users, nil
}

// checkUser validates a user of the users file as Load validates the
// configuration's (names, level, hash, file systems), and its authorized
// keys.
func (c *Config) checkUser(u *User) error {
	if u.Name == "" || strings.ContainsAny(u.Name, " \t\r\n\x00:") {
		return fmt.Errorf("invalid user name %q", u.Name)
	}
	if !u.Level.valid() {
		return fmt.Errorf("user %q: level must be supervisor, guest or viewer, not %q", u.Name, u.Level)
	}
	if u.PasswordHash != "" {
		if err := checkHashFormat(u.PasswordHash); err != nil {
			return fmt.Errorf("user %q: %v", u.Name, err)
		}
	}
	for j, fs := range u.FileSystems {
		u.FileSystems[j] = strings.ToLower(fs)
		if !c.HasMount(u.FileSystems[j]) {
			return fmt.Errorf("user %q: unknown file system %q", u.Name, fs)
		}
	}
	u.Incoming = strings.ToLower(u.Incoming)
	if u.Incoming != "" && !c.HasMount(u.Incoming) {
		return fmt.Errorf("user %q: unknown incoming file system %q", u.Name, u.Incoming)
	}
	for i, k := range u.AuthorizedKeys {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
			return fmt.Errorf("user %q: authorized key %d: %v", u.Name, i+1, err)
		}
	}
	return nil
}

var userHeader = regexp.MustCompile(`^\s*\[\[\s*user\s*\]\]`)

// userLine is the line of the [[user]] table named name in data (the
// index-th table when no name line matches; -1: none), for errors.
func userLine(data []byte, name string, index int) int {
	nameRe := regexp.MustCompile(`^\s*name\s*=\s*["']` + regexp.QuoteMeta(name) + `["']`)
	header, n := 0, -1
	for i, line := range strings.Split(string(data), "\n") {
		if userHeader.MatchString(line) {
			header, n = i+1, n+1
		}
		if header > 0 && nameRe.MatchString(line) {
			return i + 1
		}
	}
	if index >= 0 && index == n {
		return header
	}
	return 0
}

// Users of the users file.
//
// Each operation below locks the users file's directory, reads the users
// file, changes it, validates the result merged with the users of cfg
// (the configuration, loaded from cfgPath, without the users file), and
// writes it atomically, keeping its owner, group and mode (a new file is
// 0600 and gets the data directory's owner and group, so that a file
// written by root stays readable by a service running as another user).

// UserEdit is a change to one user of the users file. Empty fields keep
// what the user has.
type UserEdit struct {
	Level        Level
	PasswordHash string
	AddKeys      []string // authorized_keys lines, added when not yet there
	// Force makes a change that leaves no supervisor.
	Force bool
}

// AddUser creates a user in the users file of cfg, or changes it: a new
// level or password, keys added to its list. A new user needs a level.
// It reports whether the user was created.
func AddUser(cfgPath string, cfg *Config, name string, e UserEdit) (created bool, err error) {
	err = editUsers(cfgPath, cfg, name, e.Force, func(users []User) ([]User, error) {
		i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
		if i < 0 {
			if e.Level == "" {
				return nil, fmt.Errorf("user %q: a new user needs a level", name)
			}
			users = append(users, User{Name: name})
			i, created = len(users)-1, true
		}
		u := &users[i]
		if e.Level != "" {
			u.Level = e.Level
		}
		if e.PasswordHash != "" {
			u.PasswordHash = e.PasswordHash
		}
		u.AuthorizedKeys = addKeys(u.AuthorizedKeys, e.AddKeys)
		return users, nil
	})
	return created, err
}

// DelUser removes a user from the users file of cfg.
func DelUser(cfgPath string, cfg *Config, name string, force bool) error {
	return editUsers(cfgPath, cfg, name, force, func(users []User) ([]User, error) {
		i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
		}
		return slices.Delete(users, i, i+1), nil
	})
}

// SetPassword replaces a user's password hash; "" removes password login.
func SetPassword(cfgPath string, cfg *Config, name, hash string) error {
	return editUser(cfgPath, cfg, name, func(u *User) error {
		u.PasswordHash = hash
		return nil
	})
}

// AddKeys adds authorized_keys lines to a user's list (a key already
// there is not added twice).
func AddKeys(cfgPath string, cfg *Config, name string, keys []string) error {
	return editUser(cfgPath, cfg, name, func(u *User) error {
		u.AuthorizedKeys = addKeys(u.AuthorizedKeys, keys)
		return nil
	})
}

// DelKey removes the authorized keys that match key: an authorized_keys
// line, its base64 blob, or its SHA256 fingerprint ("SHA256:…"). It
// reports how many were removed; none is an error.
func DelKey(cfgPath string, cfg *Config, name, key string) (removed int, err error) {
	want := keyID(key)
	err = editUser(cfgPath, cfg, name, func(u *User) error {
		removed = 0
		u.AuthorizedKeys = slices.DeleteFunc(u.AuthorizedKeys, func(line string) bool {
			if keyID(line) == want || fingerprint(line) == key {
				removed++
				return true
			}
			return false
		})
		if removed == 0 {
			return fmt.Errorf("user %q has no key %s", name, key)
		}
		return nil
	})
	return removed, err
}

// KeyFingerprint is the SHA256 fingerprint of an authorized_keys line,
// or "" if it does not parse.
func KeyFingerprint(line string) string { return fingerprint(line) }

// ReadUsers returns the users of a users file (none when it does not
// exist), as written, without the configuration's.
func ReadUsers(path string) ([]User, error) {
	users, _, err := readUsers(path)
	return users, err
}

func editUser(cfgPath string, cfg *Config, name string, f func(*User) error) error {
	return editUsers(cfgPath, cfg, name, false, func(users []User) ([]User, error) {
		i := slices.IndexFunc(users, func(u User) bool { return u.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
		}
		return users, f(&users[i])
	})
}

// editUsers is the read-change-validate-write cycle of the users file.
func editUsers(cfgPath string, cfg *Config, name string, force bool, edit func([]User) ([]User, error)) error {
	if cfg.User(name) != nil {
		data, _ := os.ReadFile(cfgPath)
		return fmt.Errorf("user %q is %w (%s:%d); change it there", name, ErrNotOwned, cfgPath, userLine(data, name, -1))
	}
	path := UsersPath(cfg.DataDir)
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	users, _, err := readUsers(path)
	if err != nil {
		return err
	}
	before := supervisors(cfg.Users) + supervisors(users)
	users, err = edit(slices.Clone(users))
	if err != nil {
		return err
	}
	if !force && before > 0 && supervisors(cfg.Users)+supervisors(users) == 0 {
		return ErrLastSupervisor
	}
	for i := range users {
		if err := cfg.checkUser(&users[i]); err != nil {
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# sluice users, written by `sluice user …`; see docs/operations.md.\n" +
		"# Users may also be defined in the configuration file, under other names.\n")
	if len(users) > 0 {
		if err := toml.NewEncoder(&buf).Encode(usersDoc{Users: users}); err != nil {
			return err
		}
	}
	return writeKeeping(path, buf.Bytes())
}

func supervisors(users []User) int {
	n := 0
	for i := range users {
		if users[i].IsSupervisor() {
			n++
		}
	}
	return n
}

// addKeys appends the keys of add that are not yet in have (compared by
// key, not by comment).
func addKeys(have, add []string) []string {
	for _, k := range add {
		id := keyID(k)
		if !slices.ContainsFunc(have, func(h string) bool { return keyID(h) == id }) {
			have = append(have, k)
		}
	}
	return have
}

// keyID is an authorized key without options or comment (type and
// blob), or the text itself when it does not parse.
func keyID(line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return strings.TrimSpace(line)
	}
	return string(k.Marshal())
}

func fingerprint(line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(k)
}

// lockDir takes an exclusive lock on dir, so that two user commands do
// not lose each other's change.
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing releases the lock
}

// writeKeeping replaces path atomically (temporary file, fsync, rename,
// fsync of the directory), keeping the old file's mode, owner and group;
// a new file gets mode 0600 and the directory's owner and group.
func writeKeeping(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	mode, ref, existing := os.FileMode(0o600), path, true
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else {
		ref, existing = dir, false
	}
	fi, err := os.Stat(ref)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".sluice-tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		// Only root may give a file away. A new file someone else
		// cannot give to the directory's owner stays theirs; an existing
		// file's owner is never changed.
		if err = f.Chown(int(st.Uid), int(st.Gid)); err != nil && (existing || !errors.Is(err, os.ErrPermission)) {
			f.Close()
			return fmt.Errorf("keep the owner of %s: %w", path, err)
		}
		err = nil
	}
	if err = f.Chmod(mode); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}
