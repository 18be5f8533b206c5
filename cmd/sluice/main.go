// Command sluice is the device file endpoint: an SFTP server and the
// legacy FTP gateway over a staged, checked, atomic device tree.
//
//	sluice [serve] [--config FILE] [--data DIR] [--ssh-addr ADDR] [--ftp-addr ADDR] [--log-format text|json] [--log-level LEVEL] [--pprof-addr ADDR]
//	sluice user add|del|passwd|list|key add|key del ...   (users in DATA/users.toml)
//	sluice reload [--config FILE] [--data DIR]
//	sluice keys [--known-hosts] [--config FILE] [--data DIR]
//	sluice bans [--config FILE] [--data DIR]
//	sluice config [--json] [--config FILE] [--data DIR]
//	sluice config check [--config FILE] [--data DIR]
//	sluice image build|inspect|keygen ...   (see docs/image-format.md)
//	sluice put SERVER[:PORT] USER PASS FILE [passive]   (see docs/put.md)
//	sluice completion bash|zsh|fish|powershell
//	sluice man DIR
//
// Every command has --help; the root has --version. The command line is
// built with spf13/cobra (cli.go), docs/operations.md says why.
//
// Exit status: 0 success, 1 runtime failure, 2 bad command line or
// configuration; sluice put has its own codes (docs/put.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError marks errors that exit with status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is the exit status for run's error: 2 for a bad command line
// or configuration, put's own codes for put (putExitCode), else 1.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return putExitCode(err)
}

// run parses args and runs the command they name (serve when none).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return newApp(ctx, stdin, stdout, stderr).execute(args)
}

// common holds the flags every configuration-reading command shares.
type common struct {
	config string
	data   string
}

const defaultData = "sluice-data"

// register adds --config and --data to a command that parses its flags
// with package flag (parse); cli.go declares the same for cobra.
func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration file (default DATA/sluice.toml)")
	fs.StringVar(&c.data, "data", defaultData, "data directory (file systems, host keys)")
}

func (c *common) configPath() string {
	if c.config != "" {
		return c.config
	}
	return c.data + "/sluice.toml"
}

// parse parses flags that may come before or after positional arguments
// ("user add NAME --level L") and returns the positionals. It serves the
// commands that parse their own flags (see app.legacy).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
