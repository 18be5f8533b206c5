package sftphandler

import (
	"encoding/binary"
	"errors"
)

// SFTP v3 packet types (draft-ietf-secsh-filexfer-02 §3).
const (
	fxpInit          = 1
	fxpVersion       = 2
	fxpOpen          = 3
	fxpClose         = 4
	fxpRead          = 5
	fxpWrite         = 6
	fxpLstat         = 7
	fxpFstat         = 8
	fxpSetstat       = 9
	fxpFsetstat      = 10
	fxpOpendir       = 11
	fxpReaddir       = 12
	fxpRemove        = 13
	fxpMkdir         = 14
	fxpRmdir         = 15
	fxpRealpath      = 16
	fxpStat          = 17
	fxpRename        = 18
	fxpReadlink      = 19
	fxpSymlink       = 20
	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpName          = 104
	fxpAttrs         = 105
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// SSH_FXF_* open flags and SSH_FILEXFER_ATTR_* attribute flags.
const (
	fxfRead   = 0x01
	fxfWrite  = 0x02
	fxfAppend = 0x04
	fxfCreat  = 0x08
	fxfTrunc  = 0x10
	fxfExcl   = 0x20

	attrSize        = 0x00000001
	attrUIDGID      = 0x00000002
	attrPermissions = 0x00000004
	attrACModTime   = 0x00000008
	attrExtended    = 0x80000000
)

// Frame limits. maxFrame is the largest body (after the length word) the
// guard accepts; it matches OpenSSH's
// SFTP_MAX_MSG_LENGTH, and is what limits@openssh.com advertises.
const (
	maxFrame     = 256 * 1024
	maxReadWrite = maxFrame - 1024 // 255 KiB, as OpenSSH's sftp-server
	maxString    = 4096            // paths and handles; "String too long for this system"
	maxHandles   = 64
)

var (
	errShort     = errors.New("frame shorter than its fields")
	errStringLen = errors.New("string too long")
)

// request is what the guard needs to know of a client frame.
type request struct {
	typ    byte
	id     uint32
	handle string // CLOSE, READ, WRITE, READDIR, FSTAT, FSETSTAT
	pflags uint32 // OPEN
	attrs  uint32 // SETSTAT, FSETSTAT: attribute flags
	ext    string // EXTENDED request name
	ver    uint32 // INIT
}

// parseFrame decodes and validates a frame body (type byte onward) well
// enough that the serve loop can take its fields: every field of the known types
// must be present. Unknown types need only an id.
func parseFrame(b []byte) (request, error) {
	var r request
	if len(b) < 5 {
		return r, errShort
	}
	r.typ = b[0]
	if r.typ == fxpInit {
		r.ver = binary.BigEndian.Uint32(b[1:5])
		return r, nil
	}
	r.id = binary.BigEndian.Uint32(b[1:5])
	d := decoder{b: b[5:]}
	switch r.typ {
	case fxpOpen:
		d.str()
		r.pflags = d.u32()
		d.attrs()
	case fxpClose, fxpReaddir, fxpFstat:
		r.handle = d.str()
	case fxpRead:
		r.handle = d.str()
		d.u64()
		d.u32()
	case fxpWrite:
		r.handle = d.str()
		d.u64()
		d.data()
	case fxpLstat, fxpStat, fxpOpendir, fxpRemove, fxpRealpath, fxpRmdir, fxpReadlink:
		d.str()
	case fxpMkdir:
		d.str()
		d.attrs()
	case fxpSetstat:
		d.str()
		r.attrs = d.attrs()
	case fxpFsetstat:
		r.handle = d.str()
		r.attrs = d.attrs()
	case fxpRename, fxpSymlink:
		d.str()
		d.str()
	case fxpExtended:
		r.ext = d.str()
	}
	return r, d.err
}

// decoder reads SSH wire fields, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) data() []byte {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	return d.take(int(n))
}

// str reads a path, handle or name, which this system limits in length.
func (d *decoder) str() string {
	n := d.u32()
	if d.err == nil && n > maxString {
		d.err = errStringLen
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) attrs() uint32 {
	f := d.u32()
	if f&attrSize != 0 {
		d.u64()
	}
	if f&attrUIDGID != 0 {
		d.u64()
	}
	if f&attrPermissions != 0 {
		d.u32()
	}
	if f&attrACModTime != 0 {
		d.u64()
	}
	if f&attrExtended != 0 {
		n := d.u32()
		for i := uint32(0); i < n && d.err == nil; i++ {
			d.data()
			d.data()
		}
	}
	return f
}

// encoder builds reply frames with the length word in front.
type encoder struct{ b []byte }

func newFrame(typ byte, id uint32) *encoder {
	e := &encoder{b: make([]byte, 4, 64)}
	e.b = append(e.b, typ)
	return e.u32(id)
}

func (e *encoder) u32(v uint32) *encoder { e.b = binary.BigEndian.AppendUint32(e.b, v); return e }
func (e *encoder) u64(v uint64) *encoder { e.b = binary.BigEndian.AppendUint64(e.b, v); return e }
func (e *encoder) str(s string) *encoder { e.u32(uint32(len(s))); e.b = append(e.b, s...); return e }

func (e *encoder) bytes() []byte {
	binary.BigEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}

// statusFrame is an SSH_FXP_STATUS reply.
func statusFrame(id, code uint32, msg string) []byte {
	return newFrame(fxpStatus, id).u32(code).str(msg).str("en").bytes()
}
