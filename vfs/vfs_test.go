package vfs

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/policy"
)

type tree struct {
	fs       *FS
	dsk, bio string
	store    *mem.Store
}

func newTree(t *testing.T) *tree {
	t.Helper()
	dsk, bio := t.TempDir(), t.TempDir()
	store, err := mem.New(mem.Config{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Config{
		Mounts: []policy.Mount{{Name: "dsk", Path: dsk}, {Name: "BIO", Path: bio, Exclusive: true}},
		Mem:    store,
		Logger: hclog.New(&hclog.LoggerOptions{Output: hclog.DefaultOutput, Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &tree{fs: f, dsk: dsk, bio: bio, store: store}
}

var (
	root  = &Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "s1"}
	root2 = &Session{User: &policy.User{Name: "root", Level: policy.Supervisor}, ID: "s2"}
	yes   = true
	op1   = &Session{User: &policy.User{Name: "op1", Level: policy.Guest,
		Permissions: policy.Permissions{Write: &yes, Delete: &yes, Rename: &yes}}, ID: "s3"}
	op2 = &Session{User: &policy.User{Name: "op2", Level: policy.Guest,
		Permissions: policy.Permissions{Write: &yes, Delete: &yes, Rename: &yes}}, ID: "s4"}
	guest = &Session{User: &policy.User{Name: "g", Level: policy.Guest}, ID: "s5"}
	boxed = &Session{User: &policy.User{Name: "b", Level: policy.Supervisor, FileSystems: []string{"mem"}}, ID: "s6"}
)

func put(t *testing.T, f *FS, s *Session, p string, data []byte) {
	t.Helper()
	w, err := f.OpenWrite(s, p, WriteTrunc)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, f *FS, s *Session, p string) []byte {
	t.Helper()
	r, err := f.OpenRead(s, p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantKind(t *testing.T, what string, err error, k Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil, want %v", what, k)
	}
	if got := KindOf(err); got != k {
		t.Fatalf("%s: got kind %v (%v), want %v", what, got, err, k)
	}
}

func TestSplit(t *testing.T) {
	long := string(bytes.Repeat([]byte("a"), 65))
	tests := []struct {
		name, in     string
		fs, file     string
		kind         Kind
		wantErr      bool
		maxNameBytes int
	}{
		{name: "root", in: "/"},
		{name: "empty", in: ""},
		{name: "fs", in: "/dsk", fs: "dsk"},
		{name: "fs slash", in: "/DSK/", fs: "dsk"},
		{name: "file", in: "/dsk/OS_FILE.BIN", fs: "dsk", file: "OS_FILE.BIN"},
		{name: "relative", in: "mem/x", fs: "mem", file: "x"},
		{name: "nested", in: "/dsk/a/b", wantErr: true, kind: KindInvalidPath},
		{name: "dotdot fs", in: "/../x", wantErr: true, kind: KindInvalidPath},
		{name: "dot file", in: "/dsk/.", wantErr: true, kind: KindInvalidName},
		{name: "dotdot file", in: "/dsk/..", wantErr: true, kind: KindInvalidName},
		{name: "backslash", in: `/dsk/a\b`, wantErr: true, kind: KindInvalidName},
		{name: "nul", in: "/dsk/a\x00b", wantErr: true, kind: KindInvalidName},
		{name: "control", in: "/dsk/a\nb", wantErr: true, kind: KindInvalidName},
		{name: "bad utf8", in: "/dsk/\xff", wantErr: true, kind: KindInvalidName},
		{name: "temp name", in: "/dsk/" + tempPrefix + "x", wantErr: true, kind: KindInvalidName},
		{name: "right-to-left override", in: "/dsk/fw\u202enib.exe", wantErr: true, kind: KindInvalidName},
		{name: "bidi isolate", in: "/dsk/a\u2067b", wantErr: true, kind: KindInvalidName},
		{name: "left-to-right mark", in: "/dsk/a\u200eb", wantErr: true, kind: KindInvalidName},
		{name: "trailing dot", in: "/dsk/os_file.bin.", wantErr: true, kind: KindInvalidName},
		{name: "trailing space", in: "/dsk/os_file.bin ", wantErr: true, kind: KindInvalidName},
		{name: "inner dots and spaces", in: "/dsk/a b.c.d", fs: "dsk", file: "a b.c.d"},
		{name: "other unicode", in: "/dsk/größe.cfg", fs: "dsk", file: "größe.cfg"},
		{name: "too long", in: "/dsk/" + long, wantErr: true, kind: KindPathTooLong},
		{name: "max length", in: "/dsk/" + long[:64], fs: "dsk", file: long[:64]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, file, err := Split(tt.in, 64)
			if tt.wantErr {
				wantKind(t, tt.in, err, tt.kind)
				return
			}
			if err != nil || fs != tt.fs || file != tt.file {
				t.Errorf("Split(%q): got (%q, %q, %v), want (%q, %q, nil)", tt.in, fs, file, err, tt.fs, tt.file)
			}
		})
	}
}

func TestRootListingAndSandbox(t *testing.T) {
	tr := newTree(t)
	l, err := tr.fs.List(root, "/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range l {
		names = append(names, i.Name)
		if !i.IsDir {
			t.Errorf("%s: not a directory", i.Name)
		}
	}
	if want := []string{"bio", "dsk", "mem", "ts1", "tst"}; !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
	l, _ = tr.fs.List(boxed, "/")
	if len(l) != 1 || l[0].Name != "mem" {
		t.Errorf("sandboxed listing: got %v, want only mem", l)
	}
	_, err = tr.fs.OpenRead(boxed, "/dsk/x")
	wantKind(t, "outside sandbox", err, KindInvalidPath)
	_, err = tr.fs.OpenWrite(guest, "/mem/x", WriteTrunc)
	wantKind(t, "guest write", err, KindDenied)
	_, err = tr.fs.OpenWrite(root, "/dsk", WriteTrunc)
	wantKind(t, "write a directory", err, KindIsDir)
}

func TestAtomicWrite(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/dsk/cfg", []byte("old"))
	w, err := tr.fs.OpenWrite(root, "/dsk/cfg", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	// Out-of-order writes, and nothing visible before Close.
	w.WriteAt([]byte("world"), 6)
	w.WriteAt([]byte("hello "), 0)
	if got := get(t, tr.fs, root, "/dsk/cfg"); string(got) != "old" {
		t.Errorf("before close: got %q, want old", got)
	}
	_, err = tr.fs.OpenWrite(root2, "/dsk/cfg", WriteTrunc)
	wantKind(t, "second writer", err, KindBusy)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := get(t, tr.fs, root, "/dsk/cfg"); string(got) != "hello world" {
		t.Errorf("after close: got %q", got)
	}
	// Abort leaves the file and no temporary file.
	w, _ = tr.fs.OpenWrite(root, "/dsk/cfg", WriteTrunc)
	w.WriteAt([]byte("partial"), 0)
	w.Abort()
	if got := get(t, tr.fs, root, "/dsk/cfg"); string(got) != "hello world" {
		t.Errorf("after abort: got %q", got)
	}
	ents, _ := os.ReadDir(tr.dsk)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1 (no temporary file)", len(ents))
	}
}

func TestStartupRemovesTempFilesAndHidesOthers(t *testing.T) {
	dsk := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dsk, tempPrefix+"dead"), []byte("x"), 0o600))
	must(t, os.WriteFile(filepath.Join(dsk, "keep"), []byte("k"), 0o600))
	must(t, os.Mkdir(filepath.Join(dsk, "sub"), 0o700))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dsk, "link")))
	store, _ := mem.New(mem.Config{MaxBytes: 1 << 20})
	f, err := New(Config{Mounts: []policy.Mount{{Name: "dsk", Path: dsk}}, Mem: store})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := os.Stat(filepath.Join(dsk, tempPrefix+"dead")); !os.IsNotExist(err) {
		t.Errorf("temporary file survived start-up: %v", err)
	}
	l, err := f.List(root, "/dsk")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Name != "keep" {
		t.Errorf("listing: got %v, want only keep", l)
	}
	_, err = f.OpenRead(root, "/dsk/link")
	wantKind(t, "symlink", err, KindNotFound)
	_, err = f.Stat(root, "/dsk/sub")
	wantKind(t, "subdirectory", err, KindNotFound)
}

