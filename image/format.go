package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Layout constants. docs/image-format.md describes every byte.
const (
	// Magic opens every image. Like PNG's signature it holds a high-bit
	// byte, CR LF, ^Z and LF, so that a transfer in ASCII mode (manual
	// §5.1.5) or through a 7-bit channel visibly breaks it.
	Magic = "\x89SLU\r\n\x1a\n"

	FormatVersion  = 1    // the only format version this package reads and writes
	HeaderSize     = 256  // the fixed header; the payload starts right after it
	Align          = 128  // the total length is a multiple of this (manual §2.1.4.8)
	NameSize       = 12   // imprinted 8.3 name, NUL padded
	ProfileSize    = 8    // profile extension, NUL padded
	MaxHardwareIDs = 32   // slots for supported hardware IDs in the header
	MaxRecords     = 64   // records after the payload
	MaxRecordsLen  = 8192 // bytes of records after the payload
	KeyIDSize      = 8    // first bytes of SHA-256(public key)

	// Record types. A type with RecordOptional set may be skipped by a
	// reader that does not know it; any other unknown type makes the file
	// malformed.
	RecordFirmware  uint16 = 0x0001
	RecordSignature uint16 = 0x0002
	RecordOptional  uint16 = 0x8000

	recordHeaderSize    = 4                                    // type, body length
	firmwareBodySize    = NameSize + 8                         // name, minimum version
	signatureBodySize   = KeyIDSize + 64                       // key id, Ed25519 signature
	signatureRecordSize = recordHeaderSize + signatureBodySize // 76
)

// Header field offsets.
const (
	offMagic      = 0
	offFormat     = 8
	offHeaderSize = 10
	offKind       = 12
	offHWCount    = 13
	offFlags      = 14
	offName       = 16
	offProfile    = 28
	offVersion    = 36
	offMinBIOS    = 44
	offHWLevel    = 52
	offPayloadLen = 56
	offPayloadCRC = 64
	offRecordsLen = 68
	offHWIDs      = 72
	offReserved   = 200
	offHeaderCRC  = 252
)

// Parse errors. Every error Parse returns for a bad file is a *ParseError
// wrapping one of these; any other error is an I/O error of the reader.
var (
	ErrNotImage  = errors.New("not an image")         // no magic: some other file
	ErrFormat    = errors.New("malformed image")      // magic, but a field or record is invalid
	ErrLength    = errors.New("bad image length")     // the size does not match the declared lengths
	ErrHeaderCRC = errors.New("bad image header crc") // the header checksum does not match
)

// ParseError says what is wrong with a file and where. Kind is one of
// ErrNotImage, ErrFormat, ErrLength and ErrHeaderCRC, and errors.Is matches
// it.
type ParseError struct {
	Kind error
	Off  int64  // offset of the offending field or record
	Msg  string // what is wrong, for the log
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("image: %v: %s (offset %d)", e.Kind, e.Msg, e.Off)
}

func (e *ParseError) Unwrap() error { return e.Kind }

func perr(kind error, off int64, format string, args ...any) *ParseError {
	return &ParseError{Kind: kind, Off: off, Msg: fmt.Sprintf(format, args...)}
}

// Image is a parsed known file: its header and the records after its
// payload. The payload itself is never read by Parse; Digest checks it.
type Image struct {
	Kind        Kind
	Name        string  // imprinted 8.3 name, upper case ("OS_FILE.BIN")
	Version     Version // imprinted version
	HWLevel     uint32  // hardware level the image supports
	MinBIOS     Version // oldest BIOS the image runs on
	HardwareIDs []uint32
	Profile     string // profile extension, upper case; "" fits every profile
	PayloadLen  uint64
	PayloadCRC  uint32 // CRC-32 (IEEE) of the payload
	Firmware    []FirmwareReq
	KeyID       []byte // nil if unsigned
	Signature   []byte // Ed25519 signature; nil if unsigned
	Size        int64  // total file length
	SignedLen   int64  // bytes covered by the signature digest (0 if unsigned)

	header [HeaderSize]byte // as read, for Digest to confirm the streamed copy
	tail   []byte           // records and padding as read, likewise
}

// Signed reports whether the image carries a signature record.
func (im *Image) Signed() bool { return im.Signature != nil }

// payloadEnd is the offset of the first byte after the payload.
func (im *Image) payloadEnd() int64 { return HeaderSize + int64(im.PayloadLen) }

// readFull reads len(p) bytes at off; a short read is an error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("image: read %d bytes at offset %d: %w", len(p), off, err)
}

