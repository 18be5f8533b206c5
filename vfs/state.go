package vfs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/image"
)

// deviceState is the device-state file (DESIGN §4): for each kind and
// imprinted name the newest version ever committed, and the active boot
// application with the firmware it requires. VERSION compares against it,
// so deleting a file first opens no downgrade path.
//
// Every commit of a known file updates it in two atomic writes around the
// rename of the target: first a pending record naming the target and the
// SHA-256 of the new bytes, then the applied record. At start-up a pending
// record is applied if the target holds those bytes and dropped otherwise,
// so after a crash the state always agrees with the target.
type deviceState struct {
	path string

	mu sync.Mutex
	d  stateData
}

type stateData struct {
	Newest map[string]string `json:"newest"` // "kind/NAME" → version
	Active *activeApp        `json:"active_app,omitempty"`
	// Pending holds one record per target being committed, so
	// concurrent commits never overwrite each other's record.
	Pending map[string]*pendingCommit `json:"pending_commits,omitempty"`
	// Legacy is the single pending record of earlier versions; it is
	// resolved like the others at start-up and never written.
	Legacy *pendingCommit `json:"pending,omitempty"`
	// Seq numbers the pending records in the order they began.
	Seq uint64 `json:"seq,omitempty"`
}

type activeApp struct {
	Name     string      `json:"name"`
	Version  string      `json:"version"`
	Firmware []firmwareV `json:"firmware,omitempty"`
}

type firmwareV struct {
	Name       string `json:"name"`
	MinVersion string `json:"min_version"`
}

type pendingCommit struct {
	Seq     uint64     `json:"seq"`
	Target  string     `json:"target"` // host path of the target file
	SHA256  string     `json:"sha256"`
	Kind    string     `json:"kind"`
	Name    string     `json:"name"` // imprinted name
	Version string     `json:"version"`
	App     *activeApp `json:"app,omitempty"` // set when an application becomes active
}

func stateKey(k image.Kind, name string) string { return k.String() + "/" + strings.ToUpper(name) }

// loadState reads the state file, resolves a pending commit, and raises
// the record to any newer known file found on the host file systems (a
// lost state file must not reopen a downgrade).
func loadState(path string, hosts map[string]*hostFS) (*deviceState, error) {
	s := &deviceState{path: path, d: stateData{Newest: map[string]string{}}}
	var data []byte
	var err error
	if path != "" {
		data, err = os.ReadFile(path)
	}
	switch {
	case path == "" || errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &s.d); err != nil {
			return nil, fmt.Errorf("device state %s: %w", path, err)
		}
		if s.d.Newest == nil {
			s.d.Newest = map[string]string{}
		}
	}
	dirty := false
	var pending []*pendingCommit
	for _, p := range s.d.Pending {
		if p != nil { // "null" in a damaged or hand-edited file
			pending = append(pending, p)
		}
	}
	if s.d.Legacy != nil {
		pending = append(pending, s.d.Legacy)
	}
	// In the order they began, so that the later of two applications
	// committed at once stays the active one.
	sort.Slice(pending, func(i, j int) bool { return pending[i].Seq < pending[j].Seq })
	for _, p := range pending {
		dirty = true
		if sum, err := fileSHA256(p.Target); err == nil && sum == p.SHA256 {
			s.apply(p)
		}
	}
	s.d.Pending, s.d.Legacy = nil, nil
	for _, h := range hosts {
		ents, err := h.list()
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !image.IsKnownName(e.Name) {
				continue
			}
			f, err := h.open(e.Name)
			if err != nil {
				continue
			}
			im, err := image.Parse(f, e.Size)
			f.Close()
			if err != nil {
				continue
			}
			if s.raise(im.Kind, im.Name, im.Version) {
				dirty = true
			}
		}
	}
	if dirty {
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// raise records v for kind/name if it is newer; it reports a change.
// Callers hold mu or own s exclusively.
func (s *deviceState) raise(k image.Kind, name string, v image.Version) bool {
	key := stateKey(k, name)
	if old, err := image.ParseVersion(s.d.Newest[key]); err == nil && old.Compare(v) >= 0 {
		return false
	}
	s.d.Newest[key] = v.String()
	return true
}

func (s *deviceState) apply(p *pendingCommit) {
	if k, err := image.ParseKind(p.Kind); err == nil {
		if v, err := image.ParseVersion(p.Version); err == nil {
			s.raise(k, p.Name, v)
		}
	}
	if p.App != nil {
		s.d.Active = p.App
	}
}

func (s *deviceState) save() error {
	if s.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.d, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path, append(data, '\n'), 0o600)
}

// Stored implements image.State.
func (s *deviceState) Stored(k image.Kind, name string) (image.Version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := image.ParseVersion(s.d.Newest[stateKey(k, name)])
	return v, err == nil
}

// ActiveApp implements image.State.
func (s *deviceState) ActiveApp() (string, []image.FirmwareReq, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.d.Active
	if a == nil {
		return "", nil, false
	}
	var fw []image.FirmwareReq
	for _, f := range a.Firmware {
		v, _ := image.ParseVersion(f.MinVersion)
		fw = append(fw, image.FirmwareReq{Name: f.Name, MinVersion: v})
	}
	return a.Name, fw, true
}

// isActive reports whether name is the active boot application's.
func (s *deviceState) isActive(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.Active != nil && strings.EqualFold(s.d.Active.Name, name)
}

// pending records the commit about to happen (before the rename).
func (s *deviceState) begin(target string, sum [32]byte, im *image.Image) (*pendingCommit, error) {
	p := &pendingCommit{Target: target, SHA256: hex.EncodeToString(sum[:]), Kind: im.Kind.String(),
		Name: strings.ToUpper(im.Name), Version: im.Version.String()}
	if im.Kind == image.KindApplication {
		app := &activeApp{Name: p.Name, Version: p.Version}
		for _, f := range im.Firmware {
			app.Firmware = append(app.Firmware, firmwareV{Name: f.Name, MinVersion: f.MinVersion.String()})
		}
		p.App = app
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.Pending == nil {
		s.d.Pending = map[string]*pendingCommit{}
	}
	if _, busy := s.d.Pending[target]; busy {
		// The writer lock makes a target exclusive; this is a second line.
		return nil, fmt.Errorf("device state: a commit to %s is pending", target)
	}
	s.d.Seq++
	p.Seq = s.d.Seq
	s.d.Pending[target] = p
	if err := s.save(); err != nil {
		delete(s.d.Pending, target)
		return nil, err
	}
	return p, nil
}

// finish applies p (after the rename) or, when committed is false, drops it.
func (s *deviceState) finish(p *pendingCommit, committed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.d.Pending, p.Target)
	if committed {
		s.apply(p)
	}
	return s.save()
}
