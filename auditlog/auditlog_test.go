package auditlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// jsonLines reads a file of JSON lines.
func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestFileReopen: the file is created 0600 and appended to; after a
// rename (logrotate), Reopen creates a new one and writes go there; a
// Reopen that fails keeps the old file.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.json")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != Mode {
		t.Fatalf("mode: got %v (%v), want %v", fi.Mode().Perm(), err, os.FileMode(Mode))
	}
	log := New(hclog.LoggerOptions{Name: "sluice", Output: &bytes.Buffer{}}, f)
	log.Info("one", "session", "ssh-1")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("two") // still to the renamed file
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Warn("three")

	tests := []struct {
		name string
		path string
		want []string
	}{
		{"rotated", p + ".1", []string{"one", "two"}},
		{"new", p, []string{"three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range jsonLines(t, tt.path) {
				got = append(got, e["@message"].(string))
				if e["@module"] != "sluice.audit" {
					t.Errorf("got @module %v, want sluice.audit", e["@module"])
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// A reopen that cannot open the path keeps writing to the old file.
	if err := os.Rename(p, filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o700); err != nil { // the path cannot be opened, even by root
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil {
		t.Error("Reopen of a directory: got nil, want an error")
	}
	log.Info("four")
	if got := jsonLines(t, filepath.Join(dir, "gone")); len(got) != 2 || got[1]["@message"] != "four" {
		t.Errorf("after a failed Reopen: got %v, want three, four", got)
	}
}

// TestNewLevels: the log gets what its level lets through, the file
// every event at info and above; an event's fields are in both.
func TestNewLevels(t *testing.T) {
	var logBuf, fileBuf syncBuffer
	log := New(hclog.LoggerOptions{Name: "sluice", Level: hclog.Warn, Output: &logBuf, JSONFormat: true}, &fileBuf)
	log.Info("session start", "session", "ftp-1", "duration_ms", int64(12))
	log.Warn("refused", "check", "crc")
	log.Debug("never")
	if s := logBuf.String(); strings.Contains(s, "session start") || !strings.Contains(s, `"check":"crc"`) {
		t.Errorf("log: got %q, want only the warn event", s)
	}
	f := fileBuf.String()
	for _, want := range []string{`"@message":"session start"`, `"duration_ms":12`, `"session":"ftp-1"`, `"@message":"refused"`} {
		if !strings.Contains(f, want) {
			t.Errorf("file lacks %s:\n%s", want, f)
		}
	}
	if strings.Contains(f, "never") {
		t.Errorf("file has a debug event:\n%s", f)
	}
	// Without a file, New is the named logger alone.
	var only bytes.Buffer
	New(hclog.LoggerOptions{Output: &only}, nil).Info("x")
	if !strings.Contains(only.String(), "audit: x") {
		t.Errorf("no file: got %q, want an audit: x line", only.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