// asciiMangled are the magic as a text-mode transfer leaves it (CR LF to
// LF, LF to CR LF). Such a file is reported as a length error, which is
// what the manual (§5.1.5) tells operators to expect from ASCII mode.
var asciiMangled = []string{"\x89SLU\n\x1a\n", "\x89SLU\r\r\n\x1a\r\n"}

// Parse reads and validates the header and the records of an image of size
// bytes. It reads at most HeaderSize + MaxRecordsLen + Align bytes, whatever
// size claims, and never the payload: the payload CRC and the signature are
// checked while the file is streamed (see Digest).
func Parse(r io.ReaderAt, size int64) (*Image, error) {
	if size < 0 {
		return nil, perr(ErrLength, 0, "negative size %d", size)
	}
	im := &Image{Size: size}
	h := im.header[:]
	n := min(size, HeaderSize)
	if err := readFull(r, h[:n], 0); err != nil {
		return nil, err
	}
	m := min(n, int64(len(Magic)))
	if !bytes.Equal(h[:m], []byte(Magic[:m])) || size == 0 {
		for _, am := range asciiMangled {
			if int64(len(am)) <= n && string(h[:len(am)]) == am {
				return nil, perr(ErrLength, 0, "line ends changed: the file was sent in ASCII mode")
			}
		}
		return nil, perr(ErrNotImage, 0, "no image magic")
	}
	if n < HeaderSize {
		return nil, perr(ErrLength, size, "file is %d bytes, shorter than the %d-byte header", size, HeaderSize)
	}
	be := binary.BigEndian
	if v := be.Uint16(h[offFormat:]); v != FormatVersion {
		return nil, perr(ErrFormat, offFormat, "format version %d, want %d", v, FormatVersion)
	}
	if v := be.Uint16(h[offHeaderSize:]); v != HeaderSize {
		return nil, perr(ErrFormat, offHeaderSize, "header size %d, want %d", v, HeaderSize)
	}
	if got, want := crc32.ChecksumIEEE(h[:offHeaderCRC]), be.Uint32(h[offHeaderCRC:]); got != want {
		return nil, perr(ErrHeaderCRC, offHeaderCRC, "header crc32 is %08x, computed %08x", want, got)
	}
	if err := im.decodeHeader(h); err != nil {
		return nil, err
	}

	// Lengths. PayloadLen <= size keeps the sum below 2^64.
	recLen := be.Uint32(h[offRecordsLen:])
	if recLen > MaxRecordsLen {
		return nil, perr(ErrFormat, offRecordsLen, "records length %d is over %d", recLen, MaxRecordsLen)
	}
	if size%Align != 0 {
		return nil, perr(ErrLength, size, "file is %d bytes, not a multiple of %d", size, Align)
	}
	if im.PayloadLen > uint64(size) {
		return nil, perr(ErrLength, offPayloadLen, "payload length %d is over the file size %d", im.PayloadLen, size)
	}
	used := uint64(HeaderSize) + im.PayloadLen + uint64(recLen)
	if want := (used + Align - 1) / Align * Align; want != uint64(size) {
		return nil, perr(ErrLength, size, "file is %d bytes, the header declares %d", size, want)
	}

	// Records and padding: at most MaxRecordsLen+Align-1 bytes.
	start := im.payloadEnd()
	im.tail = make([]byte, size-start)
	if err := readFull(r, im.tail, start); err != nil {
		return nil, err
	}
	if err := im.decodeRecords(im.tail[:recLen], start); err != nil {
		return nil, err
	}
	for i, c := range im.tail[recLen:] {
		if c != 0 {
			return nil, perr(ErrFormat, start+int64(recLen)+int64(i), "padding is not zero")
		}
	}
	return im, nil
}