func TestExclusiveFileSystem(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/bio/a", []byte("a"))
	r, err := tr.fs.OpenRead(root, "/BIO/a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.fs.OpenWrite(root2, "/bio/b", WriteTrunc)
	wantKind(t, "second op on bio", err, KindBusy)
	_, err = tr.fs.Rename(root2, "/bio/a", "/dsk/a")
	wantKind(t, "rename out of busy bio", err, KindBusy)
	if SideOf(err) != SideSource {
		t.Errorf("side: got %v, want source", SideOf(err))
	}
	// dsk is not exclusive.
	put(t, tr.fs, root2, "/dsk/x", []byte("x"))
	r.Close()
	put(t, tr.fs, root2, "/bio/b", []byte("b"))
}

func TestSinks(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, root, "/tst/up.bin", make([]byte, 12345))
	i, err := tr.fs.Stat(root, "/tst/up.bin")
	if err != nil || i.Size != 12345 {
		t.Fatalf("stat: got %+v, %v; want size 12345", i, err)
	}
	l, _ := tr.fs.List(root, "/tst")
	if len(l) != 1 || l[0].Name != "up.bin" {
		t.Errorf("tst listing: got %v", l)
	}
	put(t, tr.fs, root, "/tst/second", []byte("x"))
	if l, _ := tr.fs.List(root, "/tst"); len(l) != 1 || l[0].Name != "second" {
		t.Errorf("one file per sink: got %v", l)
	}
	if l, _ := tr.fs.List(root, "/ts1"); len(l) != 0 {
		t.Errorf("ts1 not empty: %v", l)
	}
	a := get(t, tr.fs, root, "/tst/1000000")
	b := get(t, tr.fs, root, "/tst/1000000")
	if len(a) != 1000000 || !bytes.Equal(a, b) {
		t.Fatalf("got %d bytes, repeatable %v; want 1000000, repeatable", len(a), bytes.Equal(a, b))
	}
	// ReadAt at an unaligned offset agrees with the whole.
	r, _ := tr.fs.OpenRead(root, "/tst/1000000")
	part := make([]byte, 10000)
	r.ReadAt(part, 4093)
	r.Close()
	if !bytes.Equal(part, a[4093:14093]) {
		t.Error("unaligned ReadAt differs from the sequential read")
	}
	// Every offset within a few cipher blocks, and reads past the end.
	r, _ = tr.fs.OpenRead(root, "/tst/1000000")
	for off := int64(0); off < 40; off++ {
		p := make([]byte, 37)
		if n, err := r.ReadAt(p, off); n != 37 || err != nil || !bytes.Equal(p, a[off:off+37]) {
			t.Errorf("ReadAt(37 bytes, %d): %d, %v, equal %v", off, n, err, bytes.Equal(p, a[off:off+37]))
		}
	}
	tail := make([]byte, 100)
	if n, err := r.ReadAt(tail, 1000000-30); n != 30 || err != io.EOF || !bytes.Equal(tail[:30], a[1000000-30:]) {
		t.Errorf("ReadAt across the end: %d, %v", n, err)
	}
	r.Close()
	if c := get(t, tr.fs, root, "/ts1/1000000"); bytes.Equal(c[:64], a[:64]) {
		t.Error("/ts1/1000000 and /tst/1000000 are the same bytes")
	}
	var z bytes.Buffer
	gz := gzip.NewWriter(&z)
	gz.Write(a)
	gz.Close()
	if z.Len() < len(a)*99/100 {
		t.Errorf("test data compresses to %d of %d bytes", z.Len(), len(a))
	}
	for _, bad := range []string{"/tst/0", "/tst/100000001", "/tst/007", "/tst/-5", "/tst/nothere"} {
		_, err := tr.fs.OpenRead(root, bad)
		wantKind(t, bad, err, KindNotFound)
	}
	if i, err := tr.fs.Stat(root, "/ts1/100000000"); err != nil || i.Size != MaxTestSize {
		t.Errorf("largest test size: got %+v, %v", i, err)
	}
}

