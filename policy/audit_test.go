package policy

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditFile: [audit] file is optional; a relative path is under
// data_dir; an unknown key in the table is an error.
func TestAuditFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		toml    string
		want    string
		wantErr string
	}{
		{"absent", "", "", ""},
		{"absolute", "[audit]\nfile = \"/var/log/sluice/audit.json\"\n", "/var/log/sluice/audit.json", ""},
		{"relative", "data_dir = \"d\"\n[audit]\nfile = \"audit.json\"\n", filepath.Join(dir, "d", "audit.json"), ""},
		{"unknown key", "[audit]\npath = \"x\"\n", "", "sluice.toml:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(filepath.Join(dir, "sluice.toml"), []byte(tt.toml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Audit.File != tt.want {
				t.Errorf("got file %q, want %q", c.Audit.File, tt.want)
			}
		})
	}
}
