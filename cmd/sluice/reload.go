package main

// The pid file and `sluice reload`. A running server writes its pid to
// DATA/sluice.pid and removes it at exit; `sluice reload` and the user
// commands send that pid SIGHUP, which makes the server re-read its
// configuration (runServer).

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"github.com/sluice/sluice/auditlog"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
)

// pidFile is the name of the pid file in the data directory.
const pidFile = "sluice.pid"

// errNotRunning: no server runs on the data directory.
var errNotRunning = errors.New("no sluice server runs on this data directory")

func pidPath(dataDir string) string { return filepath.Join(dataDir, pidFile) }

// writePidFile records this process as the server of dataDir. It refuses
// when another live sluice process is recorded there (two servers on one
// device tree would lose each other's commits). remove deletes the file
// if it still names this process.
func writePidFile(dataDir string) (remove func(), err error) {
	path := pidPath(dataDir)
	if pid, err := runningPid(dataDir); err == nil && pid != os.Getpid() {
		return nil, fmt.Errorf("another sluice server (pid %d) serves %s; stop it, or remove %s if it is not sluice", pid, dataDir, path)
	}
	me := strconv.Itoa(os.Getpid())
	if err := atomicfile.Write(path, []byte(me+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() {
		if data, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(data)) == me {
			_ = os.Remove(path)
		}
	}, nil
}

// runningPid is the pid in dataDir's pid file if that process still
// runs and is a sluice; errNotRunning otherwise (no file, or a stale one
// left by a crash).
func runningPid(dataDir string) (int, error) {
	data, err := os.ReadFile(pidPath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return 0, errNotRunning
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: not a pid: %q", pidPath(dataDir), bytes.TrimSpace(data))
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return 0, errNotRunning
	}
	// A pid reused by another program after a crash is not a server.
	if comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); err == nil &&
		!strings.HasPrefix(string(comm), "sluice") {
		return 0, errNotRunning
	}
	return pid, nil
}

// signalServer sends SIGHUP to the server of dataDir.
func signalServer(dataDir string) (int, error) {
	pid, err := runningPid(dataDir)
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return 0, fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return pid, nil
}

// notifyServer has the server of dataDir, if one runs, reload after a
// change; it says what it did.
func notifyServer(dataDir string, stdout io.Writer) {
	pid, err := signalServer(dataDir)
	switch {
	case errors.Is(err, errNotRunning):
		fmt.Fprintln(stdout, "sluice: no server running; the change applies at its next start")
	case err != nil:
		fmt.Fprintf(stdout, "sluice: warning: could not signal the server: %v; run sluice reload, or send it SIGHUP\n", err)
	default:
		fmt.Fprintf(stdout, "sluice: server (pid %d) told to reload\n", pid)
	}
}

// reloadCmd is `sluice reload`: it sends SIGHUP to the server of the data
// directory (found as serve finds it: --data, else the configuration's
// data_dir). The server logs whether the new configuration was taken.
func reloadCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	var c common
	c.register(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{fmt.Errorf("reload: unexpected argument %q", pos[0])}
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	dataDir := c.data
	if _, err := os.Stat(c.configPath()); !errors.Is(err, os.ErrNotExist) {
		var o policy.Overrides
		if dataSet {
			o.DataDir = c.data
		}
		cfg, err := policy.LoadWith(c.configPath(), o)
		if err == nil {
			err = cfg.MergeUsers(c.configPath(), policy.UsersPath(cfg.DataDir))
		}
		if err != nil {
			// The server would keep its configuration: say so now
			// rather than only in its log.
			return usageError{fmt.Errorf("reload: %w (the running server would keep its configuration)", err)}
		}
		dataDir = cfg.DataDir
	}
	pid, err := signalServer(dataDir)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	fmt.Fprintf(stdout, "sluice: sent SIGHUP to the server (pid %d); its log says whether the configuration was taken\n", pid)
	return nil
}

// reloader re-reads the configuration on SIGHUP and applies what can
// change while serving to the running parts; the rest keeps its running
// value and is named in a warning.
type reloader struct {
	path string
	log  hclog.Logger
	// file is the configuration file as it was at start, without the
	// command line's overrides: what needs a restart is compared with it.
	file *policy.Config
	cur  *policy.Config // in force
	tree interface {
		Reload(image.Check, image.Device, bool)
	}
	sessions *policy.SessionLimiter
	defender *policy.Defender // [penalties] (SetPenalties)
	fronts   []reloadable
	// auditFile, if set, is reopened at each SIGHUP (logrotate).
	auditFile *auditlog.File
}

