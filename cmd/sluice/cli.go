package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sluice/sluice/policy"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// The command line is spf13/cobra: help with every flag for every command,
// typo suggestions, shell completion and man pages all come from the one
// tree of definitions below, and it is the library SFTPGo, kubectl and
// the GitHub CLI are built on (pflag gives GNU-style --flags, before or
// after positional arguments, as sluice already took them).

// app is one run of the command line: where its commands read and write,
// and whether a command's own code ran (an error before that is a usage
// error: a flag, an argument count, an unknown command).
type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	ran    bool
	root   *cobra.Command
}

func newApp(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	a.root = a.rootCmd()
	return a
}

// execute runs the command args name. Errors of cobra's parsing are usage
// errors; errors of a command are returned as the command classified them.
func (a *app) execute(args []string) error {
	a.root.SetArgs(args)
	_, err := a.root.ExecuteC()
	if err == nil {
		return nil
	}
	var ue usageError
	if !a.ran && !errors.As(err, &ue) {
		return usageError{err}
	}
	return err
}

// act wraps a command's code: it marks that the command line was accepted.
func (a *app) act(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		return f(cmd, args)
	}
}

// subcommands is the Args check of a command with subcommands: an argument
// is an unknown subcommand, told with cobra's suggestions on one line.
func subcommands(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || len(args) == 1 && args[0] == "help" && cmd.HasParent() {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		for i := range s {
			s[i] = strconv.Quote(s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageError{fmt.Errorf("%s (commands: %s)", msg, strings.Join(names, ", "))}
}

// group returns a command that only holds subcommands: run bare, it
// names them and exits 2, as a bad command line.
func (a *app) group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: subcommands, SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 { // "sluice image help", as "sluice help image"
				return cmd.Help()
			}
			var names []string
			for _, s := range cmd.Commands() {
				names = append(names, s.Name())
			}
			return usageError{fmt.Errorf("%s: want a command: %s (see %s --help)", cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())}
		}}
	c.AddCommand(subs...)
	return c
}

// legacy makes c run a command that parses its own flags with package
// flag (put, user, keys and reload): cobra hands it the
// arguments untouched. The flags declared on c are for --help, the man
// page and completion, and must be the command's own; -h and --help are
// answered here, with exit status 0.
func (a *app) legacy(c *cobra.Command, run func(args []string) error) *cobra.Command {
	c.DisableFlagParsing = true
	// cobra completes the declared flags' names but not their values.
	c.ValidArgsFunction = legacyComplete
	c.RunE = a.act(func(cmd *cobra.Command, args []string) error {
		for _, x := range args {
			if x == "--" {
				break
			}
			if x == "-h" || x == "--help" || x == "-help" {
				return cmd.Help()
			}
		}
		return run(args)
	})
	return c
}

// legacyComplete completes a command whose flags app.legacy parses
// (cobra completes their names from the declaration, not their values):
// the value of a flag that takes one with a directory for --data, the
// levels for --level, nothing for a duration, and files for the rest
// (--config, --authorized-key, --cacert); an argument with files.
func legacyComplete(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	fs := cmd.LocalFlags()
	if len(args) > 0 {
		if prev := strings.TrimLeft(args[len(args)-1], "-"); strings.HasPrefix(args[len(args)-1], "-") && !strings.Contains(prev, "=") {
			if f := fs.Lookup(prev); f != nil && f.Value.Type() != "bool" {
				switch {
				case f.Name == "data":
					return nil, cobra.ShellCompDirectiveFilterDirs
				case f.Name == "level":
					return []string{"supervisor", "guest", "viewer"}, cobra.ShellCompDirectiveNoFileComp
				case f.Value.Type() == "duration":
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return nil, cobra.ShellCompDirectiveDefault
			}
		}
	}
	return nil, cobra.ShellCompDirectiveDefault
}

func (a *app) rootCmd() *cobra.Command {
	var o serveOpts
	root := &cobra.Command{
		Use:   "sluice",
		Short: "SFTP and legacy FTP file endpoint for devices",
		Long: `sluice serves a device's file systems over SFTP (OpenSSH's sftp, scp, rclone)
and over the manual's legacy FTP, with uploads staged, checked and committed
atomically. Without a command it runs "sluice serve". See docs/operations.md.`,
		Version:                    version(),
		Args:                       subcommands,
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true, // main prints "sluice: ERROR" on one line
		SilenceUsage:               true,
		RunE:                       a.act(func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, &o) }),
	}
	root.SetVersionTemplate("sluice {{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	})
	o.flags(root.Flags())
	root.AddCommand(
		a.serveCmd(),
		a.userCmd(),
		a.reloadCmd(),
		a.keysCmd(),
		a.bansCmd(),
		a.configCmd(),
		a.imageCmd(),
		a.putCmd(),
		a.manCmd(),
	)
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// flags declares --config and --data for cobra (register does for flag).
func (c *common) flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration file (default DATA/sluice.toml)")
	fs.StringVar(&c.data, "data", defaultData, "data directory: host keys, device state, and the file systems unless mounted elsewhere; given, it replaces the configuration's data_dir")
}

