package integration

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/image"
)

// TestFTPSecureDownload is the manual's secure download (§3.5) end to
// end over FTP: a good image is STORed (secure mode: to the staging
// buffer) and committed with SITE SAVEBUFFER into DATA/dsk/OS_FILE.BIN; a
// bad-CRC image is refused with 536 and DATA/dsk is unchanged; in DIRECT
// ON mode a bad image STORed straight to /dsk is refused with the check's
// reply and the old file stays intact, while a good newer one replaces it.
func TestFTPSecureDownload(t *testing.T) {
	t.Parallel()
	s := newFTPServer(t, "")
	dsk := filepath.Join(s.data, "dsk")
	target := filepath.Join(dsk, "OS_FILE.BIN")
	good := deviceImage(t, "11.7.3", 1)
	bad := append([]byte(nil), good...)
	bad[image.HeaderSize+1000] ^= 0x55 // payload CRC no longer matches

	c := s.login(t)
	c.cmdExpect("TYPE I", 200)

	// 1. Good image, secure mode.
	c.cmdExpect("CWD dsk", 250)
	prelim, final := c.storePrelim("STOR os_file.bin", good)
	oneLine(t, "STOR os_file.bin (preliminary)", prelim, "150 Data connection open, checked file transfer in process...")
	oneLine(t, "STOR os_file.bin", final, fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(good)))
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("after a secure-mode STOR, DATA/dsk/OS_FILE.BIN exists (stat: %v); want it only staged", err)
	}
	st := c.cmd("SITE STATBUFFER")
	if len(st) != 1 || !strings.HasPrefix(st[0], "211 Buffer status: MAX-REQ-BUSY 268435456-") ||
		!strings.HasSuffix(st[0], fmt.Sprintf("-%d filename: \"os_file.bin\".", len(good))) {
		t.Errorf("SITE STATBUFFER: got %q, want 211 with BUSY %d and the staged name", st, len(good))
	}
	oneLine(t, "SITE STOREDEVICE", c.cmd("SITE STOREDEVICE"), "211 DSK: is permanent storage device, direct mode is OFF.")
	oneLine(t, "SITE SAVEBUFFER (good)", c.cmd("SITE SAVEBUFFER"), "200 SAVEBUFFER completed O.K.")
	if got := fileSHA256(t, target); got != sha256.Sum256(good) {
		t.Fatal("DATA/dsk/OS_FILE.BIN differs from the image sent")
	}
	oneLine(t, "SITE GETAPPNAME", c.cmd("SITE GETAPPNAME"), "204 OS_FILE.BIN")
	oneLine(t, "SITE GETFILEVER", c.cmd("SITE GETFILEVER OS_FILE.BIN"), "214 11.7.3")

	// 2. Bad-CRC image, secure mode: refused with 536, /dsk unchanged.
	before := dirSnapshot(t, dsk)
	beforeSum := fileSHA256(t, target)
	_, final = c.storePrelim("STOR os_file.bin", bad)
	const crc536 = "536 Received checked file with bad checksum."
	switch {
	case len(final) == 1 && final[0] == crc536:
		// Checked at STOR time (manual §5.1.6: the buffer is deleted).
		oneLine(t, "SITE SAVEBUFFER after a refused STOR", c.cmd("SITE SAVEBUFFER"), "503 No Temporal buffer present.")
	case len(final) == 1 && strings.HasPrefix(final[0], "226 "):
		oneLine(t, "SITE SAVEBUFFER (bad CRC)", c.cmd("SITE SAVEBUFFER"), crc536)
		if _, ok := s.proc.log.wait(5*time.Second, func(e event) bool {
			return e.matches("commit", map[string]string{"source": "/mem/os_file.bin"}) &&
				strings.Contains(e.str("result"), "Bad crc of checked file")
		}); !ok {
			t.Error("no audit event for the refused commit")
		}
	default:
		t.Errorf("STOR of a bad-CRC image: got %q, want 226 (then 536 at SAVEBUFFER) or %q", final, crc536)
	}
	if after := dirSnapshot(t, dsk); !reflect.DeepEqual(after, before) {
		t.Errorf("DATA/dsk changed after a refused commit:\nbefore %v\nafter  %v", before, after)
	}
	if fileSHA256(t, target) != beforeSum {
		t.Error("DATA/dsk/OS_FILE.BIN changed after a refused commit")
	}

	// 3. DIRECT ON: a bad image straight to /dsk is refused with the
	// check's reply; the old file stays intact and nothing is left over.
	oneLine(t, "SITE CLEARBUFFER or empty", []string{clearOrEmpty(c)}, "ok")
	oneLine(t, "SITE DIRECT ON", c.cmd("SITE DIRECT ON"), "200 DIRECT is set to ON.")
	oneLine(t, "SITE STOREDEVICE (direct)", c.cmd("SITE STOREDEVICE"), "211 DSK: is permanent storage device, direct mode is ON.")
	prelim, final = c.storePrelim("STOR os_file.bin", bad)
	oneLine(t, "DIRECT ON STOR (preliminary)", prelim, "150 Data connection open, checked file transfer in process...")
	oneLine(t, "DIRECT ON STOR of a bad-CRC image", final, crc536)
	if after := dirSnapshot(t, dsk); !reflect.DeepEqual(after, before) {
		t.Errorf("DATA/dsk changed after a refused DIRECT ON STOR:\nbefore %v\nafter  %v", before, after)
	}
	if fileSHA256(t, target) != beforeSum {
		t.Error("DATA/dsk/OS_FILE.BIN changed after a refused DIRECT ON STOR")
	}
	st = c.cmd("SITE STATBUFFER")
	if len(st) != 1 || !strings.HasSuffix(st[0], `filename: "".`) {
		t.Errorf("SITE STATBUFFER after a refused DIRECT ON STOR: got %q, want the buffer empty", st)
	}

	// An older version is refused too (VERSION check), with the manual's 503.
	older := deviceImage(t, "11.7.2", 2)
	oneLine(t, "DIRECT ON STOR of an older image", c.store("STOR os_file.bin", older), "503 Application older than the one stored.")
	if fileSHA256(t, target) != beforeSum {
		t.Error("DATA/dsk/OS_FILE.BIN changed after a refused older image")
	}

	// A good newer image in DIRECT ON replaces the old one at once.
	newer := deviceImage(t, "11.7.4", 3)
	oneLine(t, "DIRECT ON STOR of a newer image", c.store("STOR os_file.bin", newer),
		fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(newer)))
	if got := fileSHA256(t, target); got != sha256.Sum256(newer) {
		t.Error("DIRECT ON STOR of a good image: DATA/dsk/OS_FILE.BIN is not the new image")
	}
	oneLine(t, "SITE GETFILEVER (newer)", c.cmd("SITE GETFILEVER OS_FILE.BIN"), "214 11.7.4")
	c.cmdExpect("QUIT", 221)
}

// clearOrEmpty empties the session's staging buffer (a file left by a
// refused SAVEBUFFER, if any) and reports "ok" when the reply is one of
// the manual's two.
func clearOrEmpty(c *ctl) string {
	c.t.Helper()
	l := c.cmd("SITE CLEARBUFFER")
	switch {
	case len(l) != 1:
	case l[0] == "211 Temporal buffer cleared and deallocated.", l[0] == "503 No Temporal buffer present.",
		l[0] == "503 No Temporal buffer present.":
		return "ok"
	}
	return strings.Join(l, "\n")
}
