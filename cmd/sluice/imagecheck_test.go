package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
	"golang.org/x/crypto/ssh"
)

// checkDataDir is a data directory with a device identity and one
// trusted key, in trusted_keys_dir; it returns the signing key.
func checkDataDir(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "release.pub"), ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `[device]
system_id = "SLUICE"
hardware_id = 1
hw_level = 1
bios_version = "1.0"
profile = "STD"
trusted_keys_dir = "keys"
`
	if err := os.WriteFile(filepath.Join(dir, "sluice.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, priv
}

func buildTestImage(t *testing.T, version string, key ed25519.PrivateKey) []byte {
	t.Helper()
	v, err := image.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Build(image.BuildOptions{Kind: image.KindApplication, Name: "OS_FILE.BIN", Version: v, HWLevel: 1,
		HardwareIDs: []uint32{1}, Profile: "STD", SignKey: key}, bytes.Repeat([]byte("payload "), 1000))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realCommit stages data in /mem and renames it into /dsk through a device
// tree on dir, as a server would: the real commit path.
func realCommit(t *testing.T, dir, name string, data []byte) error {
	t.Helper()
	cfg, err := policy.LoadWith(filepath.Join(dir, "sluice.toml"), policy.Overrides{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	store, err := mem.New(mem.Config{MaxBytes: cfg.Mem.MaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := vfs.New(vfs.Config{Mounts: cfg.Mounts, Mem: store, NameMax: cfg.Names.MaxLen,
		Checks: cfg.Checks.On, Device: cfg.ImageDevice(), StatePath: filepath.Join(cfg.DataDir, "device-state.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	s := &vfs.Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "test-1"}
	if err := stageFile(tree, s, "/mem/"+name, data); err != nil {
		t.Fatal(err)
	}
	_, err = tree.Rename(s, "/mem/"+name, "/dsk/"+name)
	return err
}

// dataSnapshot is every file under dir with its contents.
func dataSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImageCheckMatchesCommit: for a good, an older, a bad-CRC and an
// unsigned image, `sluice image check` gives the verdict a real commit
// gives (accepted, or refused with the same check's manual text and
// detail), and changes nothing in the data directory.
func TestImageCheckMatchesCommit(t *testing.T) {
	dir, key := checkDataDir(t)
	good := buildTestImage(t, "2.0.0", key)
	badCRC := bytes.Clone(good)
	badCRC[image.HeaderSize+10] ^= 0xff // a payload byte
	tests := []struct {
		name  string
		data  []byte
		check image.Check // the refusing check; 0: accepted
	}{
		{"good", good, 0},
		{"older than the committed one", buildTestImage(t, "1.0.0", key), image.CheckVersion},
		{"bad crc", badCRC, image.CheckCRC},
		{"unsigned", buildTestImage(t, "3.0.0", nil), image.CheckSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "OS_FILE.BIN")
			if err := os.WriteFile(file, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			before := dataSnapshot(t, dir)
			var out bytes.Buffer
			checkErr := imageCheck([]string{"--data", dir, file}, &out)
			t.Logf("sluice image check:\n%s", out.String())
			if after := dataSnapshot(t, dir); len(after) != len(before) {
				t.Errorf("image check changed the data directory: %d files, then %d", len(before), len(after))
			} else {
				for p, b := range before {
					if after[p] != b {
						t.Errorf("image check changed %s", p)
					}
				}
			}
			verdict := ""
			for _, l := range strings.Split(out.String(), "\n") {
				if v, ok := strings.CutPrefix(l, "verdict  "); ok {
					verdict = v
				}
			}

			commitErr := realCommit(t, dir, "OS_FILE.BIN", tt.data)
			var ce *image.CheckError
			switch {
			case tt.check == 0:
				if commitErr != nil || checkErr != nil {
					t.Fatalf("commit: %v; image check: %v; want both to accept", commitErr, checkErr)
				}
				if !strings.HasPrefix(verdict, "accepted") {
					t.Errorf("verdict %q, want accepted", verdict)
				}
			case !errors.As(commitErr, &ce) || ce.Check != tt.check:
				t.Fatalf("commit: %v; want refused by %v", commitErr, tt.check)
			default:
				if !errors.Is(checkErr, errRefused) {
					t.Errorf("image check: %v, want errRefused", checkErr)
				}
				want := "refused: " + ce.Error() + " (" + ce.Detail + ")"
				if verdict != want {
					t.Errorf("verdict %q, want the commit's %q", verdict, want)
				}
				row := tt.check.String() + " "
				for _, l := range strings.Split(out.String(), "\n") {
					if strings.HasPrefix(l, row) && !strings.Contains(l, "refused  "+ce.Error()) {
						t.Errorf("row %q, want %s refused with %q", l, tt.check, ce.Error())
					}
				}
			}
		})
	}
}

// TestImageCheckRows: every check has a row; checks off, or not for this
// kind of file, say so; a name that is not a known file passes.
func TestImageCheckRows(t *testing.T) {
	dir, key := checkDataDir(t)
	file := filepath.Join(t.TempDir(), "OS_FILE.BIN")
	if err := os.WriteFile(file, buildTestImage(t, "2.0.0", key), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := imageCheck([]string{file, "--data", dir}, &out); err != nil {
		t.Fatalf("image check: %v\n%s", err, out.String())
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			rows[f[0]] = f[1]
		}
	}
	for _, ck := range checkOrder {
		want := "ok"
		switch ck {
		case image.CheckFirmware:
			want = "n/a" // an application
		}
		if got := rows[ck.String()]; got != want {
			t.Errorf("row %s: got %q, want %q", ck, got, want)
		}
	}
	if rows["path"] != "action" || rows["rename"] != "action" {
		t.Errorf("rows path, rename: got %q, %q, want action", rows["path"], rows["rename"])
	}

	out.Reset()
	if err := imageCheck([]string{"--data", dir, "--name", "notes.txt", file}, &out); err != nil {
		t.Errorf("image check --name notes.txt: %v, want accepted (not a known file)", err)
	}
	if !strings.Contains(out.String(), "crc      n/a") && !strings.Contains(out.String(), "n/a") {
		t.Errorf("image check --name notes.txt:\n%s\nwant the checks n/a", out.String())
	}

	for _, args := range [][]string{{"--data", dir}, {"--data", dir, file, file}, {"--data", dir, "--name", "a/b", file}} {
		var ue usageError
		if err := imageCheck(args, &out); !errors.As(err, &ue) {
			t.Errorf("image check %q: %v, want a usage error", args, err)
		}
	}
}

// TestImageCheckJSON: --json gives the same verdicts as the table, as one
// JSON object, for an accepted and a refused (bad CRC) image.
func TestImageCheckJSON(t *testing.T) {
	dir, key := checkDataDir(t)
	good := buildTestImage(t, "2.0.0", key)
	bad := bytes.Clone(good)
	bad[image.HeaderSize+10] ^= 0xff
	for _, tt := range []struct {
		name    string
		data    []byte
		verdict string
		crc     string
	}{{"good", good, "accepted", "ok"}, {"bad crc", bad, "refused", "refused"}} {
		file := filepath.Join(t.TempDir(), "OS_FILE.BIN")
		if err := os.WriteFile(file, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err := imageCheck([]string{"--json", "--data", dir, file}, &out)
		if (tt.verdict == "refused") != errors.Is(err, errRefused) {
			t.Errorf("%s: %v", tt.name, err)
		}
		var r checkResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%s: not one JSON object: %v\n%s", tt.name, err, out.String())
		}
		if r.Verdict != tt.verdict || r.Image == nil || r.Image.Name != "OS_FILE.BIN" || r.Image.Version != "2.0" || !r.Known || !r.Valid {
			t.Errorf("%s: %+v", tt.name, r)
		}
		crc := ""
		for _, row := range r.Checks {
			if row.Check == "crc" {
				crc = row.Verdict
			}
		}
		if crc != tt.crc {
			t.Errorf("%s: crc row %q, want %q", tt.name, crc, tt.crc)
		}
		if tt.verdict == "refused" && r.Detail != "Bad crc of checked file" && !strings.HasPrefix(r.Detail, "Bad crc of checked file") {
			t.Errorf("%s: detail %q", tt.name, r.Detail)
		}
	}
}