func TestRenameAndCommit(t *testing.T) {
	tr := newTree(t)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	put(t, tr.fs, root, "/mem/os_file.bin", data)
	res, err := tr.fs.Rename(root, "/mem/os_file.bin", "/dsk/os_file.bin")
	if err != nil || res != Moved {
		t.Fatalf("commit: got %v, %v; want Moved", res, err)
	}
	if got, _ := os.ReadFile(filepath.Join(tr.dsk, "os_file.bin")); !bytes.Equal(got, data) {
		t.Error("committed bytes differ")
	}
	if _, err := tr.fs.Stat(root, "/mem/os_file.bin"); KindOf(err) != KindNotFound {
		t.Errorf("staged file kept after the move: %v", err)
	}
	if st := tr.store.Stats(); st.Req != 0 {
		t.Errorf("staging memory after the move: got Req %d, want 0", st.Req)
	}
	res, err = tr.fs.Rename(root, "/dsk/os_file.bin", "/dsk/OS_FILE.BIN")
	if err != nil || res != Renamed {
		t.Fatalf("rename within dsk: got %v, %v; want Renamed", res, err)
	}
	tests := []struct {
		name, from, to string
		kind           Kind
		side           Side
	}{
		{"identical", "/dsk/OS_FILE.BIN", "/dsk/OS_FILE.BIN", KindIdentical, SideNone},
		{"missing source", "/dsk/none", "/dsk/x", KindNotFound, SideSource},
		{"bad source fs", "/nofs/a", "/dsk/x", KindInvalidPath, SideSource},
		{"bad target fs", "/dsk/OS_FILE.BIN", "/nofs/x", KindInvalidPath, SideTarget},
		{"target is fs", "/dsk/OS_FILE.BIN", "/mem", KindInvalidPath, SideTarget},
		{"bad target name", "/dsk/OS_FILE.BIN", "/dsk/a\\b", KindInvalidName, SideTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tr.fs.Rename(root, tt.from, tt.to)
			wantKind(t, tt.name, err, tt.kind)
			if SideOf(err) != tt.side {
				t.Errorf("side: got %v, want %v", SideOf(err), tt.side)
			}
		})
	}
	if got, _ := os.ReadFile(filepath.Join(tr.dsk, "OS_FILE.BIN")); !bytes.Equal(got, data) {
		t.Error("failed renames touched the file")
	}
}

