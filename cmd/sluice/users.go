package main

// The `sluice user …` commands. They change only DATA/users.toml, the
// users file sluice owns (policy.UsersPath), never the configuration file
// an operator wrote; a user defined there is changed there. After a
// change they signal the running server, if any, to reload.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

// userFlags are the flags every user command has.
type userFlags struct {
	common
	fs *flag.FlagSet
}

func newUserFlags(name string) *userFlags {
	u := &userFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	u.register(u.fs)
	return u
}

// load parses args and loads the configuration the user commands work
// with: the configuration file without the users file, --data
// overriding data_dir as in serve.
func (u *userFlags) load(args []string, npos int, usage string) (pos []string, cfgPath string, cfg *policy.Config, err error) {
	if pos, err = parse(u.fs, args); err != nil {
		return nil, "", nil, err
	}
	if npos >= 0 && len(pos) != npos {
		return nil, "", nil, usageError{errors.New("usage: sluice " + usage)}
	}
	cfgPath = u.configPath()
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		return nil, "", nil, usageError{fmt.Errorf("%s: %s does not exist (run sluice serve once, or pass --config)", u.fs.Name(), cfgPath)}
	}
	var o policy.Overrides
	u.fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			o.DataDir = u.data
		}
	})
	if cfg, err = policy.LoadWith(cfgPath, o); err != nil {
		return nil, "", nil, usageError{err}
	}
	return pos, cfgPath, cfg, nil
}

// done reports a saved change and has the running server reload it.
func (u *userFlags) done(cfg *policy.Config, stdout io.Writer, format string, a ...any) {
	fmt.Fprintf(stdout, "sluice: "+format+"\n", a...)
	notifyServer(cfg.DataDir, stdout)
}

// userError maps the user operations' refusals to messages and exit 2.
func userError(cmd string, err error) error {
	if errors.Is(err, policy.ErrLastSupervisor) {
		return usageError{fmt.Errorf("%s: warning: %w; pass --force to do it anyway", cmd, err)}
	}
	return usageError{fmt.Errorf("%s: %w", cmd, err)}
}

// userAdd creates a user in the users file, or changes one: a new level,
// a new password (--password-stdin), keys added (--authorized-key). A new
// user without a password or key gets a generated password, printed once.
func userAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	u := newUserFlags("user add")
	level := u.fs.String("level", "", "supervisor, guest or viewer (required for a new user)")
	pwStdin := u.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	keyFile := u.fs.String("authorized-key", "", "file with authorized_keys lines to add to the user's keys")
	force := u.fs.Bool("force", false, "demote the last supervisor anyway")
	pos, cfgPath, cfg, err := u.load(args, 1, "user add NAME [--level L] [--password-stdin] [--authorized-key FILE] [--force]")
	if err != nil {
		return err
	}
	name := pos[0]
	e := policy.UserEdit{Level: policy.Level(*level), Force: *force}
	if *keyFile != "" {
		if e.AddKeys, err = readKeys(*keyFile, stdin); err != nil {
			return usageError{fmt.Errorf("user add: %w", err)}
		}
	}
	if *pwStdin {
		if e.PasswordHash, err = passwordFrom(stdin); err != nil {
			return userError("user add", err)
		}
	}
	var generated string
	if e.PasswordHash == "" && len(e.AddKeys) == 0 && cfg.User(name) == nil && !hasOwnUser(cfg, name) {
		generated = policy.RandomPassword(16)
		if e.PasswordHash, err = policy.HashPassword(generated); err != nil {
			return err
		}
	}
	created, err := policy.AddUser(cfgPath, cfg, name, e)
	if err != nil {
		return userError("user add", err)
	}
	if generated != "" {
		fmt.Fprintf(stdout, "sluice: password %s (shown once)\n", generated)
	}
	verb := "changed"
	if created {
		verb = "added"
	}
	u.done(cfg, stdout, "user %q %s in %s", name, verb, policy.UsersPath(cfg.DataDir))
	return nil
}

// userDel removes a user from the users file.
func userDel(args []string, stdout io.Writer) error {
	u := newUserFlags("user del")
	force := u.fs.Bool("force", false, "remove the last supervisor anyway")
	pos, cfgPath, cfg, err := u.load(args, 1, "user del NAME [--force]")
	if err != nil {
		return err
	}
	if err := policy.DelUser(cfgPath, cfg, pos[0], *force); err != nil {
		return userError("user del", err)
	}
	u.done(cfg, stdout, "user %q removed from %s", pos[0], policy.UsersPath(cfg.DataDir))
	return nil
}

