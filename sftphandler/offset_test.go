package sftphandler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// READ and WRITE offsets are uint64 on the wire; the serve loop (as
// pkg/sftp did) hands them to ReaderAt/WriterAt as int64, so offsets of
// 2^63 and more arrive negative. A panic there could end the whole
// process, every session with it. So the scenario runs in a child process
// and the parent reports a crash as a failure instead of crashing the
// test binary.

const childEnv = "SFTPHANDLER_TEST_CHILD"

// inChild runs the calling test's scenario in a child process (the same
// test binary) and fails with its output if the child fails or crashes.
// It reports true in the child, where the caller runs the scenario.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Keep the panic and the first frames; drop debug logs.
		var keep [][]byte
		for _, l := range bytes.Split(out, []byte("\n")) {
			if !bytes.Contains(l, []byte("[DEBUG]")) && !bytes.Contains(l, []byte("[INFO]")) {
				keep = append(keep, l)
			}
		}
		if len(keep) > 40 {
			keep = keep[:40]
		}
		t.Errorf("child process failed (%v):\n%s", err, bytes.Join(keep, []byte("\n")))
	}
	return false
}

func TestReadHugeOffset(t *testing.T) {
	if !inChild(t) {
		return
	}
	e := newEnv(t, 1<<20)
	writeHost(t, e.dsk, "f.bin", []byte("0123456789"))
	staged(t, e.mem, "f.bin", []byte("0123456789"))
	c := startConn(t, e, supervisor(), Options{})
	c.put("/tst/up.bin", pattern(100, 1))
	for _, p := range []string{"/dsk/f.bin", "/mem/f.bin", "/tst/100", "/tst/up.bin"} {
		h := c.mustOpen(p, fxfRead)
		for _, off := range []uint64{1 << 63, 1<<64 - 10, 1<<64 - 1} {
			r := c.read(h, off, 10)
			// The manual has FAILURE "Unable to seek offset in file" and
			// EOF "Offset not supported"; any refusal will do, DATA will
			// not.
			if r.typ != fxpStatus || (r.code != fxEOF && r.code != fxFailure) {
				t.Errorf("READ %s at %#x: got %s, want EOF or FAILURE", p, off, r)
			}
		}
		expectStatus(t, "CLOSE", c.close(h), fxOK, "File/Dir closed OK")
	}
}

func TestWriteHugeOffset(t *testing.T) {
	if !inChild(t) {
		return
	}
	e := newEnv(t, 1<<20)
	c := startConn(t, e, supervisor(), Options{})
	for _, p := range []string{"/dsk/w.bin", "/mem/w.bin", "/tst/w.bin"} {
		h := c.mustOpen(p, fxfWrite|openCreat)
		for _, off := range []uint64{1 << 63, 1<<64 - 10, 1<<64 - 1} {
			if r := c.write(h, off, []byte("0123456789")); r.typ != fxpStatus {
				t.Errorf("WRITE %s at %#x: got %s, want STATUS", p, off, r)
			}
		}
		// A size of 2^63 arrives as a negative int64.
		if r := c.do(fxpFsetstat, h, attrsSize(1<<63)); r.typ != fxpStatus || r.code != fxFailure {
			t.Errorf("FSETSTAT %s size 2^63: got %s, want FAILURE", p, r)
		}
		c.close(h)
		if r := c.do(fxpStat, p); r.typ == fxpAttrs && r.attrs.size >= 1<<63 {
			t.Errorf("STAT %s after huge WRITE/FSETSTAT: size %#x", p, r.attrs.size)
		}
	}
	// A huge offset alone (no FSETSTAT) fails the upload for good: CLOSE
	// does not commit the bytes written before it, the old file stays.
	writeHost(t, e.dsk, "old.bin", []byte("old"))
	for _, off := range []uint64{1 << 63, 1<<64 - 1} {
		h := c.mustOpen("/dsk/old.bin", fxfWrite|openCreat|openTrunc)
		expectStatus(t, "WRITE", c.write(h, 0, []byte("new")), fxOK, "Write file OK")
		if r := c.write(h, off, []byte("x")); r.typ != fxpStatus || r.code == fxOK {
			t.Errorf("WRITE at %#x: got %s, want a refusal", off, r)
		}
		if r := c.close(h); r.code == fxOK {
			t.Errorf("CLOSE after a WRITE at %#x: got %s, want the upload's failure", off, r)
		}
		if got, _ := os.ReadFile(filepath.Join(e.dsk, "old.bin")); string(got) != "old" {
			t.Errorf("old.bin after a WRITE at %#x and CLOSE: %q, want %q", off, got, "old")
		}
	}
}
