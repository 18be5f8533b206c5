// Package metrics provides sluice's Prometheus metrics: sessions, logins,
// transfers, bytes, commits and bans, counted from the audit events the
// front ends and vfs already write (so no front end knows about metrics),
// and gauges read at scrape time from the staging buffer and the session
// limiter.
//
// The metrics live in a registry of their own (no package-level state):
// New builds one, WrapAudit puts the counting in front of the audit logger
// (before the components that audit exist), Watch adds the gauges (once
// they do), Serve exposes /metrics on a loopback address.
package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sluice/sluice/vfs"
)

// Sources are the callbacks read at each scrape. A nil callback leaves
// its gauges out.
type Sources struct {
	// Staging returns the staging buffer's counters (vfs.FS.BufferStats).
	Staging func() vfs.BufferStats
	// Sessions returns the session slots held and the limit
	// (policy.SessionLimiter.Active); both front ends share them.
	Sessions func() (n, max int)
	// Bans returns the number of sources banned now
	// (len(policy.Defender.Bans())).
	Bans func() int
}

// Metrics is one registry of sluice metrics. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	sessions      *prometheus.GaugeVec   // front_end
	logins        *prometheus.CounterVec // front_end, result
	transfers     *prometheus.CounterVec // front_end, direction, result
	transferBytes *prometheus.CounterVec // front_end, direction
	commits       *prometheus.CounterVec // front_end, result
	bans          prometheus.Counter

	open openSessions
}

// Label values. Results are folded into a fixed set so that no client can
// grow the number of series (an error text never becomes a label).
const (
	frontSSH     = "ssh"
	frontFTP     = "ftp"
	frontUnknown = "unknown"

	resultOK      = "ok"
	resultFailed  = "failed"
	resultAborted = "aborted"
	resultCut     = "cut"
)

// New returns the metrics, registered with the Go runtime and process
// collectors (resident memory matters for a bounded server).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_sessions",
			Help: "Logged-in sessions open now, by front end (from the audit session start and end events).",
		}, []string{"front_end"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_logins_total",
			Help: "Login attempts evaluated, by front end and result (ok, failed).",
		}, []string{"front_end", "result"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_transfers_total",
			Help: "File transfers finished, by front end, direction (upload, download) and result (ok, failed, aborted, cut).",
		}, []string{"front_end", "direction", "result"}),
		transferBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_transfer_bytes_total",
			Help: "File bytes moved by finished transfers, by front end and direction (upload = in, download = out).",
		}, []string{"front_end", "direction"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_commits_total",
			Help: "Commits from the staging buffer, by front end and result (ok, failed).",
		}, []string{"front_end", "result"}),
		bans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_bans_total",
			Help: "Sources banned by the per-source penalties.",
		}),
	}
	m.reg.MustRegister(m.sessions, m.logins, m.transfers, m.transferBytes, m.commits, m.bans,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Start the counters most dashboards divide by at zero, so that a
	// rate exists before the first event.
	for _, fe := range []string{frontSSH, frontFTP} {
		m.sessions.WithLabelValues(fe)
		m.logins.WithLabelValues(fe, resultOK)
		m.logins.WithLabelValues(fe, resultFailed)
		m.commits.WithLabelValues(fe, resultOK)
		m.commits.WithLabelValues(fe, resultFailed)
		for _, dir := range []string{"upload", "download"} {
			m.transfers.WithLabelValues(fe, dir, resultOK)
			m.transferBytes.WithLabelValues(fe, dir)
		}
	}
	return m
}

// Watch adds the gauges read from s at each scrape. Call it once, after
// New, before serving; a second call for the same gauges is an error.
func (m *Metrics) Watch(s Sources) error {
	var cs []prometheus.Collector
	if f := s.Staging; f != nil {
		gauge := func(name, help string, v func(vfs.BufferStats) int64) {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return float64(v(f())) }))
		}
		gauge("sluice_staging_max_bytes", "Size of the staging buffer /mem ([mem] max_bytes, the manual's MAX).",
			func(st vfs.BufferStats) int64 { return st.Max })
		gauge("sluice_staging_allocated_bytes", "Bytes the staging buffer has taken from the system (the manual's REQ).",
			func(st vfs.BufferStats) int64 { return st.Req })
		gauge("sluice_staging_used_bytes", "Bytes held by staged files (the manual's BUSY).",
			func(st vfs.BufferStats) int64 { return st.Busy })
	}
	if f := s.Sessions; f != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_session_slots_used",
				Help: "Session slots held now, both front ends ([limits] max_sessions)."},
				func() float64 { n, _ := f(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_session_slots_max",
				Help: "Session slots allowed ([limits] max_sessions)."},
				func() float64 { _, max := f(); return float64(max) }))
	}
	if f := s.Bans; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_bans_active",
			Help: "Sources banned now."}, func() float64 { return float64(f()) }))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// Registry returns the registry, to gather from in tests or to add
// collectors to before serving.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the /metrics handler in the Prometheus text and
// protobuf formats. A collector that fails (the process collector under
// systemd's ProcSubset=pid cannot read /proc/stat) leaves its metrics out
// instead of failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
