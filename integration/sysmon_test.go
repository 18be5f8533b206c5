package integration

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// processEnv is the environment process pid was started (or last
// exec'd) with.
func processEnv(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	return env
}

func godebugOf(env []string) []string {
	var out []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestServeKeepsSysmonAwake: `sluice serve` replaces itself, same pid,
// with GODEBUG=schedtrace set to the runtime's largest value (docs/
// performance.md, 2026-12-08), keeping what GODEBUG held; an operator's
// own schedtrace is left alone; and the server serves either way.
func TestServeKeepsSysmonAwake(t *testing.T) {
	s := newDataDir(t)
	p := s.startEnv([]string{"GODEBUG=madvdontneed=1"})
	got := godebugOf(processEnv(t, p.cmd.Process.Pid))
	if want := "madvdontneed=1,schedtrace=2147483647"; len(got) != 1 || got[0] != want {
		t.Errorf("GODEBUG of the server: got %q, want [%q]", got, want)
	}
	pid, err := os.ReadFile(s.data + "/sluice.pid")
	if err != nil || strings.TrimSpace(string(pid)) != fmt.Sprint(p.cmd.Process.Pid) {
		t.Errorf("pid file: got %q, %v; want %d (the exec keeps the pid)", pid, err, p.cmd.Process.Pid)
	}
	s.stop()

	p = s.startEnv([]string{"GODEBUG=schedtrace=0"})
	if got := godebugOf(processEnv(t, p.cmd.Process.Pid)); len(got) != 1 || got[0] != "schedtrace=0" {
		t.Errorf("GODEBUG with the operator's schedtrace=0: got %q, want [\"schedtrace=0\"]", got)
	}
	if strings.Contains(p.log.String(), "SCHED") {
		t.Errorf("the server printed a scheduler trace:\n%s", p.log.String())
	}
	s.stop()
}
