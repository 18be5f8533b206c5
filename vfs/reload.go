package vfs

import "github.com/sluice/sluice/image"

// tunables are the settings of an FS that a reload may change.
type tunables struct {
	checks image.Check
	dev    image.Device
	delAct bool
}

// Reload replaces the image checks, the device identity they compare
// with (trusted keys included) and whether a supervisor may delete the
// active boot application, for the operations that start afterwards (a
// session's SITE CHECK override stays in force). Mounts, the staging
// buffer and the limits of Config need a new FS.
func (f *FS) Reload(checks image.Check, dev image.Device, allowDeleteActive bool) {
	f.tune.Store(&tunables{checks: checks, dev: dev, delAct: allowDeleteActive})
}
