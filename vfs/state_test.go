package vfs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// TestConcurrentCommitsCrash: two verified commits of applications run at
// once; the disk (data directory and device-state file) is copied at the
// worst moment, as a SIGKILL would leave it: one target renamed, its
// record not yet applied, the other commit's record written meanwhile.
// Started on that copy, the device state must name the application that
// is on the disk, with its version: each commit has its own pending
// record, so neither is lost.
func TestConcurrentCommitsCrash(t *testing.T) {
	dir := t.TempDir()
	dsk := filepath.Join(dir, "dsk")
	statePath := filepath.Join(dir, "state.json")
	dev := image.Device{HardwareID: 1, HWLevel: 1, Profile: "STD"}
	checks := image.CheckAll &^ (image.CheckSignature | image.CheckFirmware)
	img := func(name string, major uint16) []byte {
		b, err := image.Build(image.BuildOptions{Kind: image.KindApplication, Name: name,
			Version: image.Version{Major: major}, HWLevel: 1, HardwareIDs: []uint32{1}, Profile: "STD"}, make([]byte, 4<<10))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	var (
		mu       sync.Mutex
		synced   = sync.NewCond(&mu)
		nSynced  int
		renamed  bool
		snapped  bool // the crash copy is taken
		armed    bool // after the set-up commit
		snapshot = filepath.Join(t.TempDir(), "crash")
	)
	hook := func(st Stage) {
		mu.Lock()
		defer mu.Unlock()
		if !armed {
			return
		}
		switch st {
		case StageSynced:
			nSynced++
			synced.Broadcast()
			if nSynced == 2 {
				// The later commit has written its record; it waits
				// before its rename until the snapshot is taken, so the
				// copy is one instant, as a SIGKILL leaves the disk.
				for !snapped {
					synced.Wait()
				}
			}
		case StageRenamed:
			if renamed {
				return
			}
			renamed = true
			// The first target is renamed and its record not applied:
			// wait until the other commit has written its record too,
			// then "crash".
			for nSynced < 2 {
				synced.Wait()
			}
			copyTree(t, dir, snapshot)
			snapped = true
			synced.Broadcast()
		}
	}
	store, _ := mem.New(mem.Config{MaxBytes: 8 << 20})
	f, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dsk}}, Mem: store, Checks: checks,
		Device: dev, StatePath: statePath, FaultHook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	put(t, f, root, "/mem/OS_FILE.BIN", img("OS_FILE.BIN", 1))
	if _, err := f.Rename(root, "/mem/OS_FILE.BIN", "/dsk/OS_FILE.BIN"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	armed = true
	mu.Unlock()

	put(t, f, root, "/mem/OS_FILE.BIN", img("OS_FILE.BIN", 2))
	put(t, f, root2, "/mem/OS_B.BIN", img("OS_B.BIN", 3))
	var wg sync.WaitGroup
	for _, c := range []struct {
		s        *Session
		from, to string
	}{{root, "/mem/OS_FILE.BIN", "/dsk/OS_FILE.BIN"}, {root2, "/mem/OS_B.BIN", "/dsk/OS_B.BIN"}} {
		wg.Go(func() {
			if _, err := f.Rename(c.s, c.from, c.to); err != nil {
				t.Errorf("commit %s: %v", c.to, err)
			}
		})
	}
	wg.Wait()

	// Put the crash copy back where the data was (pending records name
	// their targets by path) and start on it: pending records are
	// resolved against the targets.
	f.Close()
	if err := os.RemoveAll(dsk); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(statePath); err != nil {
		t.Fatal(err)
	}
	copyTree(t, snapshot, dir)
	store2, _ := mem.New(mem.Config{MaxBytes: 1 << 20})
	g, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dsk}}, Mem: store2,
		Checks: checks, Device: dev, StatePath: statePath})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var st stateData
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 0 {
		t.Errorf("pending records after the restart: %v", st.Pending)
	}
	onDisk := map[string]string{} // imprinted name → version of the file there
	ents, _ := os.ReadDir(dsk)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		fh, err := os.Open(filepath.Join(dsk, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := fh.Stat()
		im, err := image.Parse(fh, fi.Size())
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		onDisk[im.Name] = im.Version.String()
		if got := st.Newest["application/"+im.Name]; got != im.Version.String() {
			t.Errorf("newest %s: got %q, want %q (the file on the disk)", im.Name, got, im.Version)
		}
	}
	v1, v2 := image.Version{Major: 1}.String(), image.Version{Major: 2}.String()
	if onDisk["OS_FILE.BIN"] != v2 && onDisk["OS_B.BIN"] == "" {
		t.Fatalf("the crash copy holds no new application (%v): the test missed its moment", onDisk)
	}
	if st.Active == nil || onDisk[st.Active.Name] != st.Active.Version || st.Active.Version == v1 {
		t.Errorf("active application after the restart: got %+v, want a newly committed one on the disk (%v)", st.Active, onDisk)
	}
}

// copyTree copies the regular files of dir and its subdirectories to dst.
func copyTree(t *testing.T, dir, dst string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}
