package vfs

import (
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
)

// verifyChecks are the checks that verify a file (as opposed to the
// actions PATH, RENAME, DELETE, SYSTEM). With any of them on, known files
// reach dsk/bio only through a verified commit.
const verifyChecks = image.CheckBIOS | image.CheckCRC | image.CheckFirmware | image.CheckHardware |
	image.CheckHWSupported | image.CheckLength | image.CheckProfile | image.CheckUnknown |
	image.CheckVersion | image.CheckSignature

// checked reports whether writing name to m must go through the checks:
// a known file (.BIN/.BFW) on a host-backed file system.
func (f *FS) checked(s *Session, m *mount, name string) bool {
	return m.kind == kindHost && f.checksFor(s)&verifyChecks != 0 && image.IsKnownName(name)
}

// errTargetPath is the refusal of a direct write of a known file (manual
// §1.7 OPEN, §4.6): it must be staged in /mem and renamed. The bytes are
// not read yet: a .BFW name is firmware, a .BIN one BIOS or application.
func errTargetPath(op, p, name string) error {
	var k image.Kind
	if strings.HasSuffix(strings.ToUpper(name), ".BFW") {
		k = image.KindFirmware
	}
	return newErr(KindCheck, op, p, &image.CheckError{Check: image.CheckPath, Reason: image.ReasonTargetPath, Kind: k,
		Detail: "known file written directly; stage it in /mem and rename"})
}

// errAltFS refuses a commit of an image of kind k that PATH redirects to
// a file system that is not mounted (or not visible to the user).
func errAltFS(k image.Kind, fs string) error {
	return &image.CheckError{Check: image.CheckPath, Reason: image.ReasonAltFS, Kind: k,
		Detail: "PATH sends the file to /" + fs + ", which is not mounted"}
}

// ErrActiveApp refuses to delete the active boot application (unless
// checks.allow_delete_active).
var ErrActiveApp = errors.New("the active boot application cannot be deleted")

// ErrCheckSource wraps a failure to read or re-read the source while
// checking it ("Unable to check source file").
var ErrCheckSource = errors.New("unable to check source file")

// verifiedRename is Rename for a known target on a checked file system.
// The checks run on the source bytes before anything touches the target;
// then PATH may redirect the target (BIOS to /bio, the rest to /dsk) and
// RENAME may take the imprinted name; then the bytes are written once,
// hashed in the same pass, checked again (CRC, signature), and committed
// atomically with the device state. A failure leaves source and target
// as they were. The caller has done the policy checks on both paths and
// holds nothing.
func (f *FS) verifiedRename(s *Session, sm *mount, sname string, dm *mount, dname, from, to string, keep bool) (Result, error) {
	start := time.Now()
	on := f.checksFor(s)
	checksRun := "none"
	fail := func(err error) (Result, error) {
		args := append(auditSession(s), "source", from, "target", to, "checks", checksRun,
			"result", err.Error(), "detail", checkDetail(err), "duration_ms", durationMS(time.Since(start)))
		f.audit.Warn("commit", append(args, refusalFields(s, err)...)...)
		f.verdictRefused(s, commitOp(keep), from, to, err)
		return 0, err
	}
	release, err := f.enter(sm, "rename", from)
	if err != nil {
		return fail(sided(err, SideSource))
	}
	defer release()
	unlock, err := f.lockWriter(sm, sname, "rename", from)
	if err != nil {
		return fail(sided(err, SideSource))
	}
	defer unlock()
	r, err := f.openReader(sm, sname, from)
	if err != nil {
		return fail(sided(err, SideSource))
	}
	defer r.close()

	im, err := image.Precheck(r.ra, r.size, dname, f.Device(), f.state, on)
	if im != nil {
		checksRun = image.Evaluated(im.Kind, on).String()
	}
	if err != nil {
		var ce *image.CheckError
		if errors.As(err, &ce) {
			return fail(newErr(KindCheck, "rename", to, err))
		}
		return fail(sided(newErr(KindIO, "rename", from, errors.Join(ErrCheckSource, err)), SideSource))
	}

	// PATH and RENAME (manual §2.1.4.9, §2.1.4.11).
	tm, tname := dm, dname
	if im != nil && on&image.CheckPath != 0 {
		m, ok := f.mounts[image.TargetFS(im)]
		if !ok || m.kind != kindHost || !s.User.Sees(m.name) {
			// The manual's "530 Alternate file system not loaded.": the
			// file belongs on a file system that is not there.
			return fail(newErr(KindCheck, "rename", to, errAltFS(im.Kind, image.TargetFS(im))))
		}
		tm = m
	}
	if im != nil && on&image.CheckRename != 0 && im.Name != "" {
		tname = im.Name
	}
	target := join(tm.name, tname)
	if tm != dm {
		for _, op := range []policy.Op{policy.OpRename, policy.OpCommit} {
			if err := f.allow(s, op, tm.name, target, "rename"); err != nil {
				return fail(sided(err, SideTarget))
			}
		}
	}
	if tm == sm && tname == sname {
		return fail(newErr(KindIdentical, "rename", target, nil))
	}
	if keep && tm == sm {
		return fail(newErr(KindUnsupported, "copy", target, errors.New("copy within a file system")))
	}
	if tm != sm {
		releaseT, err := f.enter(tm, "rename", target)
		if err != nil {
			return fail(sided(err, SideTarget))
		}
		defer releaseT()
	}
	unlockT, err := f.lockWriter(tm, tname, "rename", target)
	if err != nil {
		return fail(sided(err, SideTarget))
	}
	defer unlockT()

	d := im.NewDigest()
	var res Result
	if tm == sm {
		// Same file system: verify in place, then rename; no copy.
		res = Renamed
		if _, err := copyFrom(d, r); err != nil {
			return fail(sided(newErr(KindIO, "rename", from, errors.Join(ErrCheckSource, err)), SideSource))
		}
		if err := f.postcheck(im, d, "rename", target, on); err != nil {
			return fail(err)
		}
		err = f.recordCommit(tm.host.dir+"/"+tname, d.FileSHA256(), im, func() error {
			f.fault(StageSynced)
			return tm.host.rename(sname, tname)
		})
		if err != nil {
			return fail(sided(ioErr("rename", from, err), SideSource))
		}
	} else {
		res = Moved
		d, err = f.writeCommit(s, tm, tname, target, r, im, func(d *image.Digest) error {
			return f.postcheck(im, d, "rename", target, on)
		})
		if err != nil {
			return fail(err)
		}
		if !keep {
			f.removeSource(sm, sname, from)
		}
	}
	sum := d.FileSHA256()
	f.audit.Info("commit", append(auditSession(s), "source", from, "target", target, "checks", checksRun,
		"bytes", r.size, "sha256", hex.EncodeToString(sum[:]), "duration_ms", durationMS(time.Since(start)),
		"result", "ok")...)
	f.verdictOK(s, commitOp(keep), from, target, checksRun)
	return res, nil
}

