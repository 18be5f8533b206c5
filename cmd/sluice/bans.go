package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/policy"
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

// bans lists the sources a running server has banned.
func bans(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bans", flag.ContinueOnError)
	var c common
	c.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("bans: unexpected argument %q", pos[0])}
	}
	cfg, err := policy.Load(c.configPath())
	if err != nil {
		return usageError{err}
	}
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
