package integration

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/image"
)

// -update rewrites the golden transcripts under testdata/ with what the
// server answers now (review the diff by eye against the manual).
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the server's replies")

// TestFTPLibReplies drives the gateway with Python's ftplib
// (testdata/ftplib_replies.py) through every SITE command, TEST mode,
// STAT, FEAT, HELP and the errors of manual §1.4, and compares the exact
// reply lines with testdata/ftp_replies.golden.
func TestFTPLibReplies(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3")
	// A legal notice (issue 10 item 9) as 220- lines before the greeting.
	banner := writeFile(t, t.TempDir(), "banner.txt", []byte("Authorised access only.\nActivity is logged.\n"))
	s := newFTPServer(t, "[limits]\nlogin_fail_delay = \"300ms\"\n[ftp]\nbanner = \""+banner+"\"\n")
	dir := t.TempDir()
	img := writeFile(t, dir, "os_file.bin", deviceImage(t, "11.7.3", 7))
	// For COHERENCE (manual §3.6): a newer application that requires
	// DSP.BFW 1.3, that firmware at 1.2, and at 1.3 with a bad CRC.
	app2 := writeFile(t, dir, "app2.bin", buildImage(t, image.BuildOptions{Kind: image.KindApplication, Name: "OS_FILE.BIN",
		Version: version(t, "11.8"), Firmware: []image.FirmwareReq{{Name: "DSP.BFW", MinVersion: version(t, "1.3")}}}, 8))
	fwOld := writeFile(t, dir, "fw_old.bfw", buildImage(t, image.BuildOptions{Kind: image.KindFirmware, Name: "DSP.BFW",
		Version: version(t, "1.2")}, 9))
	bad := buildImage(t, image.BuildOptions{Kind: image.KindFirmware, Name: "DSP.BFW", Version: version(t, "1.3")}, 10)
	bad[image.HeaderSize+100] ^= 0x5a
	fwBad := writeFile(t, dir, "fw_bad.bfw", bad)
	script, err := filepath.Abs(filepath.Join("testdata", "ftplib_replies.py"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := tool(t, dir, "", python, script, "127.0.0.1", s.ftpPort(), s.password, img, app2, fwOld, fwBad)
	if r.exit != 0 {
		t.Fatalf("ftplib_replies.py:\n%s", r)
	}
	t.Logf("ftplib transcript in %v", time.Since(start).Round(time.Millisecond))
	got := r.stdout
	if strings.Contains(got, s.password) {
		t.Error("the transcript shows the password")
	}
	golden := filepath.Join("testdata", "ftp_replies.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if prelim150(got) != prelim150(string(want)) {
		t.Errorf("replies differ from %s (-want +got):\n%s", golden, lineDiff(string(want), got))
	}
}

// lineDiff is a small line diff for golden files: the lines of want and
// got that differ, by a longest common subsequence.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+" + b[j] + "\n")
			j++
		default:
			out.WriteString("-" + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
