package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBanner: [ftp] banner is read at load (relative to the configuration
// file), and a file that cannot be a pre-login greeting is an error with
// the key's line.
func TestBanner(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.txt", "Authorised access only.\r\n\tLogged.\n\n")
	write("ctl.txt", "line one\nbell \a here\n")
	write("bin.txt", "\xff\xfe")
	write("long.txt", strings.Repeat("x\n", maxBannerLines+1))
	write("big.txt", strings.Repeat("x", maxBannerBytes+1))
	cfg := filepath.Join(dir, "sluice.toml")

	c, err := Parse(cfg, []byte("[ftp]\nbanner = \"ok.txt\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.FTP.BannerLines, "|"); got != "Authorised access only.| Logged." {
		t.Errorf("BannerLines: got %q", c.FTP.BannerLines)
	}
	for file, want := range map[string]string{
		"missing.txt": "no such file",
		"ctl.txt":     "ctl.txt:2: control character U+0007",
		"bin.txt":     "not UTF-8",
		"long.txt":    "more than 50 lines",
		"big.txt":     "more than 8192 bytes",
	} {
		_, err := Parse(cfg, []byte("[ftp]\n\nbanner = \""+file+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), "sluice.toml:3: ftp.banner") || !strings.Contains(err.Error(), want) {
			t.Errorf("banner = %q: got %v, want sluice.toml:3: ftp.banner ... %s", file, err, want)
		}
	}
}
