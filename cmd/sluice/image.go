package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluice/sluice/image"
	"github.com/spf13/cobra"
)

const imageUsage = `usage:
  sluice image build --kind K --name NAME.BIN --version V [--hw-level N] [--min-bios V]
                     --hw ID[,ID...] [--profile P] [--requires NAME.BFW:V ...] [--sign-key FILE]
                     PAYLOAD OUT            (PAYLOAD "-" reads standard input)
  sluice image inspect [--json] [--key PUB ...] FILE
  sluice image keygen [--comment C] PRIV PUB
see docs/image-format.md`

// imageCmd is "sluice image build|inspect|keygen" (docs/image-format.md).
// Each subcommand declares its flags on a flag.FlagSet, which cobra
// parses (pflag.AddGoFlagSet) and lists in --help and the man page.
func (a *app) imageCmd() *cobra.Command {
	sub := func(use, short string, nargs int, define func(*flag.FlagSet, io.Reader, io.Writer) func([]string) error) *cobra.Command {
		gfs := flag.NewFlagSet("image "+strings.Fields(use)[0], flag.ContinueOnError)
		runf := define(gfs, a.stdin, a.stdout)
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(nargs),
			RunE: a.act(func(_ *cobra.Command, args []string) error { return runf(args) })}
		c.Flags().AddGoFlagSet(gfs)
		return c
	}
	g := a.group("image", "Build, inspect and sign device images (docs/image-format.md)",
		sub("build PAYLOAD OUT --kind K --name NAME.BIN --version V --hw ID[,ID...] [flags]",
			"Build a device image from a payload (PAYLOAD \"-\" reads standard input)", 2, imageBuild),
		sub("inspect FILE [--json] [--key PUB ...]", "Show an image's header, checksums and signature", 1, imageInspect),
		sub("keygen PRIV PUB [--comment C]", "Generate an Ed25519 signing key pair", 2, imageKeygen),
		a.imageCheckCmd(),
	)
	g.Long = imageUsage
	return g
}

// imageCheckCmd is `sluice image check FILE`: the checks' verdicts
// against this device, without uploading (imagecheck.go).
func (a *app) imageCheckCmd() *cobra.Command {
	c := &cobra.Command{Use: "check FILE [--name NAME.BIN] [--json] [--config FILE] [--data DIR]",
		Short: "Show each check's verdict on an image against this device's identity, keys and state, without uploading"}
	c.Flags().String("name", "", "name the file would be stored under (default: FILE's base name)")
	c.Flags().Bool("json", false, "print one JSON object (file, image, device, checks, verdict) instead of the table")
	c.Flags().String("config", "", "configuration file (default DATA/sluice.toml)")
	c.Flags().String("data", defaultData, "data directory")
	return a.legacy(c, func(args []string) error { return imageCheck(args, a.stdout) })
}

// imageListFlag is a repeatable string flag.
type imageListFlag []string

func (l *imageListFlag) String() string     { return strings.Join(*l, ",") }
func (l *imageListFlag) Set(s string) error { *l = append(*l, s); return nil }

