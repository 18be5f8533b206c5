package policy

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	"github.com/sluice/sluice/atomicfile"

	"github.com/BurntSushi/toml"
)

// UpsertUser adds u to the configuration file at path, or replaces the user
// of the same name, keeping the rest of the file's settings. Fields of an
// existing user that u leaves empty (password hash, keys) are kept. The file
// is validated before and after, and rewritten atomically with mode 0600.
func UpsertUser(path string, u User) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if _, err := Parse(path, data); err != nil {
		return err
	}
	var raw Config // undefaulted: what the operator wrote
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	replaced := false
	for i := range raw.Users {
		if raw.Users[i].Name == u.Name {
			old := raw.Users[i]
			if u.PasswordHash == "" {
				u.PasswordHash = old.PasswordHash
			}
			if len(u.AuthorizedKeys) == 0 {
				u.AuthorizedKeys = old.AuthorizedKeys
			}
			if u.FileSystems == nil {
				u.FileSystems = old.FileSystems
			}
			if u.Incoming == "" {
				u.Incoming = old.Incoming
			}
			if u.Permissions == (Permissions{}) {
				u.Permissions = old.Permissions
			}
			raw.Users[i] = u
			replaced = true
		}
	}
	if !replaced {
		raw.Users = append(raw.Users, u)
	}
	return Write(path, &raw)
}

var emptyTable = regexp.MustCompile(`(?m)^\[[a-z_.]+\]\n(\n|$)`)

// Write encodes c to path atomically (temporary file, fsync, rename, fsync
// of the directory) with mode 0600, after checking that it parses back.
func Write(path string, c *Config) error {
	var buf bytes.Buffer
	buf.WriteString("# sluice configuration; see docs/configuration.md\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return err
	}
	// The encoder writes a header for a table whose fields are all
	// omitted; drop it, so that an operator can add that table by hand.
	out := emptyTable.ReplaceAll(buf.Bytes(), nil)
	buf.Reset()
	buf.Write(out)
	if _, err := Parse(path, buf.Bytes()); err != nil {
		return fmt.Errorf("refusing to write an invalid configuration: %w", err)
	}
	return atomicfile.Write(path, buf.Bytes(), 0o600)
}