// load reads the configuration as serve does: --data, when given,
// replaces data_dir before the defaults (so mounts follow it), and the
// users of DATA/users.toml are merged in.
func (c *common) load(fs *pflag.FlagSet) (*policy.Config, error) {
	var o policy.Overrides
	if fs.Changed("data") {
		o.DataDir = c.data
	}
	cfg, err := policy.LoadWith(c.configPath(), o)
	if err == nil {
		err = cfg.MergeUsers(c.configPath(), policy.UsersPath(cfg.DataDir))
	}
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// userCmd is "sluice user ...": the commands of users.go, which parse
// their own flags (app.legacy) and change only DATA/users.toml.
func (a *app) userCmd() *cobra.Command {
	// cmd declares a user command: its --config and --data, then flags.
	cmd := func(use, short string, run func(args []string) error, flags func(fs *pflag.FlagSet)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short}
		var co common
		co.flags(c.Flags())
		if flags != nil {
			flags(c.Flags())
		}
		return a.legacy(c, run)
	}
	add := cmd("add NAME [--level L] [--password-stdin] [--authorized-key FILE] [--force]",
		"Add a user, or change one (a new one without password or key gets a generated password, printed once)",
		func(args []string) error { return userAdd(args, a.stdin, a.stdout) },
		func(fs *pflag.FlagSet) {
			fs.String("level", "", "supervisor, guest or viewer (required for a new user)")
			fs.Bool("password-stdin", false, "read the password from the first line of standard input")
			fs.String("authorized-key", "", "file with authorized_keys lines to add to the user's keys")
			fs.Bool("force", false, "demote the last supervisor anyway")
		})
	del := cmd("del NAME [--force]", "Remove a user",
		func(args []string) error { return userDel(args, a.stdout) },
		func(fs *pflag.FlagSet) { fs.Bool("force", false, "remove the last supervisor anyway") })
	passwd := cmd("passwd NAME [--password-stdin | --none]", "Set a user's password (generated and printed once without --password-stdin)",
		func(args []string) error { return userPasswd(args, a.stdin, a.stdout) },
		func(fs *pflag.FlagSet) {
			fs.Bool("password-stdin", false, "read the password from the first line of standard input")
			fs.Bool("none", false, "remove the password (public-key login only)")
		})
	list := cmd("list [-l]", "List the users, where each is defined and how it logs in",
		func(args []string) error { return userList(args, a.stdout) },
		func(fs *pflag.FlagSet) { fs.Bool("l", false, "list each key's fingerprint") })
	keyAdd := cmd("add NAME FILE|-", "Add authorized_keys lines from FILE (\"-\": standard input) to a user's keys",
		func(args []string) error { return userKeyAdd(args, a.stdin, a.stdout) }, nil)
	keyDel := cmd("del NAME SHA256:FINGERPRINT|KEY", "Remove a key from a user's keys",
		func(args []string) error { return userKeyDel(args, a.stdout) }, nil)
	return a.group("user", "Manage the users of DATA/users.toml (the running server reloads them)",
		add, del, passwd, list, a.group("key", "Manage a user's authorized keys", keyAdd, keyDel))
}

func (a *app) reloadCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "reload",
		Short: "Have the running server re-read its configuration (SIGHUP through its pid file)",
		Long: `Checks the configuration, then sends SIGHUP to the server of the data
directory (its pid file). The server logs whether it took the new
configuration; a bad one is refused and the old one kept.`,
	}
	var co common
	co.flags(c.Flags())
	return a.legacy(c, func(args []string) error { return reloadCmd(args, a.stdout) })
}

func (a *app) keysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Print the host key and FTPS certificate fingerprints",
		Long: `Prints the SSH host key fingerprints and the FTPS certificate's file, SHA-256
fingerprints (ssh-keygen's and openssl's forms) and the names and addresses it
is valid for. The certificate is generated when missing, as serve would.`,
	}
	var co common
	co.flags(c.Flags())
	c.Flags().Bool("known-hosts", false, "print only known_hosts lines for the SSH listen address (to append to ~/.ssh/known_hosts)")
	return a.legacy(c, func(args []string) error { return keys(args, a.stdout) })
}

func (a *app) putCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "put SERVER[:PORT] USER PASS FILE [passive]",
		Short: "Upload a file over FTP, as the manual's FTP+put",
		Long: `Logs in to SERVER (port 21 by default), stores FILE under its base name in
binary mode and prints the manual's progress and messages. PASS "-" reads the
password from standard input. Without "passive" the transfer uses active mode.
Exit status: 0 done, 1 transfer error, 2 bad command line, 3 connection error,
4 login error, 5 aborted or timed out (docs/put.md).`,
	}
	c.Flags().Duration("timeout", 0, "connect and idle timeout; 0 waits forever (default 30s)")
	c.Flags().Bool("tls", false, "explicit FTPS: AUTH TLS, then PBSZ 0 and PROT P")
	c.Flags().Bool("insecure", false, "with --tls: do not verify the server's certificate")
	c.Flags().String("cacert", "", "with --tls: trust only the PEM certificate(s) in this file")
	c.Flags().Duration("progress-every", 0, "least time between progress updates (default 1s, 100ms on a terminal)")
	return a.legacy(c, func(args []string) error { return putCmd(a.ctx, args, a.stdin, a.stdout, a.stderr) })
}

// manCmd writes a man page per command, from the same definitions as
// --help.
func (a *app) manCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write man pages (section 1) for every command into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // no "Auto generated by" footer; the date honours SOURCE_DATE_EPOCH
			return doc.GenManTree(root, &doc.GenManHeader{Title: "SLUICE", Section: "1", Source: "sluice " + version()}, args[0])
		}),
	}
}
