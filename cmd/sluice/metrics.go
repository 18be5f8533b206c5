package main

import (
	"fmt"
	"net"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/metrics"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// newMetrics returns the metrics for --metrics-addr addr, nil when addr
// is empty (metrics off, the default), and the audit logger to build the
// components with: audit itself, or audit counting into the metrics. A
// non-loopback address is refused here, so that the flag can be checked
// before any first-run side effect.
func newMetrics(addr string, audit hclog.Logger) (*metrics.Metrics, hclog.Logger, error) {
	if addr == "" {
		return nil, audit, nil
	}
	if err := metrics.CheckLoopback(addr); err != nil {
		return nil, nil, usageError{fmt.Errorf("--metrics-addr: %w", err)}
	}
	m := metrics.New()
	return m, m.WrapAudit(audit), nil
}

// startMetrics adds the gauges read from the staging buffer, the session
// limiter and the penalties (each may be nil), and serves /metrics on
// addr until stop is called. With m nil it does nothing.
func startMetrics(m *metrics.Metrics, addr string, tree *vfs.FS, sessions *policy.SessionLimiter,
	defender *policy.Defender, log hclog.Logger) (stop func(), err error) {
	if m == nil {
		return func() {}, nil
	}
	var src metrics.Sources
	if tree != nil {
		src.Staging = tree.BufferStats
	}
	if sessions != nil {
		src.Sessions = sessions.Active
	}
	if defender != nil {
		src.Bans = func() int { return len(defender.Bans()) }
	}
	if err := m.Watch(src); err != nil {
		return nil, err
	}
	if err := metrics.CheckLoopback(addr); err != nil {
		return nil, usageError{fmt.Errorf("--metrics-addr: %w", err)}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	log.Info("metrics listening", "addr", l.Addr().String(), "path", "/metrics")
	return m.ServeListener(l), nil
}
