package integration

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/image"
)

// deviceImage builds an application image that the first run's device
// identity accepts (hardware id 1, level 1, BIOS 1.0, profile STD).
func deviceImage(t *testing.T, version string, seed uint64) []byte {
	t.Helper()
	v, err := image.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Build(image.BuildOptions{Kind: image.KindApplication, Name: "OS_FILE.BIN", Version: v,
		HWLevel: 1, MinBIOS: image.Version{Major: 1}, HardwareIDs: []uint32{1}, Profile: "STD"},
		randomBytes(3<<20+77, seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildImage builds an image of o for the first run's device identity
// (hardware id 1, level 1, BIOS 1.0, profile STD) with 64 KiB of payload.
func buildImage(t *testing.T, o image.BuildOptions, seed uint64) []byte {
	t.Helper()
	o.HWLevel, o.MinBIOS, o.HardwareIDs, o.Profile = 1, image.Version{Major: 1}, []uint32{1}, "STD"
	b, err := image.Build(o, randomBytes(64<<10, seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// version parses a version for a test image.
func version(t *testing.T, s string) image.Version {
	t.Helper()
	v, err := image.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOpenSSHVerifiedCommit: a good image commits with real sftp; a bad-CRC
// image is refused and /dsk is byte-identical afterwards.
func TestOpenSSHVerifiedCommit(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	dir := t.TempDir()
	good := deviceImage(t, "11.7.3", 1)
	bad := append([]byte(nil), good...)
	bad[image.HeaderSize+1000] ^= 0x55
	writeFile(t, dir, "os_file.bin", good)
	writeFile(t, dir, "corrupt.bin", bad)

	r := s.sftpBatch(t, dir, "put os_file.bin /mem/os_file.bin\nrename /mem/os_file.bin /dsk/os_file.bin\nls -l /dsk\n")
	if r.exit != 0 {
		t.Fatalf("good image:\n%s", r)
	}
	dsk := filepath.Join(s.data, "dsk")
	if got := fileSHA256(t, filepath.Join(dsk, "OS_FILE.BIN")); got != sha256.Sum256(good) {
		t.Fatal("committed image differs (RENAME takes the imprinted name OS_FILE.BIN)")
	}
	before := dirSnapshot(t, dsk)
	r = s.sftpBatch(t, dir, "put corrupt.bin /mem/corrupt.bin\nrename /mem/corrupt.bin /dsk/os_file.bin\n")
	if r.exit == 0 {
		t.Fatalf("bad-CRC image: sftp exited 0, want the rename refused\n%s", r)
	}
	if !strings.Contains(r.stderr, "Failure") {
		t.Errorf("sftp stderr: got %q, want the FAILURE status", r.stderr)
	}
	if after := dirSnapshot(t, dsk); !reflect.DeepEqual(after, before) {
		t.Errorf("/dsk changed after a refused commit:\nbefore %v\nafter  %v", before, after)
	}
	if _, ok := s.waitEvent(5*time.Second, "commit", map[string]string{"source": "/mem/corrupt.bin"}); !ok {
		t.Error("no audit event for the refused commit")
	}
	// OpenSSH sftp shows only "Failure"; the verdict is in /verdicts.txt
	// and the device state in /state.txt (docs/sftp.md, "Verdicts and
	// device state"), read with get.
	r = s.sftpBatch(t, dir, "get /verdicts.txt verdicts.txt\nget /state.txt state.txt\n")
	if r.exit != 0 {
		t.Fatalf("get /verdicts.txt /state.txt:\n%s", r)
	}
	verdicts := readFile(t, dir, "verdicts.txt")
	lines := strings.Split(strings.TrimSuffix(verdicts, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "\trename\t/mem/os_file.bin\t/dsk/OS_FILE.BIN\tok\t") ||
		!strings.HasSuffix(lines[1], "\trename\t/mem/corrupt.bin\t/dsk/os_file.bin\trefused\tCRC\tBad crc of checked file") {
		t.Errorf("verdicts.txt: got\n%s\nwant the accepted commit, then the refused one with CRC and the manual's text", verdicts)
	}
	if st := readFile(t, dir, "state.txt"); !strings.Contains(st, "active\tOS_FILE.BIN\t11.7.3\n") ||
		!strings.Contains(st, "committed\tapplication\tOS_FILE.BIN\t11.7.3\n") ||
		!strings.Contains(st, "staged\t/mem/corrupt.bin\t") {
		t.Errorf("state.txt: got\n%s\nwant the active application, its committed version and the refused file still staged", st)
	}
	// A direct upload of a known file is refused too.
	r = s.sftpBatch(t, dir, "put os_file.bin /dsk/direct.bin\n")
	if r.exit == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("direct put of a known file: got\n%s\nwant permission denied", r)
	}
}

type deviceStateFile struct {
	Newest  map[string]string         `json:"newest"`
	Active  *struct{ Version string } `json:"active_app"`
	Pending any                       `json:"pending_commits"`
}

// TestCrashDuringVerifiedCommit kills the server inside a checked commit
// (part of the data written, temporary file fsynced, renamed) and checks
// that after a restart the target is the old or the new image and the
// device state agrees with it.
func TestCrashDuringVerifiedCommit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		stage   string
		wantNew bool
	}{{"partial", false}, {"synced", false}, {"renamed", true}} {
		t.Run(tt.stage, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, "")
			old, next := deviceImage(t, "1.0.0", 30), deviceImage(t, "2.0.0", 31)
			c := s.sftpClient(t)
			if err := upload(c, "/mem/a.bin", old); err != nil {
				t.Fatal(err)
			}
			if err := c.Rename("/mem/a.bin", "/dsk/OS_FILE.BIN"); err != nil {
				t.Fatalf("commit old: %v", err)
			}
			c.Close()
			s.stop()

			s.startEnv([]string{"SLUICE_FAULT_STAGE=" + tt.stage})
			c = s.sftpClient(t)
			if err := upload(c, "/mem/b.bin", next); err != nil {
				t.Fatal(err)
			}
			if err := c.Rename("/mem/b.bin", "/dsk/OS_FILE.BIN"); err == nil {
				t.Errorf("rename: got OK, want the server killed at %s", tt.stage)
			}
			if exited, _ := s.waitExit(10 * time.Second); !exited {
				t.Fatalf("server still running after the commit reached %s", tt.stage)
			}
			s.start()
			canon := func(v string) string { x, _ := image.ParseVersion(v); return x.String() }
			want, wantVersion := old, canon("1.0.0")
			if tt.wantNew {
				want, wantVersion = next, canon("2.0.0")
			}
			target := filepath.Join(s.data, "dsk", "OS_FILE.BIN")
			if got := fileSHA256(t, target); got != sha256.Sum256(want) {
				t.Errorf("target after a crash at %s: not the %s image", tt.stage, wantVersion)
			}
			if temps := tempFiles(t, filepath.Join(s.data, "dsk")); len(temps) != 0 {
				t.Errorf("temporary files after restart: %v", temps)
			}
			raw, err := os.ReadFile(filepath.Join(s.data, "device-state.json"))
			if err != nil {
				t.Fatal(err)
			}
			var st deviceStateFile
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Newest["application/OS_FILE.BIN"]; got != wantVersion || st.Pending != nil ||
				st.Active == nil || st.Active.Version != wantVersion {
				t.Errorf("device state after a crash at %s: got %s, want version %s everywhere, no pending", tt.stage, raw, wantVersion)
			}
		})
	}
}

// TestChecksAllWithoutTrustedKeys (issue 10 item 2): with
// [checks] enabled = ["all", "no crc"] and no trusted key, serve starts,
// logs that SIGNATURE is off, and a good unsigned image commits with
// real sftp.
func TestChecksAllWithoutTrustedKeys(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newServer(t, "[checks]\nenabled = [\"all\", \"no crc\"]\n")
	if _, ok := s.waitEvent(5*time.Second, "signature check off: no device.trusted_keys configured", nil); !ok {
		t.Errorf("no warning that SIGNATURE is off; log:\n%s", s.proc.log.tail(20))
	}
	e, ok := s.waitEvent(5*time.Second, "image checks", nil)
	if !ok || strings.Contains(e.str("on"), "signature") || strings.Contains(e.str("on"), "crc") || !strings.Contains(e.str("on"), "length") {
		t.Errorf("image checks logged as %q, want all but signature and crc", e.str("on"))
	}
	dir := t.TempDir()
	writeFile(t, dir, "os_file.bin", deviceImage(t, "11.7.3", 3))
	if r := s.sftpBatch(t, dir, "put os_file.bin /mem/os_file.bin\nrename /mem/os_file.bin /dsk/os_file.bin\n"); r.exit != 0 {
		t.Fatalf("commit of an unsigned image:\n%s", r)
	}
}

// TestImageCheckCommand runs `sluice image check` through the binary on
// the data directory of a running server: a good image is accepted (exit
// 0), a bad-CRC one refused (exit 1) with the manual's text, in the table
// and with --json, and a commit over SFTP agrees with it.
func TestImageCheckCommand(t *testing.T) {
	t.Parallel()
	s := newServer(t, "")
	dir := t.TempDir()
	good := deviceImage(t, "11.7.3", 21)
	bad := append([]byte(nil), good...)
	bad[image.HeaderSize+500] ^= 0x11
	gp, bp := writeFile(t, dir, "os_file.bin", good), writeFile(t, dir, "bad.bin", bad)

	out, stderr, err := runSluice(t, "image", "check", "--data", s.data, "--name", "OS_FILE.BIN", gp)
	if err != nil || !strings.Contains(out, "verdict  accepted: a commit would store it") {
		t.Errorf("image check of a good image: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = runSluice(t, "image", "check", "--data", s.data, "--name", "OS_FILE.BIN", bp)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "verdict  refused: Bad crc of checked file") {
		t.Errorf("image check of a bad-CRC image: %v, want exit status 1 and the manual's text\n%s%s", err, out, stderr)
	}
	out, _, _ = runSluice(t, "image", "check", "--json", "--data", s.data, "--name", "OS_FILE.BIN", bp)
	var r struct{ Verdict, Detail string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Verdict != "refused" || !strings.HasPrefix(r.Detail, "Bad crc of checked file") {
		t.Errorf("image check --json: %+v, %v\n%s", r, err, out)
	}
	// The server agrees: the same bytes are refused by a commit.
	c := s.sftpClient(t)
	if err := upload(c, "/mem/bad.bin", bad); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("/mem/bad.bin", "/dsk/OS_FILE.BIN"); err == nil {
		t.Error("the server committed the image that image check refused")
	}
}
