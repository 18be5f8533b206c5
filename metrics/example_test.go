package metrics_test

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/metrics"
	"github.com/sluice/sluice/vfs"
)

// The audit logger is wrapped first, because the components that audit
// are built with it; the gauges are added once their sources exist.
func Example() {
	m := metrics.New()
	audit := m.WrapAudit(hclog.NewNullLogger())

	// ... vfs.New(vfs.Config{Audit: audit, ...}), sshd.New(...), ...
	audit.Info("transfer", "direction", "upload", "session", "ssh-1", "bytes", int64(4096), "result", "ok")
	if err := m.Watch(metrics.Sources{Staging: func() vfs.BufferStats { return vfs.BufferStats{Max: 64 << 20} }}); err != nil {
		fmt.Println(err)
	}

	// stop, err := m.Serve("127.0.0.1:9101")
	mfs, _ := m.Registry().Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "sluice_transfer_bytes") || mf.GetName() == "sluice_staging_max_bytes" {
			for _, s := range mf.GetMetric() {
				v := s.GetGauge().GetValue() + s.GetCounter().GetValue()
				if v == 0 {
					continue
				}
				var labels []string
				for _, l := range s.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				fmt.Println(mf.GetName(), labels, v)
			}
		}
	}
	// Output:
	// sluice_staging_max_bytes [] 6.7108864e+07
	// sluice_transfer_bytes_total [direction=upload front_end=ssh] 4096
}