// decodeHeader fills im from a header whose magic, format, size and CRC are
// already checked.
func (im *Image) decodeHeader(h []byte) error {
	be := binary.BigEndian
	im.Kind = Kind(h[offKind])
	if !im.Kind.Valid() {
		return perr(ErrFormat, offKind, "unknown kind %d", h[offKind])
	}
	if f := be.Uint16(h[offFlags:]); f != 0 {
		return perr(ErrFormat, offFlags, "flags %#04x, want 0", f)
	}
	name, err := fixedString(h[offName : offName+NameSize])
	if err == nil {
		err = validName(name)
	}
	if err != nil {
		return perr(ErrFormat, offName, "name %q: %v", name, err)
	}
	if (im.Kind == KindFirmware) != (name[len(name)-3:] == "BFW") {
		return perr(ErrFormat, offName, "name %q: firmware images, and only they, are named .BFW", name)
	}
	im.Name = name
	prof, err := fixedString(h[offProfile : offProfile+ProfileSize])
	if err == nil {
		err = validProfile(prof)
	}
	if err != nil {
		return perr(ErrFormat, offProfile, "profile %q: %v", prof, err)
	}
	im.Profile = prof
	im.Version = getVersion(h[offVersion:])
	im.MinBIOS = getVersion(h[offMinBIOS:])
	im.HWLevel = be.Uint32(h[offHWLevel:])
	im.PayloadLen = be.Uint64(h[offPayloadLen:])
	im.PayloadCRC = be.Uint32(h[offPayloadCRC:])
	count := int(h[offHWCount])
	if count > MaxHardwareIDs {
		return perr(ErrFormat, offHWCount, "%d hardware IDs, at most %d", count, MaxHardwareIDs)
	}
	im.HardwareIDs = make([]uint32, count)
	for i := range MaxHardwareIDs {
		id := be.Uint32(h[offHWIDs+4*i:])
		if i < count {
			im.HardwareIDs[i] = id
		} else if id != 0 {
			return perr(ErrFormat, int64(offHWIDs+4*i), "unused hardware ID slot %d is not zero", i)
		}
	}
	for i, c := range h[offReserved:offHeaderCRC] {
		if c != 0 {
			return perr(ErrFormat, int64(offReserved+i), "reserved byte is not zero")
		}
	}
	return nil
}

// decodeRecords parses the records area rec, which starts at file offset
// base.
func (im *Image) decodeRecords(rec []byte, base int64) error {
	be := binary.BigEndian
	for off, count := 0, 0; off < len(rec); {
		at := base + int64(off)
		if count++; count > MaxRecords {
			return perr(ErrFormat, at, "more than %d records", MaxRecords)
		}
		if len(rec)-off < recordHeaderSize {
			return perr(ErrFormat, at, "record header runs past the records area")
		}
		typ, n := be.Uint16(rec[off:]), int(be.Uint16(rec[off+2:]))
		if n > len(rec)-off-recordHeaderSize {
			return perr(ErrFormat, at, "record of %d bytes runs past the records area", n)
		}
		if im.Signature != nil {
			return perr(ErrFormat, at, "record after the signature record")
		}
		body := rec[off+recordHeaderSize : off+recordHeaderSize+n]
		switch typ {
		case RecordFirmware:
			if n != firmwareBodySize {
				return perr(ErrFormat, at, "firmware record of %d bytes, want %d", n, firmwareBodySize)
			}
			name, err := fixedString(body[:NameSize])
			if err == nil {
				err = validName(name)
			}
			if err == nil && name[len(name)-3:] != "BFW" {
				err = errors.New("firmware names end in .BFW")
			}
			if err != nil {
				return perr(ErrFormat, at, "firmware name %q: %v", name, err)
			}
			for _, f := range im.Firmware {
				if f.Name == name {
					return perr(ErrFormat, at, "firmware %s required twice", name)
				}
			}
			im.Firmware = append(im.Firmware, FirmwareReq{Name: name, MinVersion: getVersion(body[NameSize:])})
		case RecordSignature:
			if n != signatureBodySize {
				return perr(ErrFormat, at, "signature record of %d bytes, want %d", n, signatureBodySize)
			}
			im.KeyID = bytes.Clone(body[:KeyIDSize])
			im.Signature = bytes.Clone(body[KeyIDSize:])
			im.SignedLen = at
		default:
			if typ == 0 || typ&RecordOptional == 0 {
				return perr(ErrFormat, at, "unknown record type %#04x", typ)
			}
		}
		off += recordHeaderSize + n
	}
	return nil
}

// fixedString decodes a NUL-padded ASCII field: no NUL inside the text.
func fixedString(b []byte) (string, error) {
	s, pad, _ := bytes.Cut(b, []byte{0})
	if len(bytes.Trim(pad, "\x00")) != 0 {
		return string(s), errors.New("text after the NUL padding")
	}
	return string(s), nil
}

func getVersion(b []byte) Version {
	be := binary.BigEndian
	return Version{be.Uint16(b), be.Uint16(b[2:]), be.Uint16(b[4:]), be.Uint16(b[6:])}
}

func putVersion(b []byte, v Version) {
	be := binary.BigEndian
	be.PutUint16(b, v.Major)
	be.PutUint16(b[2:], v.Minor)
	be.PutUint16(b[4:], v.Patch)
	be.PutUint16(b[6:], v.Build)
}
