package metrics

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluice/sluice/vfs"
)

// value returns the value of the series name{labels}, or -1 when there
// is none.
func value(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			if len(s.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range s.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			return metricValue(s)
		}
	}
	return -1
}

func metricValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	}
	return -1
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "audit", Output: testWriter{t}, Level: hclog.Trace})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// event is one audit call as the call sites make it.
type event struct {
	warn bool
	msg  string
	args []interface{}
}

func TestWrapAuditCounts(t *testing.T) {
	ssh := "127.0.0.1:40001"
	ftp := "127.0.0.1:40002"
	login := func(remote, method string) event {
		return event{msg: "login", args: []interface{}{"user", "root", "remote_addr", remote, "method", method}}
	}
	sess := func(msg, remote, id string) event {
		return event{msg: msg, args: []interface{}{"user", "root", "session", id, "remote_addr", remote}}
	}
	xfer := func(id, dir string, n int64, result ...string) event {
		args := []interface{}{"direction", dir, "user", "root", "session", id, "path", "/mem/A.BIN", "bytes", n}
		if len(result) > 0 {
			args = append(args, "result", result[0])
		}
		return event{msg: "transfer", args: args}
	}
	commit := func(id, result string) event {
		return event{msg: "commit", args: []interface{}{"user", "root", "session", id, "result", result}}
	}
	type want struct {
		name   string
		labels []string
		v      float64
	}
	tests := []struct {
		name   string
		events []event
		want   []want
	}{
		{
			name: "logins by front end and result",
			events: []event{
				login(ssh, "publickey"), login(ssh, "password"), login(ftp, "ftp-password"),
				{msg: "login failed", args: []interface{}{"user", "x", "remote_addr", ssh, "method", "password", "key_fingerprint", ""}},
				{msg: "login failed", args: []interface{}{"user", "x", "remote_addr", ftp, "method", "ftp-password"}},
				{msg: "login failed", args: []interface{}{"user", "x", "remote_addr", ftp, "method", "ftp-password"}},
				// A session id, when there is one, names the front end.
				{msg: "login failed", args: []interface{}{"user", "x", "session", "ssh-4", "method", "none"}},
				{msg: "login", args: []interface{}{"user", "x", "session", "ftp-5"}},
			},
			want: []want{
				{"sluice_logins_total", []string{"front_end", "ssh", "result", "ok"}, 2},
				{"sluice_logins_total", []string{"front_end", "ftp", "result", "ok"}, 2},
				{"sluice_logins_total", []string{"front_end", "ssh", "result", "failed"}, 2},
				{"sluice_logins_total", []string{"front_end", "ftp", "result", "failed"}, 2},
			},
		},
		{
			name: "sessions from prefixed ids",
			events: []event{
				sess("session start", ssh, "ssh-1"), sess("session start", ftp, "ftp-2"),
				sess("session start", "127.0.0.1:40003", "ftp-3"), sess("session end", ftp, "ftp-2"),
			},
			want: []want{
				{"sluice_sessions", []string{"front_end", "ssh"}, 1},
				{"sluice_sessions", []string{"front_end", "ftp"}, 1},
			},
		},
		{
			name: "a bare session id takes the front end of its login",
			events: []event{
				login(ssh, "publickey"), sess("session start", ssh, "1"),
				login(ftp, "ftp-password"), sess("session start", ftp, "1"),
				sess("session end", ssh, "1"),
			},
			want: []want{
				{"sluice_sessions", []string{"front_end", "ssh"}, 0},
				{"sluice_sessions", []string{"front_end", "ftp"}, 1},
			},
		},
		{
			name: "a repeated or unmatched session end does not go below zero",
			events: []event{
				sess("session start", ftp, "ftp-1"), sess("session end", ftp, "ftp-1"),
				sess("session end", ftp, "ftp-1"), sess("session end", ssh, "ssh-9"),
				sess("session start", ftp, "ftp-4"), sess("session start", ftp, "ftp-4"),
			},
			want: []want{
				{"sluice_sessions", []string{"front_end", "ftp"}, 1},
				{"sluice_sessions", []string{"front_end", "ssh"}, 0},
			},
		},
		{
			name: "transfers and bytes by direction and result",
			events: []event{
				xfer("ssh-1", "upload", 1000, "ok"),
				xfer("ssh-1", "upload", 24, "cut, kept incomplete"),
				xfer("ftp-2", "upload", 7, "aborted"),
				xfer("ftp-2", "upload", 3, "No space left on staging buffer"),
				xfer("ssh-1", "download", 4096),
				xfer("ftp-2", "download", 10, "ok"),
				xfer("ftp-2", "sideways", 99, "ok"),
			},
			want: []want{
				{"sluice_transfers_total", []string{"front_end", "ssh", "direction", "upload", "result", "ok"}, 1},
				{"sluice_transfers_total", []string{"front_end", "ssh", "direction", "upload", "result", "cut"}, 1},
				{"sluice_transfers_total", []string{"front_end", "ftp", "direction", "upload", "result", "aborted"}, 1},
				{"sluice_transfers_total", []string{"front_end", "ftp", "direction", "upload", "result", "failed"}, 1},
				{"sluice_transfers_total", []string{"front_end", "ssh", "direction", "download", "result", "ok"}, 1},
				{"sluice_transfers_total", []string{"front_end", "ftp", "direction", "download", "result", "ok"}, 1},
				{"sluice_transfer_bytes_total", []string{"front_end", "ssh", "direction", "upload"}, 1024},
				{"sluice_transfer_bytes_total", []string{"front_end", "ftp", "direction", "upload"}, 10},
				{"sluice_transfer_bytes_total", []string{"front_end", "ssh", "direction", "download"}, 4096},
				{"sluice_transfer_bytes_total", []string{"front_end", "ftp", "direction", "download"}, 10},
				{"sluice_transfers_total", []string{"front_end", "ftp", "direction", "sideways", "result", "ok"}, -1},
			},
		},
		{
			name: "commits ok and failed, texts folded",
			events: []event{
				commit("ssh-1", "ok"), commit("ssh-1", "Bad crc of checked file"),
				commit("ftp-2", "Application older than the one stored"),
				{msg: "rename", args: []interface{}{"session", "ssh-1", "result", "ok"}},
			},
			want: []want{
				{"sluice_commits_total", []string{"front_end", "ssh", "result", "ok"}, 1},
				{"sluice_commits_total", []string{"front_end", "ssh", "result", "failed"}, 1},
				{"sluice_commits_total", []string{"front_end", "ftp", "result", "failed"}, 1},
				{"sluice_commits_total", []string{"front_end", "ftp", "result", "ok"}, 0},
			},
		},
		{
			name: "bans, at warn",
			events: []event{
				{warn: true, msg: "ban", args: []interface{}{"source", "192.0.2.1", "count", 1, "reason", "password"}},
				{warn: true, msg: "ban", args: []interface{}{"source", "192.0.2.2", "count", 1, "reason", "password"}},
			},
			want: []want{{"sluice_bans_total", nil, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			l := m.WrapAudit(testLogger(t))
			for _, e := range tt.events {
				if e.warn {
					l.Warn(e.msg, e.args...)
				} else {
					l.Info(e.msg, e.args...)
				}
			}
			for _, w := range tt.want {
				if got := value(t, m, w.name, w.labels...); got != w.v {
					t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.v)
				}
			}
		})
	}
}

