package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice/sluice/image"
)

func runImage(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), append([]string{"image"}, args...), strings.NewReader(stdin), &out, io.Discard)
	return out.String(), err
}

func TestImageCommands(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	payload := bytes.Repeat([]byte("firmware bytes "), 100)
	if err := os.WriteFile(p("payload.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}

	// keygen
	out, err := runImage(t, "", "keygen", p("sign.key"), p("sign.pub"))
	if err != nil {
		t.Fatalf("keygen: %v", err)
	}
	if !strings.Contains(out, "key id ") {
		t.Errorf("keygen output %q", out)
	}
	if st, err := os.Stat(p("sign.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode: %v, %v", st.Mode(), err)
	}
	pubLine, _ := os.ReadFile(p("sign.pub"))
	if !strings.HasPrefix(string(pubLine), "ssh-ed25519 ") {
		t.Errorf("public key file %q", pubLine)
	}
	if _, err := runImage(t, "", "keygen", p("sign.key"), p("other.pub")); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	if _, err := os.Stat(p("other.pub")); err == nil {
		t.Error("keygen wrote a public key without its private key")
	}

	// build, flags after the positionals
	out, err = runImage(t, "", "build", p("payload.bin"), p("os_file.bin"),
		"--kind", "application", "--name", "os_file.bin", "--version", "11.7.3", "--hw-level", "5",
		"--min-bios", "2.1", "--hw", "0x1a2b,0x1a2c", "--hw", "77", "--profile", "std",
		"--requires", "DSP.BFW:1.2", "--requires", "modem.bfw:3.0.1", "--sign-key", p("sign.key"))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if !strings.HasPrefix(out, "wrote "+p("os_file.bin")+": application OS_FILE.BIN 11.7.3, ") || !strings.Contains(out, "signed, key id ") {
		t.Errorf("build output %q", out)
	}

	// inspect, human
	out, err = runImage(t, "", "inspect", p("os_file.bin"))
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	for _, want := range []string{
		"kind          application", "name          OS_FILE.BIN", "version       11.7.3", "hw level      5",
		"min bios      2.1", "hardware ids  0x1a2b, 0x1a2c, 0x4d", "profile       STD",
		"payload       1500 bytes, crc32 ", "(ok)", "requires      DSP.BFW >= 1.2", "requires      MODEM.BFW >= 3.0.1",
		"not verified (give --key PUB)", "sha256        ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}

	// inspect --json --key
	out, err = runImage(t, "", "inspect", "--json", p("os_file.bin"), "--key", p("sign.pub"))
	if err != nil {
		t.Fatalf("inspect --json: %v", err)
	}
	var in imageInspection
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect --json output: %v\n%s", err, out)
	}
	if in.Kind != "application" || in.Name != "OS_FILE.BIN" || in.Version != "11.7.3" || !in.CRCOK ||
		in.Signature != "valid" || len(in.HardwareIDs) != 3 || in.HardwareIDs[2] != 77 || len(in.Firmware) != 2 ||
		in.Size%128 != 0 || len(in.SHA256) != 64 {
		t.Errorf("inspect --json = %+v", in)
	}

	// a key that did not sign it
	if _, err := runImage(t, "", "keygen", p("other.key"), p("other.pub")); err != nil {
		t.Fatal(err)
	}
	out, err = runImage(t, "", "inspect", "--key", p("other.pub"), p("os_file.bin"))
	if !errors.Is(err, image.ErrUnknownKey) || !strings.Contains(out, "untrusted key") {
		t.Errorf("inspect with another key: %v\n%s", err, out)
	}

	// a bad payload byte: shown, and a non-zero exit
	data, _ := os.ReadFile(p("os_file.bin"))
	data[image.HeaderSize+3] ^= 1
	os.WriteFile(p("bad.bin"), data, 0o644)
	out, err = runImage(t, "", "inspect", p("bad.bin"))
	if err == nil || !strings.Contains(err.Error(), "bad payload crc32") || !strings.Contains(out, "(BAD)") {
		t.Errorf("inspect of a bad image: %v\n%s", err, out)
	}
	out, err = runImage(t, "", "inspect", "--key", p("sign.pub"), "--json", p("bad.bin"))
	if err == nil || !strings.Contains(out, `"signature": "invalid"`) {
		t.Errorf("inspect --json of a bad image: %v\n%s", err, out)
	}

	// not an image: one line, nothing on stdout
	out, err = runImage(t, "", "inspect", p("payload.bin"))
	if err == nil || out != "" || strings.Contains(err.Error(), "\n") || !errors.Is(err, image.ErrNotImage) {
		t.Errorf("inspect of a non-image = %q, %v", out, err)
	}

	// payload from standard input, unsigned BIOS
	out, err = runImage(t, "bios code", "build", "--kind=bios", "--name=BIOS.BIN", "--version=2.3", "--hw=7", "-", p("bios.bin"))
	if err != nil || !strings.Contains(out, "bios BIOS.BIN 2.3, 384 bytes") || !strings.HasSuffix(out, "unsigned\n") {
		t.Fatalf("build from stdin: %q, %v", out, err)
	}
	out, err = runImage(t, "", "inspect", p("bios.bin"))
	if err != nil || !strings.Contains(out, "signature     none") || !strings.Contains(out, "profile       (any)") {
		t.Errorf("inspect bios: %v\n%s", err, out)
	}
}

func TestImageCommandErrors(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "p")
	os.WriteFile(pl, []byte("x"), 0o644)
	out := filepath.Join(dir, "o.bin")
	base := []string{"build", "--kind", "application", "--name", "A.BIN", "--version", "1.0", "--hw", "1", pl, out}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	tests := []struct {
		name  string
		args  []string
		usage bool
	}{
		{"no command", nil, true},
		{"unknown command", []string{"sign"}, true},
		{"build no args", []string{"build"}, true},
		{"build one positional", []string{"build", "--kind", "application", "--name", "A.BIN", "--version", "1.0", "--hw", "1", pl}, true},
		{"build missing kind", []string{"build", "--name", "A.BIN", "--version", "1.0", "--hw", "1", pl, out}, true},
		{"build missing hw", []string{"build", "--kind", "application", "--name", "A.BIN", "--version", "1.0", pl, out}, true},
		{"build bad kind", with("--kind", "kernel"), true},
		{"build bad version", with("--version", "1.x"), true},
		{"build bad min bios", with("--min-bios", "two"), true},
		{"build bad hw", with("--hw", "0xzz"), true},
		{"build hw over 32 bits", with("--hw", "0x100000000"), true},
		{"build hw level over 32 bits", with("--hw-level", "4294967296"), true},
		{"build bad requires", with("--requires", "DSP.BFW"), true},
		{"build requires bad version", with("--requires", "DSP.BFW:x"), true},
		{"build bad name", with("--name", "TOOLONGNAME.BIN"), true},
		{"build unknown flag", with("--sign", "k"), true},
		{"build missing sign key", with("--sign-key", filepath.Join(dir, "none")), false},
		{"build sign key not a key", with("--sign-key", pl), false},
		{"build missing payload", []string{"build", "--kind", "application", "--name", "A.BIN", "--version", "1.0", "--hw", "1", filepath.Join(dir, "none"), out}, false},
		{"inspect no file", []string{"inspect"}, true},
		{"inspect missing file", []string{"inspect", filepath.Join(dir, "none")}, false},
		{"inspect bad key", []string{"inspect", "--key", pl, pl}, false},
		{"keygen one arg", []string{"keygen", filepath.Join(dir, "k")}, true},
	}
	for _, tt := range tests {
		_, err := runImage(t, "", tt.args...)
		var ue usageError
		if err == nil {
			t.Errorf("%s: got nil error", tt.name)
		} else if errors.As(err, &ue) != tt.usage {
			t.Errorf("%s: %v: usage error %v, want %v", tt.name, err, !tt.usage, tt.usage)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed build left an output file")
	}
	if help, err := runImage(t, "", "help"); err != nil || !strings.Contains(help, "sluice image build") {
		t.Errorf("help = %q, %v", help, err)
	}
}
