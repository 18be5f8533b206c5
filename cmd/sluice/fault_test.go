//go:build !faultinject

package main

import (
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestNoFaultHookInProduction: the production binary has no crash hook,
// whatever the environment says.
func TestNoFaultHookInProduction(t *testing.T) {
	t.Setenv("SLUICE_FAULT_STAGE", "partial")
	if faultHook(hclog.NewNullLogger()) != nil {
		t.Fatal("faultHook is set without -tags faultinject")
	}
}
