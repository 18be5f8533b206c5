package image_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/sluice/sluice/image"
)

type state struct{}

func (state) Stored(image.Kind, string) (image.Version, bool) {
	return image.Version{Major: 11, Minor: 6}, true
}
func (state) ActiveApp() (string, []image.FirmwareReq, bool) { return "OS_FILE.BIN", nil, true }

func Example() {
	// A vendor builds and signs an image.
	_, key, _ := ed25519.GenerateKey(nil)
	ver, _ := image.ParseVersion("11.7.3")
	file, err := image.Build(image.BuildOptions{
		Kind: image.KindApplication, Name: "OS_FILE.BIN", Version: ver, HWLevel: 5,
		HardwareIDs: []uint32{0x1a2b}, Profile: "STD", SignKey: key,
	}, []byte("payload"))
	if err != nil {
		panic(err)
	}

	// The device checks it: header first, then one pass over the bytes.
	dev := image.Device{HardwareID: 0x1a2b, HWLevel: 5, Profile: "STD",
		TrustedKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}
	staged := bytes.NewReader(file)
	im, err := image.Precheck(staged, int64(len(file)), "os_file.bin", dev, state{}, image.CheckAll)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	d := im.NewDigest()
	var disk bytes.Buffer // the commit's temporary file
	io.Copy(io.MultiWriter(&disk, d), io.NewSectionReader(staged, 0, int64(len(file))))
	if err := image.Postcheck(im, d, dev, image.CheckAll); err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println(image.TargetFS(im), im.Name, im.Version, len(file))
	// Output: dsk OS_FILE.BIN 11.7.3 384
}

func ExamplePrecheck_refused() {
	ver, _ := image.ParseVersion("11.7.3")
	file, _ := image.Build(image.BuildOptions{
		Kind: image.KindApplication, Name: "OS_FILE.BIN", Version: ver, HWLevel: 3, HardwareIDs: []uint32{0x1a2b},
	}, nil)
	dev := image.Device{HardwareID: 0x1a2b, HWLevel: 5}
	_, err := image.Precheck(bytes.NewReader(file), int64(len(file)), "OS_FILE.BIN", dev, state{}, image.CheckAll&^image.CheckSignature)
	fmt.Println(err)
	var ce *image.CheckError
	if errors.As(err, &ce) {
		// What a front end maps to its reply code and the manual's text.
		fmt.Println(ce.Check, "/", ce.Reason, "/", ce.Kind, ce.Rcvd, ce.Reqd)
	}
	// Output:
	// Application not supported by hardware level (rcvd. 3, reqd. 5)
	// hardware / hardware level too low / application 3 5
}

func ExampleCheck_Letters() {
	on, _ := image.ParseChecks([]string{"all", "no crc", "no signature"})
	fmt.Println(on.Letters())
	fmt.Println(image.CheckAll.Letters())
	// Output:
	// P-LBFVRDSUHWE-
	// ALL
}
