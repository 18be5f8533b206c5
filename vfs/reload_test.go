package vfs

import (
	"testing"

	"github.com/sluice/sluice/image"
)

func TestReload(t *testing.T) {
	tr := newTree(t)
	dev := image.Device{SystemID: "NEW", HardwareID: 7}
	tr.fs.Reload(image.CheckCRC, dev, true)
	if got := tr.fs.Checks(); got != image.CheckCRC {
		t.Errorf("checks: got %v, want %v", got, image.CheckCRC)
	}
	if got := tr.fs.Device(); got.SystemID != "NEW" || got.HardwareID != 7 {
		t.Errorf("device: got %+v, want %+v", got, dev)
	}
	on := image.CheckAll
	if got := tr.fs.checksFor(&Session{Checks: &on}); got != image.CheckAll {
		t.Errorf("a session's own checks: got %v, want %v kept", got, image.CheckAll)
	}
	if !tr.fs.tune.Load().delAct {
		t.Error("allow_delete_active not applied")
	}
}