func imageBuild(fs *flag.FlagSet, stdin io.Reader, stdout io.Writer) func([]string) error {
	kind := fs.String("kind", "", "application, bios, firmware or boot (required)")
	name := fs.String("name", "", "imprinted 8.3 name, NAME.BIN or NAME.BFW (required)")
	version := fs.String("version", "", "version, e.g. 11.7.3 (required)")
	hwLevel := fs.Uint("hw-level", 0, "hardware level")
	minBIOS := fs.String("min-bios", "0.0", "minimum BIOS version")
	var hw, requires imageListFlag
	fs.Var(&hw, "hw", "supported hardware IDs, comma-separated, repeatable (at least one)")
	profile := fs.String("profile", "", "profile extension; empty fits every profile")
	fs.Var(&requires, "requires", "required firmware NAME.BFW:MINVERSION, repeatable (applications)")
	signKey := fs.String("sign-key", "", "PEM PKCS#8 Ed25519 private key to sign with")
	return func(pos []string) error {
		var err error
		if len(pos) != 2 {
			return usageError{errors.New("image build: want PAYLOAD and OUT\n" + imageUsage)}
		}
		if *kind == "" || *name == "" || *version == "" || len(hw) == 0 {
			return usageError{errors.New("image build: --kind, --name, --version and --hw are required")}
		}
		o := image.BuildOptions{Name: *name, Profile: *profile}
		if o.Kind, err = image.ParseKind(*kind); err != nil {
			return usageError{err}
		}
		if o.Version, err = image.ParseVersion(*version); err != nil {
			return usageError{err}
		}
		if o.MinBIOS, err = image.ParseVersion(*minBIOS); err != nil {
			return usageError{err}
		}
		if *hwLevel > 0xffffffff {
			return usageError{fmt.Errorf("image build: --hw-level %d is over 32 bits", *hwLevel)}
		}
		o.HWLevel = uint32(*hwLevel)
		for _, list := range hw {
			for _, s := range strings.Split(list, ",") {
				id, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
				if err != nil {
					return usageError{fmt.Errorf("image build: --hw %q: want a 32-bit number (0x1a2b or 6699)", s)}
				}
				o.HardwareIDs = append(o.HardwareIDs, uint32(id))
			}
		}
		for _, r := range requires {
			n, vs, ok := strings.Cut(r, ":")
			if !ok {
				return usageError{fmt.Errorf("image build: --requires %q: want NAME.BFW:VERSION", r)}
			}
			ver, err := image.ParseVersion(vs)
			if err != nil {
				return usageError{err}
			}
			o.Firmware = append(o.Firmware, image.FirmwareReq{Name: n, MinVersion: ver})
		}
		if *signKey != "" {
			data, err := os.ReadFile(*signKey)
			if err != nil {
				return fmt.Errorf("image build: %w", err)
			}
			if o.SignKey, err = image.ParsePrivateKey(data); err != nil {
				return fmt.Errorf("image build: %s: %w", *signKey, err)
			}
		}

		var payload []byte
		if pos[0] == "-" {
			payload, err = io.ReadAll(stdin)
		} else {
			payload, err = os.ReadFile(pos[0])
		}
		if err != nil {
			return fmt.Errorf("image build: read payload: %w", err)
		}
		out, err := image.Build(o, payload)
		if err != nil {
			return usageError{err}
		}
		if err := imageWriteAtomic(pos[1], out, 0o644); err != nil {
			return fmt.Errorf("image build: %w", err)
		}
		im, err := image.Parse(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			return fmt.Errorf("image build: the image does not parse back: %w", err)
		}
		signed := "unsigned"
		if im.Signed() {
			signed = "signed, key id " + hex.EncodeToString(im.KeyID)
		}
		fmt.Fprintf(stdout, "wrote %s: %s %s %s, %d bytes, payload crc32 %08x, %s\n",
			pos[1], im.Kind, im.Name, im.Version, len(out), im.PayloadCRC, signed)
		return nil
	}
}

// imageWriteAtomic writes data to path through a temporary file in the
// same directory and a rename, so a failed build leaves no partial image.
func imageWriteAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// imageInspection is what "image inspect" shows; the JSON form is for scripts.
type imageInspection struct {
	File        string              `json:"file"`
	Size        int64               `json:"size"`
	Kind        string              `json:"kind"`
	Name        string              `json:"name"`
	Version     string              `json:"version"`
	HWLevel     uint32              `json:"hw_level"`
	MinBIOS     string              `json:"min_bios"`
	HardwareIDs []uint32            `json:"hardware_ids"`
	Profile     string              `json:"profile"`
	PayloadLen  uint64              `json:"payload_length"`
	PayloadCRC  string              `json:"payload_crc32"`
	CRCOK       bool                `json:"crc_ok"`
	Firmware    []imageFirmwareJSON `json:"requires"`
	Signature   string              `json:"signature"` // unsigned, not verified, valid, invalid, untrusted key
	KeyID       string              `json:"key_id,omitempty"`
	SignedLen   int64               `json:"signed_length,omitempty"`
	SHA256      string              `json:"sha256"`
}

type imageFirmwareJSON struct {
	Name       string `json:"name"`
	MinVersion string `json:"min_version"`
}

