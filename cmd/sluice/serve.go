package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/auditlog"
	"github.com/sluice/sluice/ftpgateway"
	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/metrics"
	"github.com/sluice/sluice/netserve"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/sshd"
	"github.com/sluice/sluice/vfs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// serveOpts are serve's flags; with no command, the root takes them too.
type serveOpts struct {
	common
	sshAddr, ftpAddr    string
	logFormat, logLevel string
	pprofAddr           string
	metricsAddr         string
}

func (o *serveOpts) flags(fs *pflag.FlagSet) {
	o.common.flags(fs)
	fs.StringVar(&o.sshAddr, "ssh-addr", policy.DefaultSSHListen, "SSH listen address; empty turns SSH off (replaces ssh.listen)")
	fs.StringVar(&o.ftpAddr, "ftp-addr", policy.DefaultFTPListen, "FTP listen address; empty turns FTP off (replaces ftp.listen)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback address (profiling; off by default)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this loopback address, e.g. 127.0.0.1:9101 (off by default)")
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOpts
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve SFTP and FTP (the default command)",
		Long: `Serves the data directory over SSH/SFTP and FTP until SIGINT or SIGTERM.
The first run on a missing configuration creates the data directory and a
configuration with a supervisor "root" whose generated password is written to
DATA/initial-root-password (mode 0600), and printed only on a terminal.`,
		Args: cobra.NoArgs,
		RunE: a.act(func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, &o) }),
	}
	o.flags(c.Flags())
	return c
}

// serve checks every flag, runs the first run if there is no
// configuration, loads and checks the configuration as config check does
// (preflight), and serves.
func (a *app) serve(cmd *cobra.Command, o *serveOpts) error {
	fs := cmd.Flags()
	// Every flag is checked before the first run writes anything.
	if o.logFormat != "text" && o.logFormat != "json" {
		return usageError{fmt.Errorf("--log-format must be text or json, not %q", o.logFormat)}
	}
	level := hclog.LevelFromString(o.logLevel)
	if level == hclog.NoLevel {
		return usageError{fmt.Errorf("--log-level %q is not a level", o.logLevel)}
	}
	for _, f := range []struct{ name, addr string }{{"ssh-addr", o.sshAddr}, {"ftp-addr", o.ftpAddr}} {
		if err := policy.CheckListen(f.addr); fs.Changed(f.name) && err != nil {
			return usageError{fmt.Errorf("--%s: %v", f.name, err)}
		}
	}
	if fs.Changed("ssh-addr") && fs.Changed("ftp-addr") && o.sshAddr == "" && o.ftpAddr == "" {
		return usageError{errors.New("no listener configured (--ssh-addr and --ftp-addr are empty)")}
	}
	if o.pprofAddr != "" {
		if err := checkPprofAddr(o.pprofAddr); err != nil {
			return usageError{err}
		}
	}
	if o.metricsAddr != "" {
		if err := metrics.CheckLoopback(o.metricsAddr); err != nil {
			return usageError{fmt.Errorf("--metrics-addr: %w", err)}
		}
	}

	logOpts := hclog.LoggerOptions{Name: "sluice", Level: level, JSONFormat: o.logFormat == "json",
		Output: a.stderr, TimeFormat: time.RFC3339Nano}
	log := hclog.New(&logOpts)

	cfgPath := o.configPath()
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if err := firstRun(cfgPath, o.data, a.stdout); err != nil {
			return err
		}
	}
	cfg, err := o.load(fs)
	if err != nil {
		return err
	}
	if fs.Changed("ssh-addr") {
		cfg.SSH.Listen = o.sshAddr
	} else if cfg.SSH.Listen == "" {
		cfg.SSH.Listen = policy.DefaultSSHListen
	}
	if fs.Changed("ftp-addr") {
		cfg.FTP.Listen = o.ftpAddr
	} else if cfg.FTP.Listen == "" {
		cfg.FTP.Listen = policy.DefaultFTPListen
	}
	// cfg has DATA/users.toml merged already (common.load), and passed
	// the same checks as config check: runServer must not merge the users
	// file again (a second merge finds every user "defined in both").
	if err := preflight(cfgPath, cfg); err != nil {
		return usageError{err}
	}
	if o.pprofAddr != "" {
		stop, err := startPprof(o.pprofAddr, log)
		if err != nil {
			return usageError{err}
		}
		defer stop()
	}
	return runServer(a.ctx, cfgPath, cfg, log, runOpts{logOpts: logOpts, metricsAddr: o.metricsAddr})
}

