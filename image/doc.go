// Package image is sluice's known-file format and the manual's checks on
// it.
//
// Files named .BIN or .BFW (any case; IsKnownName) are "known files"
// (manual §3.8, §4.6, §4.9). sluice defines their format, documented byte
// by byte in docs/image-format.md: a 256-byte big-endian header (magic,
// format version, kind, imprinted 8.3 name, version, hardware level,
// minimum BIOS, supported hardware IDs, profile extension, payload length
// and CRC-32, header CRC-32), the payload, records (firmware an
// application requires; an Ed25519 signature), and zero padding to a
// multiple of 128 bytes.
//
// # Making and reading images
//
// Build makes an image; Parse reads one's header and records (not its
// payload) from an io.ReaderAt, reading no more than the header and
// MaxRecordsLen+Align bytes whatever the file claims. Parse errors are
// *ParseError, matching ErrNotImage, ErrFormat, ErrLength or ErrHeaderCRC
// with errors.Is. KeyID, MarshalPrivateKey, ParsePrivateKey,
// MarshalPublicKey and ParsePublicKey handle signing keys.
//
// # Checking a commit in one pass
//
// A commit (SFTP rename out of /mem, FTP SITE SAVEBUFFER) checks a staged
// file like this:
//
//	im, err := image.Precheck(staged, size, targetName, dev, state, on)
//	if err != nil { refuse(err) }            // *CheckError: a Reason
//	if im != nil && on&image.CheckPath != 0 { fs = image.TargetFS(im) }
//	if im != nil && on&image.CheckRename != 0 { targetName = im.Name }
//	d := im.NewDigest()                      // im may be nil
//	_, err = image.Copy(tmp, src, d)         // the one pass over the bytes
//	fsync tmp
//	if err := image.Postcheck(im, d, dev, on); err != nil { remove tmp; refuse(err) }
//	rename tmp -> target; record d.FileSHA256() and im.Version in the state
//
// Precheck decides everything the header can (UNKNOWN, LENGTH, header CRC,
// SIGNATURE key, HARDWARE, HW-SUPPORTED, BIOS, PROFILE, VERSION, FIRMWARE)
// before a byte is written. Digest, fed the copy, computes the payload
// CRC-32, the SHA-256 the signature covers (a snapshot of the running
// file SHA-256 at SignedLen, so the data is hashed once) and the file
// SHA-256, and confirms the streamed header and records are those Parse
// read. Copy is io.Copy with the hashing overlapped with the writes (an
// io.MultiWriter works too, only slower). Postcheck then decides CRC and
// SIGNATURE.
//
// A failed check is a *CheckError (errors.Is(err, ErrCheck)). It says
// which Check failed and why (a Reason: ReasonCRC, ReasonHWLevel,
// ReasonOlder ...), for which Kind of image, with the hardware levels
// (Rcvd, Reqd) where the reason has them, and a Detail and cause for the
// log. It carries no wire code or client text: each front end has one
// table mapping a Reason to its SFTP status or FTP reply and the manual's
// text (docs/image-format.md lists them). Error returns an English
// message for the log ("Bad crc of checked file"); it is not sent to
// clients.
//
// # Checks
//
// Check is the manual's CHECK set plus SIGNATURE, a bit mask; ParseChecks
// and String convert configuration names, Letters gives the FTP STAT form
// ("PCLBFVRDSUH..."). The device's identity is a Device; the versions
// committed so far and the active application are a State, which the
// caller keeps.
//
// The package holds no mutable state; every function is safe for
// concurrent use, a Digest is not.
package image