func TestWrapAuditForwardsAndDerives(t *testing.T) {
	var buf bytes.Buffer
	base := hclog.New(&hclog.LoggerOptions{Name: "audit", Output: &buf, Level: hclog.Info})
	m := New()
	l := m.WrapAudit(base)
	l.Info("login", "user", "root", "remote_addr", "127.0.0.1:1", "method", "publickey")
	if !strings.Contains(buf.String(), "audit: login: user=root") {
		t.Errorf("log = %q, want the login line forwarded", buf.String())
	}
	if got := l.Name(); got != "audit" {
		t.Errorf("Name() = %q, want audit", got)
	}

	// Fields from With count like the call's own; Named keeps counting;
	// Log and the other levels count too.
	w := l.Named("vfs").With("session", "ftp-7", "direction", "upload")
	w.Log(hclog.Info, "transfer", "bytes", int64(5), "result", "ok")
	w.Debug("transfer", "bytes", 6, "result", "ok")
	l.ResetNamed("x").Error("ban", "source", "192.0.2.9")
	// A logger that shows only errors: the events are still counted.
	base.SetLevel(hclog.Error)
	l.Info("login failed", "user", "root", "method", "ftp-password")
	l.Trace("commit", "session", "ssh-3", "result", "ok")
	if line := "audit.vfs: transfer: direction=upload session=ftp-7 bytes=5"; !strings.Contains(buf.String(), line) {
		t.Errorf("log = %q, want the With fields in the transfer line", buf.String())
	}
	for _, c := range []struct {
		name   string
		labels []string
		v      float64
	}{
		{"sluice_transfers_total", []string{"front_end", "ftp", "direction", "upload", "result", "ok"}, 2},
		{"sluice_transfer_bytes_total", []string{"front_end", "ftp", "direction", "upload"}, 11},
		{"sluice_bans_total", nil, 1},
		{"sluice_logins_total", []string{"front_end", "ftp", "result", "failed"}, 1},
		{"sluice_commits_total", []string{"front_end", "ssh", "result", "ok"}, 1},
	} {
		if got := value(t, m, c.name, c.labels...); got != c.v {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.v)
		}
	}
}

