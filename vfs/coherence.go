package vfs

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sluice/sluice/image"
)

// CoherenceLine is one finding of Coherence: a file and what the checks
// found in it.
type CoherenceLine struct {
	Name string // the file's name as stored ("OS_FILE.BIN"), or "" for a line about the device
	OK   bool
	// Text is "OK" for a good file; otherwise the manual's text for the
	// check that failed ("Bad crc of checked file", "Firmware misbuilt"),
	// with the particulars in parentheses where the manual's text has none
	// ("Firmware misbuilt (version 1.2, OS_FILE.BIN requires 1.3 or
	// newer)"), or "missing".
	Text string
}

// String formats the line as SITE COHERENCE lists it: "NAME: TEXT".
func (l CoherenceLine) String() string {
	if l.Name == "" {
		return l.Text
	}
	return l.Name + ": " + l.Text
}

// coherenceChecks are the checks COHERENCE runs on a stored file whatever
// is switched on: the file must be a whole, undamaged image. The ones of
// the device's identity (BIOS, HARDWARE, HW-SUPPORTED, PROFILE) and
// SIGNATURE run when they are on for the session, as they would for a
// new upload. VERSION (against the newest ever committed) is not a
// question of whether the device can boot and is left out; FIRMWARE is
// checked here against the application itself.
const (
	coherenceAlways   = image.CheckLength | image.CheckCRC | image.CheckUnknown
	coherenceOptional = image.CheckBIOS | image.CheckHardware | image.CheckHWSupported | image.CheckProfile | image.CheckSignature
)

// ErrCoherenceBusy is Coherence's answer while another check runs
// ("550 Coherence checker is busy.").
var ErrCoherenceBusy = errors.New("coherence checker is busy")

// Coherence checks whether the device can boot with what is stored
// (manual §3.6): the active boot application is in /dsk, is a good image
// (length, CRC, the session's device checks and signature), and each
// firmware it requires is in /dsk, a good firmware image, at the required
// version or newer; each known file in /bio is a good image. It returns
// one line per file, the application first, and whether all are good. It
// reads the stored bytes through and writes nothing; one check runs at a
// time (ErrCoherenceBusy).
func (f *FS) Coherence(s *Session) ([]CoherenceLine, bool, error) {
	if !f.coherenceMu.TryLock() {
		return nil, false, ErrCoherenceBusy
	}
	defer f.coherenceMu.Unlock()
	on := coherenceAlways | f.checksFor(s)&coherenceOptional
	dev := f.Device()
	var lines []CoherenceLine
	good := true
	add := func(l CoherenceLine) {
		good = good && l.OK
		lines = append(lines, l)
	}
	dsk := f.mounts["dsk"]
	app, fw, ok := f.state.ActiveApp()
	switch {
	case dsk == nil || dsk.host == nil:
		add(CoherenceLine{Text: "File system DSK is not available"})
	case !ok:
		add(CoherenceLine{Text: "No active application"})
	default:
		im, l := f.coherent(dsk, app, dev, on)
		if l.OK && im.Kind != image.KindApplication {
			l = CoherenceLine{Name: l.Name, Text: fmt.Sprintf("Unknown checked file type (%s, not an application)", im.Kind)}
		}
		add(l)
		for _, req := range fw {
			im, l := f.coherent(dsk, req.Name, dev, on)
			switch {
			case !l.OK:
			case im.Kind != image.KindFirmware:
				l = CoherenceLine{Name: l.Name, Text: fmt.Sprintf("Unknown checked file type (%s, not a firmware)", im.Kind)}
			case len(im.Firmware) > 0:
				l = CoherenceLine{Name: l.Name, Text: "Firmware misbuilt (it lists firmware requirements)"}
			case im.Version.Compare(req.MinVersion) < 0:
				l = CoherenceLine{Name: l.Name, Text: fmt.Sprintf("Firmware misbuilt (version %v, %s requires %v or newer)",
					im.Version, app, req.MinVersion)}
			}
			add(l)
		}
	}
	if bio := f.mounts["bio"]; bio != nil && bio.host != nil {
		ents, err := bio.host.list()
		if err != nil {
			add(CoherenceLine{Text: "File system BIO is not available"})
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
		for _, e := range ents {
			if !e.IsDir && image.IsKnownName(e.Name) {
				_, l := f.coherent(bio, e.Name, dev, on)
				add(l)
			}
		}
	}
	return lines, good, nil
}

// coherent checks the stored file of m named name (in any case): the
// image when it is good, and its line.
func (f *FS) coherent(m *mount, name string, dev image.Device, on image.Check) (*image.Image, CoherenceLine) {
	stored, ok := m.host.find(name)
	if !ok {
		return nil, CoherenceLine{Name: strings.ToUpper(name), Text: "missing"}
	}
	l := CoherenceLine{Name: stored}
	fh, err := m.host.open(stored)
	if err != nil {
		l.Text = "Unable to open file"
		return nil, l
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		l.Text = "Unable to get filelength"
		return nil, l
	}
	im, err := image.Precheck(fh, fi.Size(), stored, dev, f.state, on)
	if err == nil && im == nil {
		err = &image.CheckError{Check: image.CheckUnknown, Reason: image.ReasonUnknownType}
	}
	if err == nil {
		d := im.NewDigest()
		if _, rerr := io.Copy(d, io.NewSectionReader(fh, 0, fi.Size())); rerr != nil {
			l.Text = "Unable to read file"
			return nil, l
		}
		err = image.Postcheck(im, d, dev, on)
	}
	var ce *image.CheckError
	switch {
	case errors.As(err, &ce):
		l.Text = ce.Error()
		return nil, l
	case err != nil:
		l.Text = "Unable to read file"
		return nil, l
	}
	l.OK, l.Text = true, "OK"
	return im, l
}
