package vfs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
)

// TestVerdictLog: each user keeps the newest VerdictsKept verdicts,
// oldest first; only check refusals and accepted commits are verdicts.
func TestVerdictLog(t *testing.T) {
	var f FS
	root := &Session{User: &policy.User{Name: "root"}, ID: "ssh-1"}
	op := &Session{User: &policy.User{Name: "op"}, ID: "ftp-2"}
	crc := newErr(KindCheck, "rename", "/dsk/OS_FILE.BIN", &image.CheckError{Check: image.CheckCRC, Reason: image.ReasonCRC})
	f.verdictRefused(root, "rename", "/mem/a.bin", "/dsk/OS_FILE.BIN", crc)
	f.verdictRefused(root, "rename", "/mem/a.bin", "/dsk/OS_FILE.BIN", newErr(KindDenied, "rename", "/dsk/x", errors.New("policy")))
	f.verdictRefused(nil, "rename", "", "/dsk/x", crc)
	got := f.Verdicts(root)
	if len(got) != 1 || got[0].OK || got[0].Check != "CRC" || got[0].Text != "Bad crc of checked file" ||
		got[0].Session != "ssh-1" || got[0].Source != "/mem/a.bin" {
		t.Fatalf("after a CRC refusal and a policy refusal: %+v, want the CRC verdict only", got)
	}
	if v := f.Verdicts(op); len(v) != 0 {
		t.Errorf("op sees %+v, want none of root's", v)
	}
	for i := range VerdictsKept + 5 {
		f.verdictOK(root, "copy", fmt.Sprintf("/mem/%d", i), "/dsk/x", "crc,length")
	}
	got = f.Verdicts(root)
	if len(got) != VerdictsKept || got[0].Source != "/mem/5" || got[len(got)-1].Source != fmt.Sprintf("/mem/%d", VerdictsKept+4) ||
		!got[0].OK || got[0].Check != "CRC,LENGTH" {
		t.Errorf("after %d more: %d verdicts, first %+v, last %+v", VerdictsKept+5, len(got), got[0], got[len(got)-1])
	}
	if v := f.Verdicts(nil); v != nil {
		t.Errorf("Verdicts(nil) = %v", v)
	}
}