type reloadable struct {
	name   string
	reload func(*policy.Config) error
}

// reload applies the configuration file anew, or logs why not and keeps
// the one in force.
func (r *reloader) reload() {
	if r.auditFile != nil {
		if err := r.auditFile.Reopen(); err != nil {
			r.log.Error("cannot reopen the audit file; still writing the old one", "error", err)
		}
	}
	r.log.Info("reloading configuration", "path", r.path)
	file, err := policy.Load(r.path)
	var next *policy.Config
	if err == nil {
		// As at start: --data (already in cur.DataDir) replaces data_dir.
		next, err = policy.LoadWith(r.path, policy.Overrides{DataDir: r.cur.DataDir})
	}
	if err == nil {
		err = next.MergeUsers(r.path, policy.UsersPath(next.DataDir))
	}
	if err != nil {
		r.log.Error("configuration not reloaded; the one in force is kept", "error", err)
		return
	}
	if changed := restartOnly(r.file, file); len(changed) > 0 {
		r.log.Warn("settings changed that need a restart; they keep their running values",
			"settings", strings.Join(changed, ", "))
	}
	keepRunning(next, r.cur)
	if err := preflight(r.path, next); err != nil { // what serve checks at start
		r.log.Error("configuration not reloaded; the one in force is kept", "error", err)
		return
	}
	for i, f := range r.fronts {
		if err := f.reload(next); err != nil {
			// Only a front end that refused keeps its old policy; the
			// ones before it (i > 0) already took the new one.
			r.log.Error("configuration not reloaded; the one in force is kept", "front_end", f.name,
				"error", err, "front_ends_reloaded", i)
			return
		}
	}
	r.tree.Reload(next.Checks.On, next.ImageDevice(), next.Checks.AllowDeleteActive)
	r.sessions.SetLimits(next.Limits)
	if !reflect.DeepEqual(r.cur.Penalties, next.Penalties) {
		r.defender.SetPenalties(next.Penalties)
		r.log.Info("penalties reloaded", "enabled", next.Penalties.On(), "threshold", next.Penalties.Threshold,
			"allow", len(next.Penalties.Allow))
	}
	r.cur = next
	r.log.Info("configuration reloaded", "users", len(next.Users), "checks", next.Checks.On.String(),
		"trusted_keys", len(next.Device.Keys))
	if next.Checks.On&image.CheckSignature == 0 && len(next.Device.Keys) == 0 {
		r.log.Warn("signature check off: no device.trusted_keys configured")
	}
}

// restartOnly names the settings that differ between two loads of the
// configuration file and need a restart.
func restartOnly(old, next *policy.Config) []string {
	var out []string
	diff := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	diff("data_dir", old.DataDir, next.DataDir)
	diff("ssh.listen", old.SSH.Listen, next.SSH.Listen)
	diff("ssh.host_key_rsa", old.SSH.HostKeyRSA, next.SSH.HostKeyRSA)
	diff("ftp.listen", old.FTP.Listen, next.FTP.Listen)
	diff("ftp.tls_cert, ftp.tls_key", [2]string{old.FTP.TLSCert, old.FTP.TLSKey}, [2]string{next.FTP.TLSCert, next.FTP.TLSKey})
	diff("ftp.reload_command", old.FTP.ReloadCommand, next.FTP.ReloadCommand)
	diff("[[mount]]", old.Mounts, next.Mounts)
	diff("[mem]", old.Mem, next.Mem)
	diff("[names]", old.Names, next.Names)
	diff("limits.max_file_bytes", old.Limits.MaxFileBytes, next.Limits.MaxFileBytes)
	return out
}

// keepRunning gives next the running values of what needs a restart.
func keepRunning(next, cur *policy.Config) {
	next.DataDir, next.Mounts, next.Mem, next.Names = cur.DataDir, cur.Mounts, cur.Mem, cur.Names
	next.SSH.Listen, next.SSH.HostKeyRSA = cur.SSH.Listen, cur.SSH.HostKeyRSA
	next.FTP.Listen, next.FTP.TLSCert, next.FTP.TLSKey = cur.FTP.Listen, cur.FTP.TLSCert, cur.FTP.TLSKey
	next.FTP.ReloadCommand = cur.FTP.ReloadCommand
	next.Limits.MaxFileBytes = cur.Limits.MaxFileBytes
}
