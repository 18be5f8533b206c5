// Command sluice is the device file endpoint: an SFTP server (and, later,
// the legacy FTP gateway) over a staged, checked, atomic device tree.
//
//	sluice [serve] [--config FILE] [--data DIR] [--ssh-addr ADDR] [--log-format text|json] [--log-level LEVEL]
//	sluice user add NAME --level supervisor|guest|viewer [--password-stdin] [--authorized-key FILE]
//	sluice keys   [--config FILE] [--data DIR]
//	sluice bans   [--config FILE] [--data DIR]
//	sluice config [--config FILE] [--data DIR]
//	sluice image build|inspect|keygen ...   (see docs/image-format.md)
//	sluice put <server[:port]> <user> <pass> <file> [passive]   (see docs/put.md)
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(putExitCode(err))
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "user":
		if len(args) == 0 || args[0] != "add" {
			return usageError{errors.New("usage: sluice user add NAME --level L [--password-stdin] [--authorized-key FILE]")}
		}
		return userAdd(args[1:], stdin, stdout)
	case "keys":
		return keys(args, stdout)
	case "bans":
		return bans(args, stdout)
	case "image":
		return imageCmd(args, stdin, stdout)
	case "put":
		return putCmd(ctx, args, stdin, stdout, stderr)
	case "config":
		return showConfig(args, stdout)
	case "help":
		fmt.Fprintln(stdout, "usage: sluice [serve|user add|keys|bans|config|image build|image inspect|image keygen|put] [flags]; see docs/operations.md")
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q (serve, user add, keys, bans, config, image, put)", cmd)}
}

// common holds the flags every subcommand shares.
type common struct {
	config string
	data   string
}

const defaultData = "sluice-data"

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
// ("user add NAME --level L") and returns the positionals.
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
