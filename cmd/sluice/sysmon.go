package main

// The server runs with the Go runtime's sysmon kept out of its deep sleep
// (issue 11, docs/performance.md "2026-12-08").
//
// sysmon is the runtime's monitor thread. When every P is idle it sleeps
// on a note, and the next system call of any goroutine wakes it with a
// futex; after such a wake it polls every 20 µs again for at least 1 ms
// before it backs off. A file endpoint serving one client is idle between
// every request and the next: with OpenSSH's sftp putting 4 KiB files,
// that cycle was 15 % of the server's CPU samples (perf), and the server
// CPU per file was 1.21–1.41× sshd's. With the deep sleep off, sysmon
// backs off to one wake every 10 ms and stays there while no P is stuck
// in a system call: 1.07–1.08× in the same runs.
//
// The runtime has one switch for it, and only in the environment at
// start: GODEBUG=schedtrace=N keeps sysmon awake so that it can print a
// scheduler line every N ms. N is the largest the runtime takes, about
// 24.8 days; the runtime counts from the machine's boot, so a line
// "SCHED …" reaches standard error at most once per 24.8 days of uptime,
// and a fatal runtime error also prints the scheduler's state. An idle
// server pays about 100 wake-ups a second.
//
// GODEBUG naming schedtrace already wins: GODEBUG=schedtrace=0 turns this
// off (the runtime's default).

import (
	"os"
	"strings"
	"syscall"
)

// sysmonSetting is what the server adds to GODEBUG.
const sysmonSetting = "schedtrace=2147483647"

// sysmonEnv returns env with sysmonSetting added to GODEBUG, and whether
// it changed anything: not when GODEBUG already sets schedtrace.
func sysmonEnv(env []string) ([]string, bool) {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if found {
			continue // a second GODEBUG: getenv sees the first
		}
		found = true
		for _, s := range strings.Split(v, ",") {
			if strings.HasPrefix(strings.TrimSpace(s), "schedtrace=") {
				return env, false
			}
		}
		if v != "" {
			v += ","
		}
		out = append(out, "GODEBUG="+v+sysmonSetting)
	}
	if !found {
		out = append(out, "GODEBUG="+sysmonSetting)
	}
	return out, true
}

// reexecSysmonAwake replaces the process with the same program, arguments
// and environment plus sysmonSetting. It returns nil at once when the
// environment has the setting (as after the exec), and the error when the
// exec failed; the server then runs without it.
func reexecSysmonAwake() error {
	env, changed := sysmonEnv(os.Environ())
	if !changed {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, env)
}