func imageInspect(fs *flag.FlagSet, stdin io.Reader, stdout io.Writer) func([]string) error {
	asJSON := fs.Bool("json", false, "print JSON")
	var keyFiles imageListFlag
	fs.Var(&keyFiles, "key", "public key file to verify the signature with, repeatable")
	return func(pos []string) error {
		var err error
		if len(pos) != 1 {
			return usageError{errors.New("image inspect: want one FILE\n" + imageUsage)}
		}
		var keys []ed25519.PublicKey
		for _, kf := range keyFiles {
			data, err := os.ReadFile(kf)
			if err != nil {
				return fmt.Errorf("image inspect: %w", err)
			}
			k, err := image.ParsePublicKey(data)
			if err != nil {
				return fmt.Errorf("image inspect: %s: %w", kf, err)
			}
			keys = append(keys, k)
		}

		path := pos[0]
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("image inspect: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("image inspect: %w", err)
		}
		im, err := image.Parse(f, st.Size())
		if err != nil {
			return fmt.Errorf("image inspect: %s: %w", path, err)
		}
		d := im.NewDigest()
		if _, err := io.Copy(d, io.NewSectionReader(f, 0, st.Size())); err != nil {
			return fmt.Errorf("image inspect: %s: %w", path, err)
		}

		in := imageInspection{
			File: path, Size: im.Size, Kind: im.Kind.String(), Name: im.Name, Version: im.Version.String(),
			HWLevel: im.HWLevel, MinBIOS: im.MinBIOS.String(), HardwareIDs: im.HardwareIDs, Profile: im.Profile,
			PayloadLen: im.PayloadLen, PayloadCRC: fmt.Sprintf("%08x", im.PayloadCRC),
			CRCOK: d.PayloadCRC() == im.PayloadCRC, Firmware: []imageFirmwareJSON{}, Signature: "unsigned",
		}
		for _, fw := range im.Firmware {
			in.Firmware = append(in.Firmware, imageFirmwareJSON{fw.Name, fw.MinVersion.String()})
		}
		if in.HardwareIDs == nil {
			in.HardwareIDs = []uint32{}
		}
		sum := d.FileSHA256()
		in.SHA256 = hex.EncodeToString(sum[:])
		var sigErr error
		if im.Signed() {
			in.KeyID, in.SignedLen = hex.EncodeToString(im.KeyID), im.SignedLen
			in.Signature = "not verified"
			if len(keys) > 0 {
				digest, _ := d.SignedSHA256()
				sigErr = im.VerifySignature(digest, keys)
				switch {
				case sigErr == nil:
					in.Signature = "valid"
				case errors.Is(sigErr, image.ErrUnknownKey):
					in.Signature = "untrusted key"
				default:
					in.Signature = "invalid"
				}
			}
		}

		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(in); err != nil {
				return err
			}
		} else if err := printImageInspection(stdout, &in); err != nil {
			return err
		}
		switch {
		case !in.CRCOK:
			return fmt.Errorf("image inspect: %s: bad payload crc32: computed %08x, header says %08x", path, d.PayloadCRC(), im.PayloadCRC)
		case sigErr != nil:
			return fmt.Errorf("image inspect: %s: %w", path, sigErr)
		}
		return nil
	}
}

func printImageInspection(w io.Writer, in *imageInspection) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("file", "%s", in.File)
	row("size", "%d bytes", in.Size)
	row("kind", "%s", in.Kind)
	row("name", "%s", in.Name)
	row("version", "%s", in.Version)
	row("hw level", "%d", in.HWLevel)
	row("min bios", "%s", in.MinBIOS)
	ids := make([]string, len(in.HardwareIDs))
	for i, id := range in.HardwareIDs {
		ids[i] = fmt.Sprintf("%#x", id)
	}
	row("hardware ids", "%s", strings.Join(ids, ", "))
	prof := in.Profile
	if prof == "" {
		prof = "(any)"
	}
	row("profile", "%s", prof)
	crc := "ok"
	if !in.CRCOK {
		crc = "BAD"
	}
	row("payload", "%d bytes, crc32 %s (%s)", in.PayloadLen, in.PayloadCRC, crc)
	if len(in.Firmware) == 0 {
		row("requires", "none")
	}
	for _, fw := range in.Firmware {
		row("requires", "%s >= %s", fw.Name, fw.MinVersion)
	}
	switch in.Signature {
	case "unsigned":
		row("signature", "none")
	case "not verified":
		row("signature", "key id %s, not verified (give --key PUB)", in.KeyID)
	default:
		row("signature", "key id %s, %s", in.KeyID, in.Signature)
	}
	row("sha256", "%s", in.SHA256)
	return tw.Flush()
}

func imageKeygen(fs *flag.FlagSet, stdin io.Reader, stdout io.Writer) func([]string) error {
	comment := fs.String("comment", "sluice image signing key", "comment for the public key line")
	return func(pos []string) error {
		var err error
		if len(pos) != 2 {
			return usageError{errors.New("image keygen: want PRIV and PUB\n" + imageUsage)}
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("image keygen: %w", err)
		}
		privPEM, err := image.MarshalPrivateKey(priv)
		if err != nil {
			return err
		}
		// O_EXCL: never overwrite a signing key.
		if err := imageWriteNew(pos[0], privPEM, 0o600); err != nil {
			return fmt.Errorf("image keygen: %w", err)
		}
		if err := imageWriteNew(pos[1], image.MarshalPublicKey(pub, *comment), 0o644); err != nil {
			os.Remove(pos[0])
			return fmt.Errorf("image keygen: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s (private, mode 0600) and %s; key id %s\n", pos[0], pos[1], hex.EncodeToString(image.KeyID(pub)))
		return nil
	}
}

// imageWriteNew creates path, which must not exist, with data and mode.
func imageWriteNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
