package vfs

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

// BenchmarkVerifiedCommit commits a staged image from /mem to /dsk with
// every check on (bench/commit.sh compares it with cp + sync). The target
// directory is SLUICE_BENCH_DIR (default: a temporary directory) and the
// payload size SLUICE_BENCH_MB (default 256).
func BenchmarkVerifiedCommit(b *testing.B) {
	mb := 256
	if s := os.Getenv("SLUICE_BENCH_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	dir := os.Getenv("SLUICE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		d, err := os.MkdirTemp(dir, "commit-bench-")
		if err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	payload := make([]byte, mb<<20)
	rand.NewChaCha8([32]byte{}).Read(payload)
	img, err := image.Build(image.BuildOptions{Kind: image.KindApplication, Name: "OS_FILE.BIN",
		Version: image.Version{Major: 1}, HWLevel: 1, HardwareIDs: []uint32{1}, Profile: "STD", SignKey: key}, payload)
	if err != nil {
		b.Fatal(err)
	}
	payload = nil
	store, _ := mem.New(mem.Config{MaxBytes: int64(len(img)) + 1<<20})
	f, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dir}}, Mem: store, Checks: checksForBench(),
		Device:    image.Device{HardwareID: 1, HWLevel: 1, Profile: "STD", TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}},
		StatePath: dir + "/../state-" + strconv.Itoa(os.Getpid()) + ".json"})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer os.Remove(dir + "/../state-" + strconv.Itoa(os.Getpid()) + ".json")
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		w, err := f.OpenWrite(root, "/mem/os_file.bin", WriteTrunc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.WriteAt(img, 0); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		// The staging above is not part of the commit: settle its garbage
		// and dirty pages before the clock runs.
		runtime.GC()
		syscall.Sync()
		b.StartTimer()
		if _, err := f.Rename(root, "/mem/os_file.bin", "/dsk/OS_FILE.BIN"); err != nil {
			b.Fatal(err)
		}
	}
}

func checksForBench() image.Check {
	if os.Getenv("SLUICE_BENCH_NOCHECKS") != "" {
		return 0
	}
	return image.CheckAll
}

// BenchmarkUploadOver compares an scp-style upload (WriteKeep: OPEN
// without TRUNC, the whole file rewritten from offset 0, a size
// truncate) to a new name and over an existing file: keeping the old
// bytes must copy none of them. "over, TRUNC" (sftp put) is the cost of
// replacing a file atomically at all: the old file's pages are freed. SLUICE_BENCH_DIR picks the file system
// (default: the test's temporary directory).
func BenchmarkUploadOver(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{}).Read(data)
	for _, tc := range []struct {
		name string
		over bool
		mode WriteMode
	}{{"new", false, WriteKeep}, {"over", true, WriteKeep}, {"over, TRUNC", true, WriteTrunc}} {
		over := tc.over
		b.Run(tc.name, func(b *testing.B) {
			dir := os.Getenv("SLUICE_BENCH_DIR")
			if dir == "" {
				dir = b.TempDir()
			} else {
				d, err := os.MkdirTemp(dir, "upload-bench-")
				if err != nil {
					b.Fatal(err)
				}
				defer os.RemoveAll(d)
				dir = d
			}
			store, _ := mem.New(mem.Config{MaxBytes: 1 << 20})
			f, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dir}}, Mem: store})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			upload := func() {
				w, err := f.OpenWrite(root, "/dsk/up.dat", tc.mode)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += len(data) {
					if _, err := w.WriteAt(data, int64(off)); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Truncate(size); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if over {
					if _, err := os.Stat(dir + "/up.dat"); err != nil {
						upload()
					}
				} else {
					os.Remove(dir + "/up.dat")
				}
				b.StartTimer()
				upload()
			}
		})
	}
}
