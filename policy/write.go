package policy

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/BurntSushi/toml"
	"github.com/sluice/sluice/atomicfile"
)

var emptyTable = regexp.MustCompile(`(?m)^\[[a-z_.]+\]\n(\n|$)`)

// Write writes a configuration sluice generates (the first run): c's
// users go to the users file of its data directory (UsersPath; a relative
// data_dir is taken relative to path's directory), where `sluice user …`
// manages them, and the rest to path, which sluice never rewrites after.
// Both are written atomically (temporary file, fsync, rename, fsync of
// the directory) with mode 0600, after checking that they parse back;
// the users file first, so that a crash between the two leaves no
// configuration and the next first run starts again.
func Write(path string, c *Config) error {
	var buf bytes.Buffer
	buf.WriteString("# sluice configuration; see docs/configuration.md\n" +
		"# Users managed by `sluice user …` are in data_dir/" + UsersFile + ".\n")
	rest := *c
	rest.Users = nil
	if err := toml.NewEncoder(&buf).Encode(&rest); err != nil {
		return err
	}
	// The encoder writes a header for a table whose fields are all
	// omitted; drop it, so that an operator can add that table by hand.
	out := emptyTable.ReplaceAll(buf.Bytes(), nil)
	parsed, err := Parse(path, out)
	if err != nil {
		return fmt.Errorf("refusing to write an invalid configuration: %w", err)
	}
	if len(c.Users) > 0 {
		users := UsersPath(parsed.DataDir)
		var ub bytes.Buffer
		if err := toml.NewEncoder(&ub).Encode(usersDoc{Users: c.Users}); err != nil {
			return err
		}
		if err := parsed.mergeUsers(path, users, ub.Bytes()); err != nil {
			return fmt.Errorf("refusing to write invalid users: %w", err)
		}
		if err := atomicfile.Write(users, ub.Bytes(), 0o600); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, out, 0o600)
}