// initialPasswordFile is where the first run leaves root's password, in
// the data directory, readable by its owner only.
const initialPasswordFile = "initial-root-password"

// firstRun creates the data directory, and a configuration with a
// supervisor "root" whose random password is written to a 0600 file in
// it. The password is printed too only when stdout is a terminal: under
// systemd stdout is the journal, which others may read.
func firstRun(cfgPath, data string, stdout io.Writer) error {
	for _, d := range []string{data, filepath.Join(data, "dsk"), filepath.Join(data, "bio")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o750); err != nil {
		return err
	}
	pw := policy.RandomPassword(16)
	hash, err := policy.HashPassword(pw)
	if err != nil {
		return err
	}
	dataDir, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	if absCfg, err := filepath.Abs(filepath.Dir(cfgPath)); err == nil && absCfg == dataDir {
		dataDir = "."
	}
	cfg := &policy.Config{
		DataDir: dataDir,
		// A device identity to edit: the checks compare images with it.
		Device: policy.Device{SystemID: "SLUICE", HardwareID: 1, HWLevel: 1, BIOSVersion: "1.0", Profile: "STD"},
		Users:  []policy.User{{Name: "root", Level: policy.Supervisor, PasswordHash: hash}},
	}
	pwFile := filepath.Join(data, initialPasswordFile)
	if err := atomicfile.Write(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	if err := policy.Write(cfgPath, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sluice: first run: wrote %s\n", cfgPath)
	if onTerminal(stdout) {
		fmt.Fprintf(stdout, "sluice: supervisor user \"root\" has password %s (also in %s)\n", pw, pwFile)
	} else {
		fmt.Fprintf(stdout, "sluice: supervisor user \"root\": password in %s (mode 0600; delete it once read)\n", pwFile)
	}
	return nil
}

// onTerminal reports whether w is a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runServer wires the packages together and serves until ctx ends. cfg
// was loaded from cfgPath with the command line's overrides and the users
// file merged (common.load). SIGHUP re-reads both and applies what can
// change while serving (reloader); the pid file in the data directory
// lets `sluice reload` and the user commands send it.
// runOpts are what runServer needs from the command line besides the
// configuration.
type runOpts struct {
	logOpts     hclog.LoggerOptions // the root logger's, for the audit logger
	metricsAddr string              // "" : no metrics
}

func runServer(ctx context.Context, cfgPath string, cfg *policy.Config, log hclog.Logger, ro runOpts) error {
	// Before anything else: SIGHUP's default action ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	file, err := policy.Load(cfgPath)
	if err != nil {
		return usageError{err}
	}
	// The audit logger: the log's "audit" events, also written to
	// [audit] file when set (reopened on SIGHUP), and counted by the
	// metrics when --metrics-addr is given.
	var auditFile *auditlog.File
	if cfg.Audit.File != "" {
		if auditFile, err = auditlog.Open(cfg.Audit.File); err != nil {
			return fmt.Errorf("audit file: %w", err)
		}
		defer auditFile.Close()
	}
	var audit hclog.Logger
	if auditFile != nil {
		audit = auditlog.New(ro.logOpts, auditFile)
	} else {
		audit = log.Named("audit")
	}
	mx, audit, err := newMetrics(ro.metricsAddr, audit)
	if err != nil {
		return err
	}
	log.Info("image checks", "on", cfg.Checks.On.String())
	if cfg.Checks.On&image.CheckSignature == 0 && len(cfg.Device.Keys) == 0 {
		log.Warn("signature check off: no device.trusted_keys configured")
	}
	store, err := mem.New(mem.Config{MaxBytes: cfg.Mem.MaxBytes})
	if err != nil {
		return usageError{fmt.Errorf("mem: %w", err)}
	}
	if limit, set := mem.LimitRuntime(cfg.Mem.MaxBytes, cfg.Limits.MaxSessions); set {
		log.Info("memory limit", "go_mem_limit", limit)
	}
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store, NameMax: cfg.Names.MaxLen, MaxFileBytes: cfg.Limits.MaxFileBytes,
		Logger: log.Named("vfs"), Audit: audit, FaultHook: faultHook(log),
		Checks: cfg.Checks.On, Device: cfg.ImageDevice(), AllowDeleteActive: cfg.Checks.AllowDeleteActive,
		StatePath: filepath.Join(cfg.DataDir, "device-state.json")})
	if err != nil {
		return err
	}
	defer tree.Close()
	if cfg.SSH.Listen == "" && cfg.FTP.Listen == "" {
		return usageError{errors.New("no listener configured (--ssh-addr and --ftp-addr are empty)")}
	}
	sessions := policy.NewSessionLimiter(cfg.Limits)
	defender := newDefender(cfg, audit, log)
	stopMetrics, err := startMetrics(mx, ro.metricsAddr, tree, sessions, defender, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	rl := &reloader{path: cfgPath, log: log, file: file, cur: cfg, tree: tree, sessions: sessions, defender: defender,
		auditFile: auditFile}
	type front struct {
		name  string
		addr  string
		serve func(net.Listener) error
		stop  func(context.Context) error
	}
	var fronts []front
	if cfg.SSH.Listen != "" {
		keys, err := hostkeys.Load(hostkeys.Config{Dir: cfg.DataDir, RSA: cfg.SSH.HostKeyRSA, Logger: log.Named("hostkeys")})
		if err != nil {
			return err
		}
		srv, err := sshd.New(sshd.Config{Policy: cfg, HostKeys: keys, Store: tree,
			Sessions: sessions, Defender: defender, Logger: log.Named("sshd"), Audit: audit})
		if err != nil {
			return usageError{err}
		}
		fronts = append(fronts, front{"ssh", cfg.SSH.Listen, srv.Serve, srv.Shutdown})
		rl.fronts = append(rl.fronts, reloadable{"ssh", srv.Reload})
	}
	if cfg.FTP.Listen != "" {
		var ips []net.IP
		if host, _, err := net.SplitHostPort(cfg.FTP.Listen); err == nil {
			if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
				ips = append(ips, ip)
			}
		}
		tlsCfg, err := hostkeys.LoadTLS(cfg.FTP.TLSCert, cfg.FTP.TLSKey, cfg.DataDir, ips...)
		if err != nil {
			return err
		}
		srv, err := ftpgateway.New(ftpgateway.Config{Policy: cfg, Store: tree, Sessions: sessions, Defender: defender, TLS: tlsCfg,
			Logger: log.Named("ftp"), Audit: audit, Reload: reloadFunc(cfg.FTP.ReloadCommand, log),
			ReloadReady: reloadReady(cfg.FTP.ReloadCommand)})
		if err != nil {
			return usageError{err}
		}
		fronts = append(fronts, front{"ftp", cfg.FTP.Listen, srv.Serve, srv.Shutdown})
		rl.fronts = append(rl.fronts, reloadable{"ftp", srv.Reload})
	}
	var listeners []net.Listener
	for _, f := range fronts {
		l, err := net.Listen("tcp", f.addr)
		if err != nil {
			for _, o := range listeners {
				o.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}
	removePid, err := writePidFile(cfg.DataDir)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return err
	}
	defer removePid()
	// Announce only when every listener is bound.
	for i, f := range fronts {
		log.Info(f.name+" listening", "addr", listeners[i].Addr().String(), "data_dir", cfg.DataDir)
	}
	errc := make(chan error, len(fronts))
	for i, f := range fronts {
		go func() { errc <- f.serve(listeners[i]) }()
	}
	var first error
serving:
	for {
		select {
		case first = <-errc:
			break serving
		case <-ctx.Done():
			break serving
		case <-hup:
			rl.reload()
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, f := range fronts {
		if err := f.stop(sctx); err != nil {
			log.Warn("sessions closed at shutdown", "front_end", f.name, "error", err)
		}
	}
	for range len(fronts) - btoi(first != nil) {
		if err := <-errc; first == nil && !errors.Is(err, netserve.ErrServerClosed) {
			first = err
		}
	}
	if errors.Is(first, netserve.ErrServerClosed) {
		first = nil
	}
	return first
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reloadFunc runs the configured reload command (no shell) for SITE
// RELOAD.
// reloadReady reports, for SITE RELOAD ON, whether the reload command
// is an executable file (exec.LookPath); nil without a command.
func reloadReady(argv []string) func() error {
	if len(argv) == 0 {
		return nil
	}
	return func() error {
		_, err := exec.LookPath(argv[0])
		return err
	}
}

func reloadFunc(argv []string, log hclog.Logger) func() {
	if len(argv) == 0 {
		return nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			log.Error("reload command failed", "command", argv[0], "error", err, "output", string(out))
			return
		}
		log.Info("reload command ran", "command", argv[0])
	}
}
