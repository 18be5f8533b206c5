package vfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice/sluice/image"
)

// FuzzLoadState feeds arbitrary device-state files to loadState, as a
// damaged or hand-edited data directory would at start-up. It must
// return a state or an error, never panic; a state it returns answers
// Stored and ActiveApp. The seeds are the files sluice writes.
func FuzzLoadState(f *testing.F) {
	for _, s := range []string{
		`{"newest":{}}`,
		`{"newest":{"application/OS_FILE.BIN":"11.7.3","bios/BIOS.BIN":"2.1"},"active_app":{"name":"OS_FILE.BIN","version":"11.7.3","firmware":[{"name":"DSP.BFW","min_version":"1.2"}]},"seq":4}`,
		`{"newest":{},"pending_commits":{"/x/dsk/OS_FILE.BIN":{"seq":1,"target":"/x/dsk/OS_FILE.BIN","sha256":"00","kind":"application","name":"OS_FILE.BIN","version":"1.0","app":{"name":"OS_FILE.BIN","version":"1.0"}}},"seq":1}`,
		`{"newest":null,"pending":{"seq":0,"target":"","sha256":"","kind":"bios","name":"B.BIN","version":"x"}}`,
		`{"newest":{"bogus":"1..2"},"active_app":null}`,
		`{"pending_commits":{"/x/dsk/A.BIN":null,"/x/dsk/B.BIN":null}}`, // panicked at start-up
		`{}`, `null`, ``, `[`, `{"newest":7}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "device-state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := loadState(path, nil)
		if err != nil {
			return
		}
		s.Stored(image.KindApplication, "OS_FILE.BIN")
		s.ActiveApp()
		s.isActive("OS_FILE.BIN")
	})
}