// commitOp names a verified commit in its verdict.
func commitOp(keep bool) string {
	if keep {
		return "copy"
	}
	return "rename"
}

func (f *FS) postcheck(im *image.Image, d *image.Digest, op, target string, on image.Check) error {
	if err := image.Postcheck(im, d, f.Device(), on); err != nil {
		var ce *image.CheckError
		if errors.As(err, &ce) {
			return newErr(KindCheck, op, target, err)
		}
		return sided(newErr(KindIO, op, target, errors.Join(ErrCheckSource, err)), SideSource)
	}
	return nil
}

// recordCommit runs commit (which makes the target the new bytes)
// between the two writes of the device state, for a known file.
func (f *FS) recordCommit(hostPath string, sum [32]byte, im *image.Image, commit func() error) error {
	if im == nil {
		return commit()
	}
	p, err := f.state.begin(hostPath, sum, im)
	if err != nil {
		return err
	}
	if err := commit(); err != nil {
		_ = f.state.finish(p, false)
		return err
	}
	if err := f.state.finish(p, true); err != nil {
		// The target is committed; the pending record is resolved at the
		// next start.
		f.log.Error("cannot update device state", "error", err)
	}
	return nil
}

func checkDetail(err error) string {
	var ce *image.CheckError
	if errors.As(err, &ce) {
		return ce.Detail
	}
	return ""
}

// isActiveApp reports whether the host file is the active boot
// application, by its imprinted name.
func (f *FS) isActiveApp(m *mount, name string) bool {
	if !image.IsKnownName(name) {
		return false
	}
	file, err := m.host.open(name)
	if err != nil {
		return false
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return false
	}
	im, err := image.Parse(file, fi.Size())
	return err == nil && im.Kind == image.KindApplication && f.state.isActive(im.Name)
}

// Verify runs the checks on a file as if it were about to be committed
// under its own name, without committing it: the FTP gateway checks a
// known file as soon as it is staged (manual §5.1.6). A file that is not
// known, or with no verifying check on, passes.
// A check that refuses the file is audited ("refused", at warn).
func (f *FS) Verify(s *Session, p string) error {
	return f.refused(s, f.verify(s, p))
}

func (f *FS) verify(s *Session, p string) error {
	m, name, err := f.resolve(s, "verify", p)
	if err != nil {
		return err
	}
	on := f.checksFor(s)
	if m == nil || name == "" || on&verifyChecks == 0 || !image.IsKnownName(name) {
		return nil
	}
	if err := f.allow(s, policy.OpRead, m.name, p, "verify"); err != nil {
		return err
	}
	r, err := f.openReader(m, name, p)
	if err != nil {
		return err
	}
	defer r.close()
	im, err := image.Precheck(r.ra, r.size, name, f.Device(), f.state, on)
	if err != nil {
		var ce *image.CheckError
		if errors.As(err, &ce) {
			return newErr(KindCheck, "verify", p, err)
		}
		return newErr(KindIO, "verify", p, errors.Join(ErrCheckSource, err))
	}
	d := im.NewDigest()
	if _, err := copyFrom(d, r); err != nil {
		return newErr(KindIO, "verify", p, errors.Join(ErrCheckSource, err))
	}
	return f.postcheck(im, d, "verify", p, on)
}