func TestGaugeCallbacks(t *testing.T) {
	st := vfs.BufferStats{Max: 64 << 20, Req: 3 << 20, Busy: 2 << 20}
	m := New()
	if err := m.Watch(Sources{
		Staging:  func() vfs.BufferStats { return st },
		Sessions: func() (int, int) { return 3, 16 },
		Bans:     func() int { return 2 },
	}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if err := m.Watch(Sources{Bans: func() int { return 0 }}); err == nil {
		t.Error("a second Watch of the same gauge succeeded, want an error")
	}
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"sluice_staging_max_bytes", 64 << 20},
		{"sluice_staging_allocated_bytes", 3 << 20},
		{"sluice_staging_used_bytes", 2 << 20},
		{"sluice_session_slots_used", 3},
		{"sluice_session_slots_max", 16},
		{"sluice_bans_active", 2},
	} {
		if got := value(t, m, c.name); got != c.v {
			t.Errorf("%s = %v, want %v", c.name, got, c.v)
		}
	}
	st.Busy = 0 // read at each scrape
	if got := value(t, m, "sluice_staging_used_bytes"); got != 0 {
		t.Errorf("sluice_staging_used_bytes after release = %v, want 0", got)
	}
	if got := value(t, New(), "sluice_staging_max_bytes"); got != -1 {
		t.Errorf("without a Staging callback: sluice_staging_max_bytes = %v, want no series", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		name, addr string
		ok         bool
	}{
		{"ipv4 loopback", "127.0.0.1:9101", true},
		{"other ipv4 loopback", "127.0.0.2:0", true},
		{"ipv6 loopback", "[::1]:9101", true},
		{"localhost", "localhost:9101", true},
		{"all addresses", "0.0.0.0:9101", false},
		{"empty host", ":9101", false},
		{"public address", "192.0.2.1:9101", false},
		{"name", "example.com:9101", false},
		{"no port", "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLoopback(tt.addr)
			if (err == nil) != tt.ok {
				t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
		})
	}
}

func TestServe(t *testing.T) {
	m := New()
	if err := m.Watch(Sources{Staging: func() vfs.BufferStats { return vfs.BufferStats{Max: 1024} }}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Serve("0.0.0.0:0"); err == nil {
		t.Fatal("Serve(0.0.0.0:0) succeeded, want a loopback refusal")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := m.ServeListener(l)
	m.WrapAudit(hclog.NewNullLogger()).Info("ban", "source", "192.0.2.1")
	resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sluice_bans_total 1\n", "sluice_staging_max_bytes 1024\n",
		`sluice_logins_total{front_end="ssh",result="ok"} 0`, "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if resp, err := http.Post("http://"+l.Addr().String()+"/metrics", "text/plain", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /metrics = %d, want 405", resp.StatusCode)
		}
	}
	stop()
	if _, err := http.Get("http://" + l.Addr().String() + "/metrics"); err == nil {
		t.Error("GET after stop succeeded, want the listener closed")
	}

	stop, err = m.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Serve(127.0.0.1:0) = %v", err)
	}
	stop()
}
