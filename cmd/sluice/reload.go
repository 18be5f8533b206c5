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
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluice/sluice/atomicfile"
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
