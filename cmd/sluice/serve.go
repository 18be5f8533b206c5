package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/ftpgateway"
	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/netserve"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/sshd"
	"github.com/sluice/sluice/vfs"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	sshAddr := fs.String("ssh-addr", policy.DefaultSSHListen, "SSH listen address; empty turns SSH off")
	ftpAddr := fs.String("ftp-addr", policy.DefaultFTPListen, "FTP listen address; empty turns FTP off")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this loopback address (profiling; off by default)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("serve: unexpected argument %q", pos[0])}
	}
	if *logFormat != "text" && *logFormat != "json" {
		return usageError{fmt.Errorf("--log-format must be text or json, not %q", *logFormat)}
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		return usageError{fmt.Errorf("--log-level %q is not a level", *logLevel)}
	}
	sshSet, ftpSet, dataSet := false, false, false
	fs.Visit(func(f *flag.Flag) {
		sshSet = sshSet || f.Name == "ssh-addr"
		ftpSet = ftpSet || f.Name == "ftp-addr"
		dataSet = dataSet || f.Name == "data"
	})

	log := hclog.New(&hclog.LoggerOptions{Name: "sluice", Level: level, JSONFormat: *logFormat == "json",
		Output: stderr, TimeFormat: time.RFC3339Nano})

	cfgPath := c.configPath()
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if err := firstRun(cfgPath, c.data, stdout); err != nil {
			return err
		}
	}
	cfg, err := policy.Load(cfgPath)
	if err != nil {
		return usageError{err}
	}
	if dataSet {
		cfg.DataDir, _ = filepath.Abs(c.data)
	}
	if sshSet {
		cfg.SSH.Listen = *sshAddr
	} else if cfg.SSH.Listen == "" {
		cfg.SSH.Listen = policy.DefaultSSHListen
	}
	if ftpSet {
		cfg.FTP.Listen = *ftpAddr
	} else if cfg.FTP.Listen == "" {
		cfg.FTP.Listen = policy.DefaultFTPListen
	}
	if *pprofAddr != "" {
		stop, err := startPprof(*pprofAddr, log)
		if err != nil {
			return usageError{err}
		}
		defer stop()
	}
	return runServer(ctx, cfg, log)
}

// firstRun creates the data directory, and a configuration with a
// supervisor "root" whose random password is printed once.
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
	if err := policy.Write(cfgPath, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sluice: first run: wrote %s\nsluice: supervisor user \"root\" has password %s (shown once)\n", cfgPath, pw)
	return nil
}

// runServer wires the packages together and serves until ctx ends.
func runServer(ctx context.Context, cfg *policy.Config, log hclog.Logger) error {
	audit := log.Named("audit")
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
			Logger: log.Named("ftp"), Audit: audit, Reload: reloadFunc(cfg.FTP.ReloadCommand, log)})
		if err != nil {
			return usageError{err}
		}
		fronts = append(fronts, front{"ftp", cfg.FTP.Listen, srv.Serve, srv.Shutdown})
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
	// Announce only when every listener is bound.
	for i, f := range fronts {
		log.Info(f.name+" listening", "addr", listeners[i].Addr().String(), "data_dir", cfg.DataDir)
	}
	errc := make(chan error, len(fronts))
	for i, f := range fronts {
		go func() { errc <- f.serve(listeners[i]) }()
	}
	var first error
	select {
	case first = <-errc:
	case <-ctx.Done():
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