// userPasswd sets a user's password: read from standard input with
// --password-stdin, else generated and printed once; --none removes
// password login (keys only).
func userPasswd(args []string, stdin io.Reader, stdout io.Writer) error {
	u := newUserFlags("user passwd")
	pwStdin := u.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	none := u.fs.Bool("none", false, "remove the password (public-key login only)")
	pos, cfgPath, cfg, err := u.load(args, 1, "user passwd NAME [--password-stdin | --none]")
	if err != nil {
		return err
	}
	var hash, generated string
	switch {
	case *none && *pwStdin:
		return usageError{errors.New("user passwd: --none and --password-stdin exclude each other")}
	case *none:
	case *pwStdin:
		if hash, err = passwordFrom(stdin); err != nil {
			return userError("user passwd", err)
		}
	default:
		generated = policy.RandomPassword(16)
		if hash, err = policy.HashPassword(generated); err != nil {
			return err
		}
	}
	if err := policy.SetPassword(cfgPath, cfg, pos[0], hash); err != nil {
		return userError("user passwd", err)
	}
	if generated != "" {
		fmt.Fprintf(stdout, "sluice: password %s (shown once)\n", generated)
	}
	u.done(cfg, stdout, "password of %q changed in %s", pos[0], policy.UsersPath(cfg.DataDir))
	return nil
}

// userKeyAdd adds the authorized_keys lines of FILE ("-": standard input)
// to a user's keys.
func userKeyAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	u := newUserFlags("user key add")
	pos, cfgPath, cfg, err := u.load(args, 2, "user key add NAME FILE|-")
	if err != nil {
		return err
	}
	keys, err := readKeys(pos[1], stdin)
	if err != nil {
		return usageError{fmt.Errorf("user key add: %w", err)}
	}
	if err := policy.AddKeys(cfgPath, cfg, pos[0], keys); err != nil {
		return userError("user key add", err)
	}
	u.done(cfg, stdout, "%d key(s) of %q saved in %s", len(keys), pos[0], policy.UsersPath(cfg.DataDir))
	return nil
}

// userKeyDel removes a key from a user's keys, named by its SHA256
// fingerprint (as `user list -l` and the log show it) or its
// authorized_keys line.
func userKeyDel(args []string, stdout io.Writer) error {
	u := newUserFlags("user key del")
	pos, cfgPath, cfg, err := u.load(args, 2, "user key del NAME SHA256:FINGERPRINT|KEY")
	if err != nil {
		return err
	}
	n, err := policy.DelKey(cfgPath, cfg, pos[0], pos[1])
	if err != nil {
		return userError("user key del", err)
	}
	u.done(cfg, stdout, "%d key(s) of %q removed from %s", n, pos[0], policy.UsersPath(cfg.DataDir))
	return nil
}

// userList prints every user, from both files: name, level, how they log
// in, and where they are defined; -l adds each key's fingerprint.
func userList(args []string, stdout io.Writer) error {
	u := newUserFlags("user list")
	long := u.fs.Bool("l", false, "list each key's fingerprint")
	_, cfgPath, cfg, err := u.load(args, 0, "user list [-l]")
	if err != nil {
		return err
	}
	usersPath := policy.UsersPath(cfg.DataDir)
	own, err := policy.ReadUsers(usersPath)
	if err != nil {
		return usageError{err}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLEVEL\tLOGIN\tFILE")
	row := func(usr policy.User, file string) {
		var auth []string
		if usr.PasswordHash != "" {
			auth = append(auth, "password")
		}
		if n := len(usr.AuthorizedKeys); n > 0 {
			auth = append(auth, fmt.Sprintf("%d key(s)", n))
		}
		if len(auth) == 0 {
			auth = append(auth, "none")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", usr.Name, usr.Level, strings.Join(auth, ", "), file)
		if *long {
			for _, k := range usr.AuthorizedKeys {
				fmt.Fprintf(tw, "\t\t%s\t\n", keyLabel(k))
			}
		}
	}
	for _, usr := range cfg.Users {
		row(usr, cfgPath)
	}
	for _, usr := range own {
		row(usr, usersPath)
	}
	return tw.Flush()
}

// keyLabel is a key's fingerprint and comment.
func keyLabel(line string) string {
	k, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "(unreadable key)"
	}
	return strings.TrimSpace(ssh.FingerprintSHA256(k) + " " + comment)
}

func hasOwnUser(cfg *policy.Config, name string) bool {
	own, _ := policy.ReadUsers(policy.UsersPath(cfg.DataDir))
	for _, u := range own {
		if u.Name == name {
			return true
		}
	}
	return false
}

// readKeys reads authorized_keys lines from a file ("-": r), in the
// canonical form with their comments.
func readKeys(file string, r io.Reader) ([]string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(r)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		k, comment, _, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
		if comment != "" {
			line += " " + comment
		}
		keys = append(keys, line)
		rest = next
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no key", file)
	}
	return keys, nil
}

// passwordFrom hashes the first line of r.
func passwordFrom(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on standard input")
	}
	return policy.HashPassword(pw)
}
