package ftpgateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/vfs"
)

// auditBuf collects JSON log lines.
type auditBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (a *auditBuf) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.b.Write(p)
}

// events returns the audit events with message msg.
func (a *auditBuf) events(msg string) []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(a.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil && e["@module"] == "audit" && e["@message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// wait returns the first event msg, waiting for it up to testTimeout.
func (a *auditBuf) wait(t *testing.T, msg string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); ; {
		if ev := a.events(msg); len(ev) > 0 {
			return ev[0]
		}
		if time.Now().After(deadline) {
			a.mu.Lock()
			defer a.mu.Unlock()
			t.Fatalf("no audit event %q in:\n%s", msg, a.b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newAuditEnv(t *testing.T) (*tEnv, *auditBuf) {
	t.Helper()
	a := &auditBuf{}
	log := hclog.New(&hclog.LoggerOptions{Output: a, JSONFormat: true, Level: hclog.Info})
	return newTestEnv(t, tOpts{logger: log}), a
}

// TestAuditSessionEnd: every logged-in session has one session end, with
// how it ended and duration_ms, and the same ftp-N session id as its
// login and session start.
func TestAuditSessionEnd(t *testing.T) {
	tests := []struct {
		name string
		end  func(c *tCtl)
		how  string
	}{
		{"quit", func(c *tCtl) { c.want("QUIT", "221 Goodbye.") }, "quit"},
		{"rein", func(c *tCtl) { c.wantCode("REIN", 220) }, "rein"},
		{"dropped", func(c *tCtl) { c.conn.Close() }, "dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, a := newAuditEnv(t)
			c := e.login(t, "guest")
			tt.end(c)
			end := a.wait(t, "session end")
			if end["how"] != tt.how {
				t.Errorf("session end: got how %v, want %q", end["how"], tt.how)
			}
			if _, ok := end["duration_ms"].(float64); !ok {
				t.Errorf("session end: got duration_ms %#v, want a number", end["duration_ms"])
			}
			id, _ := end["session"].(string)
			if !strings.HasPrefix(id, "ftp-") {
				t.Errorf("session end: got session %q, want ftp-N", id)
			}
			for _, msg := range []string{"login", "session start"} {
				if ev := a.events(msg); len(ev) != 1 || ev[0]["session"] != id {
					t.Errorf("%s: got %v, want one event with session %q", msg, ev, id)
				}
			}
			if n := len(a.events("session end")); n != 1 {
				t.Errorf("got %d session end events, want 1", n)
			}
		})
	}
}

// TestAuditSiteCheck: a change of the session's checks is audited with
// the user, the command and the new set; a guest's supervisor command is
// a refusal at warn with the reply it got.
func TestAuditSiteCheck(t *testing.T) {
	e, a := newAuditEnv(t)
	c := e.login(t, "root")
	c.want("SITE CHECK ALL ON", "200 CHECK ALL control is set to ON.")
	c.want("SITE CHECK ALL OFF", "200 CHECK ALL control is set to OFF.")
	a.wait(t, "checks changed")
	evs := a.events("checks changed")
	if len(evs) != 2 {
		t.Fatalf("got %d checks changed events, want 2", len(evs))
	}
	if on := evs[0]["checks"]; on != (image.CheckAll &^ image.CheckSignature).String() {
		t.Errorf("SITE CHECK ALL ON: got checks %v", on)
	}
	ev := evs[1]
	want := map[string]any{"user": "root", "command": "SITE CHECK ALL OFF", "checks": "none", "previous": evs[0]["checks"]}
	for k, w := range want {
		if ev[k] != w {
			t.Errorf("checks changed: got %s=%v, want %v", k, ev[k], w)
		}
	}

	g := e.login(t, "guest")
	r := g.cmd("SITE CHECK CRC ON")
	ref := a.wait(t, "refused")
	if ref["@level"] != "warn" || ref["user"] != "guest" || ref["op"] != "SITE CHECK" || ref["text"] != r.String() {
		t.Errorf("refused: got %v, want warn, guest, SITE CHECK, text %q", ref, r.String())
	}
}

// TestAuditText: the audit's text of a refusal is the reply the client
// gets.
func TestAuditText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want reply
	}{
		{"denied", &vfs.Error{Kind: vfs.KindDenied, Op: "open"}, replyDenied},
		{"active application", &vfs.Error{Kind: vfs.KindDenied, Op: "remove", Err: vfs.ErrActiveApp}, replyDeleFailed},
		{"bad crc", &vfs.Error{Kind: vfs.KindCheck, Op: "rename",
			Err: &image.CheckError{Check: image.CheckCRC, Reason: image.ReasonCRC}}, replyCheckCRC},
		{"commit failed", &vfs.Error{Kind: vfs.KindIO, Op: "rename", Err: errors.New("disk")}, replyRntoFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auditText(tt.err); got != string(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
