package image

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"
)

// BuildOptions describe the image Build makes. Name and Profile are upper
// cased.
type BuildOptions struct {
	Kind        Kind
	Name        string // imprinted 8.3 name: NAME.BIN, or NAME.BFW for firmware
	Version     Version
	HWLevel     uint32
	MinBIOS     Version
	HardwareIDs []uint32           // 1 to MaxHardwareIDs
	Profile     string             // 0 to 8 of A-Z 0-9 _ -; empty fits every profile
	Firmware    []FirmwareReq      // applications only
	SignKey     ed25519.PrivateKey // nil: unsigned
}

// Build returns a complete image holding payload. It refuses options that
// would make an image no device accepts (no hardware ID, a firmware image
// not named .BFW, requirements on anything but an application).
func Build(o BuildOptions, payload []byte) ([]byte, error) {
	o.Name = strings.ToUpper(o.Name)
	o.Profile = strings.ToUpper(o.Profile)
	o.Firmware = slices.Clone(o.Firmware) // validate upper-cases the names
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("image: build: %w", err)
	}
	if len(payload) > math.MaxInt-HeaderSize-MaxRecordsLen-Align {
		return nil, errors.New("image: build: payload too large")
	}
	return build(o, payload), nil
}

func (o *BuildOptions) validate() error {
	if !o.Kind.Valid() {
		return fmt.Errorf("unknown kind %d", o.Kind)
	}
	if err := validName(o.Name); err != nil {
		return fmt.Errorf("name %q: %w", o.Name, err)
	}
	if fw := strings.HasSuffix(o.Name, ".BFW"); fw != (o.Kind == KindFirmware) {
		return fmt.Errorf("name %q: firmware images, and only they, are named .BFW", o.Name)
	}
	if err := validProfile(o.Profile); err != nil {
		return err
	}
	if len(o.HardwareIDs) == 0 || len(o.HardwareIDs) > MaxHardwareIDs {
		return fmt.Errorf("%d hardware IDs, want 1 to %d", len(o.HardwareIDs), MaxHardwareIDs)
	}
	if len(o.Firmware) > 0 && o.Kind != KindApplication {
		return errors.New("only applications require firmware")
	}
	if len(o.Firmware) > MaxRecords-1 {
		return fmt.Errorf("%d firmware requirements, at most %d", len(o.Firmware), MaxRecords-1)
	}
	seen := make(map[string]bool)
	for i, f := range o.Firmware {
		f.Name = strings.ToUpper(f.Name)
		if err := validName(f.Name); err != nil || !strings.HasSuffix(f.Name, ".BFW") {
			return fmt.Errorf("required firmware %q: want NAME.BFW", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("required firmware %s listed twice", f.Name)
		}
		seen[f.Name] = true
		o.Firmware[i] = f
	}
	if o.SignKey != nil && len(o.SignKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("signing key of %d bytes, want %d", len(o.SignKey), ed25519.PrivateKeySize)
	}
	return nil
}

// build lays out an image without validating o, so tests can make the
// malformed images the checks must refuse.
func build(o BuildOptions, payload []byte) []byte {
	be := binary.BigEndian
	recLen := len(o.Firmware) * (recordHeaderSize + firmwareBodySize)
	if o.SignKey != nil {
		recLen += signatureRecordSize
	}
	used := HeaderSize + len(payload) + recLen
	out := make([]byte, (used+Align-1)/Align*Align)

	h := out[:HeaderSize]
	copy(h[offMagic:], Magic)
	be.PutUint16(h[offFormat:], FormatVersion)
	be.PutUint16(h[offHeaderSize:], HeaderSize)
	h[offKind] = byte(o.Kind)
	h[offHWCount] = byte(len(o.HardwareIDs))
	copy(h[offName:offName+NameSize], o.Name)
	copy(h[offProfile:offProfile+ProfileSize], o.Profile)
	putVersion(h[offVersion:], o.Version)
	putVersion(h[offMinBIOS:], o.MinBIOS)
	be.PutUint32(h[offHWLevel:], o.HWLevel)
	be.PutUint64(h[offPayloadLen:], uint64(len(payload)))
	be.PutUint32(h[offPayloadCRC:], crc32.ChecksumIEEE(payload))
	be.PutUint32(h[offRecordsLen:], uint32(recLen))
	for i, id := range o.HardwareIDs {
		if i < MaxHardwareIDs {
			be.PutUint32(h[offHWIDs+4*i:], id)
		}
	}
	be.PutUint32(h[offHeaderCRC:], crc32.ChecksumIEEE(h[:offHeaderCRC]))

	off := copy(out[HeaderSize:], payload) + HeaderSize
	for _, f := range o.Firmware {
		be.PutUint16(out[off:], RecordFirmware)
		be.PutUint16(out[off+2:], firmwareBodySize)
		copy(out[off+4:off+4+NameSize], f.Name)
		putVersion(out[off+4+NameSize:], f.MinVersion)
		off += recordHeaderSize + firmwareBodySize
	}
	if o.SignKey != nil {
		digest := sha256.Sum256(out[:off])
		pub := o.SignKey.Public().(ed25519.PublicKey)
		be.PutUint16(out[off:], RecordSignature)
		be.PutUint16(out[off+2:], signatureBodySize)
		copy(out[off+4:], KeyID(pub))
		copy(out[off+4+KeyIDSize:], ed25519.Sign(o.SignKey, digest[:]))
	}
	return out
}
