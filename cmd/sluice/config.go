package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/policy"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
)

func (a *app) configCmd() *cobra.Command {
	var co common
	var asJSON, list bool
	c := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (like sshd -T)",
		Long: `Prints every section of the configuration as serve would use it, with the
defaults filled in, in the file's own TOML syntax or with --json as one JSON
object. Passwords are only said to be set, authorized keys are given by
fingerprint and trusted keys by key id. The TOML starts with the FTP settings
as the manual's "FTP config> list" shows them (§2.1.12), as comments; --list
prints only those. The configuration is checked first, as "sluice config
check" checks it.`,
		Args: subcommands,
		RunE: a.act(func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 { // "sluice config help"
				return cmd.Help()
			}
			cfg, err := co.load(cmd.Flags())
			if err != nil {
				return err
			}
			defaultListens(cfg)
			if err := preflight(co.configPath(), cfg); err != nil {
				return usageError{err}
			}
			if list {
				for _, l := range cfg.FTPList() {
					if _, err := fmt.Fprintln(a.stdout, l); err != nil {
						return err
					}
				}
				return nil
			}
			eff := append(policy.Section{{Key: "config_file", Value: absPath(co.configPath())}}, cfg.Effective()...)
			if asJSON {
				b, err := json.MarshalIndent(eff, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			for _, l := range cfg.FTPList() {
				if _, err := fmt.Fprintln(a.stdout, "# "+l); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprintln(a.stdout); err != nil {
				return err
			}
			return eff.WriteTOML(a.stdout)
		}),
		SuggestionsMinimumDistance: 2,
	}
	co.flags(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	c.Flags().BoolVar(&list, "list", false, `print only the FTP settings as the manual's "FTP config> list" (§2.1.12)`)
	c.MarkFlagsMutuallyExclusive("json", "list")

	var cc common
	check := &cobra.Command{
		Use:   "check",
		Short: "Check the configuration as serve does (like sshd -t)",
		Long: `Loads the configuration and runs every check serve runs before it listens:
the TOML itself (unknown keys, types, durations written as strings), every
value, listen addresses, authorized keys, the host keys and FTPS certificate
present, and the mount directories. Errors name the file and line. Nothing is
written. Exit status 0 when serve would start, 2 otherwise.`,
		Args: cobra.NoArgs,
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			cfg, err := cc.load(cmd.Flags())
			if err != nil {
				return err
			}
			defaultListens(cfg)
			if err := preflight(cc.configPath(), cfg); err != nil {
				return usageError{err}
			}
			fmt.Fprintf(a.stdout, "%s: ok\n", cc.configPath())
			return nil
		}),
	}
	cc.flags(check.Flags())
	c.AddCommand(check)
	return c
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// defaultListens fills the listen addresses serve uses when the file
// leaves them empty (and no flag sets them).
func defaultListens(cfg *policy.Config) {
	if cfg.SSH.Listen == "" {
		cfg.SSH.Listen = policy.DefaultSSHListen
	}
	if cfg.FTP.Listen == "" {
		cfg.FTP.Listen = policy.DefaultFTPListen
	}
}

// preflight is what serve checks of a loaded configuration before it
// builds anything, beyond policy.Load: it reads but writes nothing, so
// that config check runs exactly the same. Errors name the configuration
// file, with the line where the setting is written, or the file at fault.
func preflight(cfgPath string, cfg *policy.Config) error {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("%w: %v", policy.ErrConfig, err)
	}
	where := func(table string, index int, key string) string {
		if line := policy.FindLine(data, table, index, key); line > 0 {
			return fmt.Sprintf("%s:%d", cfgPath, line)
		}
		return cfgPath
	}
	if cfg.SSH.Listen == "" && cfg.FTP.Listen == "" {
		return errors.New("no listener configured (--ssh-addr and --ftp-addr are empty)")
	}
	for i, u := range cfg.Users {
		for j, line := range u.AuthorizedKeys {
			// As sshd reads them (sshd.New): a bad line is an error, not
			// a key that silently never matches.
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
				return fmt.Errorf("%w: %s: user %q: authorized key %d: %v", policy.ErrConfig, where("user", i, "authorized_keys"), u.Name, j+1, err)
			}
		}
	}
	if err := writableDir(cfg.DataDir); err != nil {
		return fmt.Errorf("%w: %s: data_dir: %v", policy.ErrConfig, where("", -1, "data_dir"), err)
	}
	if cfg.SSH.Listen != "" {
		for _, name := range []string{hostkeys.Ed25519File, hostkeys.RSAFile} {
			path := filepath.Join(cfg.DataDir, name)
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // generated at start
			}
			if err != nil {
				return fmt.Errorf("host key: %w", err)
			}
			if _, err := ssh.ParsePrivateKey(b); err != nil {
				return fmt.Errorf("host key %s: %v", path, err)
			}
		}
	}
	if cfg.FTP.Listen != "" {
		cert, key := cfg.FTP.TLSCert, cfg.FTP.TLSKey
		if cert == "" {
			cert, key = hostkeys.TLSCertPath("", cfg.DataDir), filepath.Join(cfg.DataDir, "ftp-tls.key")
			if _, err := os.Stat(key); errors.Is(err, fs.ErrNotExist) {
				cert = "" // generated at start
			}
		}
		if cert != "" {
			if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
				return fmt.Errorf("%w: %s: ftp.tls_cert, ftp.tls_key: %v", policy.ErrConfig, where("ftp", -1, "tls_cert"), err)
			}
		}
	}
	for i, m := range cfg.Mounts {
		if err := writableDir(m.Path); err != nil {
			return fmt.Errorf("%w: %s: mount %q: %v", policy.ErrConfig, where("mount", i, "path"), m.Name, err)
		}
	}
	return nil
}

// writableDir checks that dir is a directory, or can be made: its nearest
// existing ancestor is a directory.
func writableDir(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if filepath.Dir(d) == d {
			return err
		}
	}
}
