package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// errRefused is returned (exit status 1) when a commit of the file would
// be refused; the reason is printed, with each check's verdict.
var errRefused = errors.New("a commit would refuse this file")

// checkOrder is the order the checks are shown in: the order Precheck
// and Postcheck evaluate them, so that the first refusal shown is the
// one a commit reports.
var checkOrder = []image.Check{image.CheckUnknown, image.CheckLength, image.CheckCRC, image.CheckSignature,
	image.CheckHardware, image.CheckHWSupported, image.CheckBIOS, image.CheckProfile, image.CheckVersion,
	image.CheckFirmware}

// imageCheck runs "sluice image check FILE": the checks a commit of FILE
// would run, against this device's identity, trusted keys (trusted_keys
// and trusted_keys_dir) and device state, without uploading it.
//
// The file goes through the commit path's own verification (vfs.Verify,
// which runs image.Precheck and image.Postcheck as a commit does) in a
// private staging buffer and tree with no host file system, over a copy
// of the device-state file: nothing in the data directory is touched,
// and a server running on it is not disturbed. Each check is also run on
// its own, so that every verdict is shown, not only the first refusal.
func imageCheck(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image check", flag.ContinueOnError)
	var c common
	c.register(fs)
	as := fs.String("name", "", "name the file would be stored under (default: FILE's base name); only .BIN and .BFW names are checked")
	asJSON := fs.Bool("json", false, "print one JSON object (file, image, device, checks, verdict) instead of the table")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: sluice image check [--config FILE] [--data DIR] [--name NAME] [--json] FILE")}
	}
	var o policy.Overrides
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			o.DataDir = c.data
		}
	})
	cfg, err := policy.LoadWith(c.configPath(), o)
	if err != nil {
		return usageError{err}
	}
	path := pos[0]
	name := *as
	if name == "" {
		name = filepath.Base(path)
	}
	if err := vfs.ValidateName(name, cfg.Names.MaxLen); err != nil {
		return usageError{fmt.Errorf("image check: name %q: %w", name, err)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("image check: %w", err)
	}

	tree, cleanup, err := checkTree(cfg, int64(len(data)))
	if err != nil {
		return fmt.Errorf("image check: %w", err)
	}
	defer cleanup()
	sess := &vfs.Session{User: &policy.User{Name: "image-check", Level: policy.Supervisor}, ID: "image-check"}
	staged := vfs.StagingPath(name)
	if err := stageFile(tree, sess, staged, data); err != nil {
		return fmt.Errorf("image check: %w", err)
	}

	dev := cfg.ImageDevice()
	on := cfg.Checks.On
	res := checkResult{File: path, Bytes: len(data), StoredAs: name, Checks: []checkRow{}}
	jsonOut := stdout
	if *asJSON {
		stdout = io.Discard // the table is not printed; res is
	}
	fmt.Fprintf(stdout, "file     %s (%d bytes), stored as %s\n", path, len(data), name)
	im, parseErr := image.Parse(bytes.NewReader(data), int64(len(data)))
	switch {
	case !image.IsKnownName(name):
		fmt.Fprintln(stdout, "image    not a known file (.BIN or .BFW): no check applies")
	case parseErr != nil:
		fmt.Fprintf(stdout, "image    not a valid image: %v\n", parseErr)
	default:
		fmt.Fprintf(stdout, "image    %s %s version %s, hw level %d, hw ids %#x, min bios %s, profile %q, %s\n",
			im.Kind, im.Name, im.Version, im.HWLevel, im.HardwareIDs, im.MinBIOS, im.Profile, signedText(im))
		res.Image = &imageInfo{Kind: im.Kind.String(), Name: im.Name, Version: im.Version.String(), HWLevel: im.HWLevel,
			HardwareIDs: im.HardwareIDs, MinBIOS: im.MinBIOS.String(), Profile: im.Profile, Signed: signedText(im)}
	}
	res.Known = image.IsKnownName(name)
	res.Valid = parseErr == nil
	biosLevel := ""
	if dev.BIOSHWLevel != 0 {
		biosLevel = fmt.Sprintf(" (bios images %d)", dev.BIOSHWLevel)
	}
	fmt.Fprintf(stdout, "device   system %s, hw id %#x, hw level %d%s, bios %s, profile %q, %d trusted keys\n",
		dev.SystemID, dev.HardwareID, dev.HWLevel, biosLevel, dev.BIOSVersion, dev.Profile, len(dev.TrustedKeys))
	if app, _, ok := tree.ActiveApp(); ok {
		fmt.Fprintf(stdout, "state    active application %s\n", app)
		res.ActiveApp = app
	}
	res.On = on.String()
	fmt.Fprintf(stdout, "checks   %s\n\n", on)

	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tVERDICT\tDETAIL")
	var evaluated image.Check
	if im != nil {
		evaluated = image.Evaluated(im.Kind, on)
	}
	for _, ck := range checkOrder {
		verdict, detail := "ok", ""
		switch {
		case on&ck == 0:
			verdict = "off"
		case !image.IsKnownName(name):
			verdict, detail = "n/a", "not a known file"
		case im == nil && ck&(image.CheckUnknown|image.CheckLength|image.CheckCRC) == 0:
			verdict, detail = "n/a", "not an image"
		case im != nil && evaluated&ck == 0:
			verdict, detail = "n/a", "not for "+im.Kind.String()+" images"
		default:
			one := ck
			s := *sess
			s.Checks = &one
			if err := tree.Verify(&s, staged); err != nil {
				if verdict, detail, err = refusal(err); err != nil {
					return fmt.Errorf("image check: %w", err)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ck, verdict, detail)
		res.Checks = append(res.Checks, checkRow{Check: ck.String(), Verdict: verdict, Detail: detail})
	}
	known := im != nil && image.IsKnownName(name)
	if on&image.CheckPath != 0 && known {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", image.CheckPath, "action", "stored in /"+image.TargetFS(im))
		res.Checks = append(res.Checks, checkRow{Check: image.CheckPath.String(), Verdict: "action", Detail: "stored in /" + image.TargetFS(im)})
	}
	if on&image.CheckRename != 0 && known {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", image.CheckRename, "action", "stored as "+im.Name)
		res.Checks = append(res.Checks, checkRow{Check: image.CheckRename.String(), Verdict: "action", Detail: "stored as " + im.Name})
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// The verdict of a commit: every check on at once, as the commit runs
	// them; the first refusal is the commit's.
	if err := tree.Verify(sess, staged); err != nil {
		verdict, detail, err := refusal(err)
		if err != nil {
			return fmt.Errorf("image check: %w", err)
		}
		fmt.Fprintf(stdout, "\nverdict  %s: %s\n", verdict, detail)
		res.Verdict, res.Detail = verdict, detail
		if err := res.print(jsonOut, *asJSON); err != nil {
			return err
		}
		return errRefused
	}
	fmt.Fprintln(stdout, "\nverdict  accepted: a commit would store it")
	res.Verdict = "accepted"
	return res.print(jsonOut, *asJSON)
}

// checkResult is what image check found, for --json.
type checkResult struct {
	File      string     `json:"file"`
	Bytes     int        `json:"bytes"`
	StoredAs  string     `json:"stored_as"`
	Known     bool       `json:"known"` // a .BIN or .BFW name: the checks apply
	Valid     bool       `json:"valid"` // the bytes parse as an image
	Image     *imageInfo `json:"image,omitempty"`
	ActiveApp string     `json:"active_application,omitempty"`
	On        string     `json:"checks_on"`
	Checks    []checkRow `json:"checks"`
	Verdict   string     `json:"verdict"`          // "accepted" or "refused"
	Detail    string     `json:"detail,omitempty"` // the refusal: the manual's text and the particulars
}

type imageInfo struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	HWLevel     uint32   `json:"hw_level"`
	HardwareIDs []uint32 `json:"hardware_ids"`
	MinBIOS     string   `json:"min_bios"`
	Profile     string   `json:"profile"`
	Signed      string   `json:"signed"`
}

type checkRow struct {
	Check   string `json:"check"`
	Verdict string `json:"verdict"` // ok, refused, off, n/a, action
	Detail  string `json:"detail,omitempty"`
}

func (r *checkResult) print(w io.Writer, asJSON bool) error {
	if !asJSON {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// refusal turns a Verify error into a verdict: "refused" with the
// manual's text and the detail for a check; any other error is returned.
func refusal(err error) (verdict, detail string, _ error) {
	var ce *image.CheckError
	if !errors.As(err, &ce) {
		return "", "", err
	}
	detail = ce.Error()
	if ce.Detail != "" {
		detail += " (" + ce.Detail + ")"
	}
	return "refused", detail, nil
}

func signedText(im *image.Image) string {
	if !im.Signed() {
		return "unsigned"
	}
	return fmt.Sprintf("signed (key id %x)", im.KeyID)
}

// checkTree builds a device tree for the check alone: the configuration's
// checks and identity, a staging buffer big enough for the file, no host
// file system, and a copy of the device-state file in a temporary
// directory (loading the state may rewrite it: never the server's).
func checkTree(cfg *policy.Config, size int64) (*vfs.FS, func(), error) {
	tmp, err := os.MkdirTemp("", "sluice-image-check-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	statePath := filepath.Join(tmp, "device-state.json")
	switch b, err := os.ReadFile(filepath.Join(cfg.DataDir, "device-state.json")); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		cleanup()
		return nil, nil, fmt.Errorf("device state: %w", err)
	default:
		if err := os.WriteFile(statePath, b, 0o600); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	chunks := (size + mem.DefaultChunkSize - 1) / mem.DefaultChunkSize
	store, err := mem.New(mem.Config{MaxBytes: max(chunks, 1) * mem.DefaultChunkSize})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	tree, err := vfs.New(vfs.Config{Mem: store, NameMax: cfg.Names.MaxLen, MaxFileBytes: max(size, cfg.Limits.MaxFileBytes),
		Checks: cfg.Checks.On, Device: cfg.ImageDevice(), StatePath: statePath})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return tree, func() { tree.Close(); cleanup() }, nil
}

// stageFile writes data to p through the upload path, as a client's put.
func stageFile(tree *vfs.FS, s *vfs.Session, p string, data []byte) error {
	w, err := tree.OpenWrite(s, p, vfs.WriteTrunc)
	if err != nil {
		return err
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
