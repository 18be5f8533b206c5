//go:build !faultinject

package main

import (
	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/vfs"
)

// faultHook is nil in the production binary: SLUICE_FAULT_STAGE does
// nothing (see fault_on.go).
func faultHook(hclog.Logger) func(vfs.Stage) { return nil }