func TestStagedFileOwnership(t *testing.T) {
	tr := newTree(t)
	put(t, tr.fs, op1, "/mem/a", []byte("from op1"))
	err := tr.fs.Remove(op2, "/mem/a")
	wantKind(t, "other user removes", err, KindDenied)
	_, err = tr.fs.OpenWrite(op2, "/mem/a", WriteTrunc)
	wantKind(t, "other user overwrites", err, KindDenied)
	_, err = tr.fs.Rename(op2, "/mem/a", "/mem/b")
	wantKind(t, "other user renames", err, KindDenied)
	// While op1 writes, nobody else can touch it, not even a supervisor.
	w, err := tr.fs.OpenWrite(op1, "/mem/a", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.fs.Rename(root, "/mem/a", "/dsk/a")
	wantKind(t, "commit while written", err, KindBusy)
	err = tr.fs.Remove(root, "/mem/a")
	wantKind(t, "remove while written", err, KindBusy)
	w.WriteAt([]byte("v2"), 0)
	must(t, w.Close())
	if got := get(t, tr.fs, root, "/mem/a"); string(got) != "v2" {
		t.Errorf("got %q, want v2", got)
	}
	must(t, tr.fs.Remove(root, "/mem/a")) // supervisor may
}

func TestStagingBufferFull(t *testing.T) {
	tr := newTree(t)
	w, err := tr.fs.OpenWrite(root, "/mem/big", WriteTrunc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.WriteAt(make([]byte, 9<<20), 0)
	wantKind(t, "write past max", err, KindNoSpace)
	w.Abort()
	if st := tr.store.Stats(); st.Req != 0 || st.Busy != 0 {
		t.Errorf("after abort: got %+v, want Req=Busy=0", st)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckRefusalReasons: the two refusals vfs makes itself carry a
// Reason (and the kind), no text: a known file written straight into a
// checked file system, and a PATH redirect to a file system that is not
// mounted. Nothing is written by either.
func TestCheckRefusalReasons(t *testing.T) {
	dsk := t.TempDir()
	store, err := mem.New(mem.Config{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	checks := image.CheckAll &^ image.CheckSignature
	f, err := New(Config{
		Mounts: []policy.Mount{{Name: "dsk", Path: dsk}}, // no bio
		Mem:    store,
		Checks: checks,
		Device: image.Device{HardwareID: 1, HWLevel: 1, Profile: "STD"},
		Logger: hclog.New(&hclog.LoggerOptions{Output: hclog.DefaultOutput, Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	wantCheck := func(what string, err error, r image.Reason, k image.Kind) {
		t.Helper()
		wantKind(t, what, err, KindCheck)
		var ce *image.CheckError
		if !errors.As(err, &ce) || !errors.Is(err, image.ErrCheck) {
			t.Fatalf("%s: got %v, want an *image.CheckError", what, err)
		}
		if ce.Check != image.CheckPath || ce.Reason != r || ce.Kind != k {
			t.Errorf("%s: got %v %v %v, want %v %v %v", what, ce.Check, ce.Reason, ce.Kind, image.CheckPath, r, k)
		}
	}

	_, err = f.OpenWrite(root, "/dsk/X.BIN", WriteTrunc)
	wantCheck("direct write of a .BIN", err, image.ReasonTargetPath, 0)
	_, err = f.OpenWrite(root, "/dsk/x.bfw", WriteTrunc)
	wantCheck("direct write of a .BFW", err, image.ReasonTargetPath, image.KindFirmware)

	bios, err := image.Build(image.BuildOptions{Kind: image.KindBIOS, Name: "BIOS.BIN",
		Version: image.Version{Major: 2}, HWLevel: 1, HardwareIDs: []uint32{1}, Profile: "STD"}, make([]byte, 4<<10))
	if err != nil {
		t.Fatal(err)
	}
	put(t, f, root, "/mem/b.bin", bios)
	_, err = f.Rename(root, "/mem/b.bin", "/dsk/x.bin")
	wantCheck("BIOS to /dsk without /bio", err, image.ReasonAltFS, image.KindBIOS)
	if ents, _ := os.ReadDir(dsk); len(ents) != 0 {
		t.Errorf("/dsk written by a refused commit: %v", ents)
	}
	if got := get(t, f, root, "/mem/b.bin"); !bytes.Equal(got, bios) {
		t.Error("staged file changed by a refused commit")
	}
}
