package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/policy"
	"github.com/spf13/cobra"
)

// bansFile is where a running server lists the bans in force, for
// `sluice bans`.
const bansFile = "bans.json"

// newDefender builds the per-source penalties shared by SSH and FTP: each
// ban is audited and the list of bans in force is rewritten.
func newDefender(cfg *policy.Config, audit, log hclog.Logger) *policy.Defender {
	d := policy.NewDefender(cfg.Penalties)
	path := filepath.Join(cfg.DataDir, bansFile)
	d.OnBan = func(b policy.Ban) {
		audit.Warn("ban", "source", b.Source, "until", b.Until.UTC().Format(time.RFC3339), "duration",
			time.Until(b.Until).Round(time.Second).String(), "count", b.Count, "reason", b.Reason)
		if err := writeBans(path, d.Bans()); err != nil {
			log.Warn("cannot write the ban list", "path", path, "error", err)
		}
	}
	if !cfg.Penalties.On() {
		log.Warn("per-source penalties are off (penalties.enabled = false)")
	}
	return d
}

func writeBans(path string, bans []policy.Ban) error {
	if bans == nil {
		bans = []policy.Ban{}
	}
	b, err := json.MarshalIndent(bans, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

func (a *app) bansCmd() *cobra.Command {
	var co common
	c := &cobra.Command{
		Use:   "bans",
		Short: "List the sources a running server has banned",
		Long: `Lists the sources (an IPv4 address or an IPv6 /64) banned by per-source
penalties ([penalties]), from the list the running server keeps in DATA/bans.json.`,
		Args: cobra.NoArgs,
		RunE: a.act(func(cmd *cobra.Command, _ []string) error {
			cfg, err := co.load(cmd.Flags())
			if err != nil {
				return err
			}
			return bans(cfg, a.stdout)
		}),
	}
	co.flags(c.Flags())
	return c
}

// bans lists the sources a running server has banned.
func bans(cfg *policy.Config, stdout io.Writer) error {
	path := filepath.Join(cfg.DataDir, bansFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "no bans")
		return nil
	}
	if err != nil {
		return err
	}
	var list []policy.Ban
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	n := 0
	for _, x := range list {
		if !now.Before(x.Until) {
			continue
		}
		if n == 0 {
			fmt.Fprintln(tw, "SOURCE\tUNTIL\tLEFT\tBANS\tREASON")
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", x.Source, x.Until.UTC().Format(time.RFC3339),
			x.Until.Sub(now).Round(time.Second), x.Count, x.Reason)
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(stdout, "no bans")
	}
	return nil
}
