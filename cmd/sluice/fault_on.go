//go:build faultinject

package main

import (
	"os"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/vfs"
)

// faultHook returns the crash-test hook: with SLUICE_FAULT_STAGE set to a
// commit stage (partial, synced, renamed), the process kills itself with
// SIGKILL when a commit reaches it. It exists only in a binary built with
// -tags faultinject, which only the crash-safety tests build
// (integration/main_test.go); the production binary ignores the variable.
func faultHook(log hclog.Logger) func(vfs.Stage) {
	stage := vfs.Stage(os.Getenv("SLUICE_FAULT_STAGE"))
	if stage == "" {
		return nil
	}
	log.Warn("crash test mode: will kill itself at a commit stage", "stage", stage)
	return func(s vfs.Stage) {
		if s == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
