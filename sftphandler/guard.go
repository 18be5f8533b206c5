package sftphandler

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// guard is the wire guard of DESIGN §5, working on whole frames between
// the SSH channel and the session's serve loop (serve.go). It answers what
// the device answers without a file (INIT, unsupported and unknown
// requests, malformed frames, handle misuse, limits@openssh.com), hands
// the rest to the loop, and on the way back records handles and fixes
// generic status texts to the manual's.
//
// One goroutine, the session's, calls next and send; only Close may come
// from another. The guard parses what the client sends: a panic in next
// or send is logged with its stack and becomes an error that ends this
// session only (see recoverTo).
type guard struct {
	ch  io.ReadWriteCloser
	r   *bufio.Reader
	log hclog.Logger

	handles map[string]byte // open handle → its mode (modeRead, modeWrite, modeAppend, modeDir)
	// appended counts the bytes of the WRITEs served so far on each
	// APPEND handle: a WRITE's offset is rewritten to it (see renumber).
	appended map[string]uint64
	// The request being served (the loop serves one at a time): its type,
	// for the texts of its reply, and for OPEN and OPENDIR the mode the
	// handle in the reply gets.
	served   byte
	openMode byte

	// failed is set once, by the first panic recovered in next or send;
	// from then on both return it.
	failed atomic.Pointer[guardPanic]
}

// errFrameTooLong ends a session that sent a frame over maxFrame.
var errFrameTooLong = errors.New("sftp: frame over the maximum packet length")

// handle modes
const (
	modeRead   = 'r'
	modeWrite  = 'w'
	modeAppend = 'a' // a write handle opened with APPEND
	modeDir    = 'd'
)

func newGuard(ch io.ReadWriteCloser, log hclog.Logger) *guard {
	g := &guard{
		ch: ch,
		// 1 KiB holds a WRITE's prefix (peekWrite) and a few dozen small
		// requests; large bodies bypass it (bufio reads straight into
		// the caller's buffer). Every idle session holds it.
		r:        bufio.NewReaderSize(ch, 1<<10),
		log:      log,
		handles:  map[string]byte{},
		appended: map[string]uint64{},
	}
	return g
}

// guardPanic is the error that ends a session whose guard panicked.
type guardPanic struct {
	op    string // "read" or "write"
	value any
}

func (e *guardPanic) Error() string {
	return fmt.Sprintf("sftp: panic in the wire guard's %s: %v", e.op, e.value)
}

// recoverTo, deferred by next and send, turns a panic into *err: it logs
// the stack and closes the channel; the loop then ends the session. next
// and send fail from then on.
func (g *guard) recoverTo(op string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	g.log.Error("panic in the sftp wire guard: closing the session", "op", op, "panic", r, "stack", string(debug.Stack()))
	g.failed.CompareAndSwap(nil, &guardPanic{op: op, value: r})
	*err = g.failed.Load()
	g.ch.Close()
}

// next reads frames until one is to be served, answering the others, and
// returns it whole, length word first. A WRITE to serve comes in a buffer
// of the pool (pooled), which the caller gives back with putBuf.
func (g *guard) next() (frame []byte, pooled bool, err error) {
	defer g.recoverTo("read", &err)
	if f := g.failed.Load(); f != nil {
		return nil, false, f
	}
	for {
		var lb [4]byte
		if _, err := io.ReadFull(g.r, lb[:]); err != nil {
			return nil, false, err
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > maxFrame {
			// Too long: answer with the id if there is one, then end the
			// session. Skipping the body would let a frame that declares
			// 4 GiB hold the session while the client sends nothing.
			// The id only if it has already arrived: never wait for it.
			var id uint32
			if g.r.Buffered() >= 5 {
				if hdr, err := g.r.Peek(5); err == nil {
					id = binary.BigEndian.Uint32(hdr[1:])
				}
			}
			g.log.Warn("frame too long: closing the session", "length", n)
			if err := g.reply(statusFrame(id, fxBadMessage, msgBadLength)); err != nil {
				return nil, false, err
			}
			return nil, false, errFrameTooLong
		}
		if fwd, out, ok := g.peekWrite(n); ok {
			if fwd {
				// The body goes from the channel into a pooled buffer:
				// bufio reads large parts straight into it.
				b := getBuf()[:4+n]
				copy(b, lb[:])
				if _, err := io.ReadFull(g.r, b[4:]); err != nil {
					putBuf(b)
					return nil, false, unexpected(err)
				}
				return b, true, nil
			}
			if _, err := io.CopyN(io.Discard, g.r, int64(n)); err != nil {
				return nil, false, err
			}
			if err := g.reply(out); err != nil {
				return nil, false, err
			}
			continue
		}
		frame := make([]byte, 4+n)
		copy(frame, lb[:])
		if _, err := io.ReadFull(g.r, frame[4:]); err != nil {
			return nil, false, unexpected(err)
		}
		fwd, out := g.inspect(frame)
		if fwd && frame[4] == fxpWrite {
			g.renumber(frame)
		}
		if out != nil {
			if err := g.reply(out); err != nil {
				return nil, false, err
			}
		}
		if fwd {
			return frame, false, nil
		}
	}
}

// unexpected is the error of a frame cut short by the end of the stream.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// inspect decides what happens to a frame: forward it, answer it (out), or
// both never. It records what the reply path needs.
func (g *guard) inspect(frame []byte) (forward bool, out []byte) {
	body := frame[4:]
	req, err := parseFrame(body)
	if err != nil {
		var id uint32
		if len(body) >= 5 {
			id = binary.BigEndian.Uint32(body[1:5])
		}
		msg := msgBadLength
		if errors.Is(err, errStringLen) {
			msg = msgStringTooLong
		}
		g.log.Warn("malformed frame", "type", firstByte(body), "error", err)
		return false, statusFrame(id, fxBadMessage, msg)
	}
	return g.decide(req)
}

// decide applies the manual's rules to a well-formed request.
func (g *guard) decide(req request) (forward bool, out []byte) {
	id := req.id
	unsupported := statusFrame(id, fxOpUnsupported, msgUnsupported)
	switch req.typ {
	case fxpInit:
		v := min(req.ver, 3)
		return false, newFrame(fxpVersion, v).str("limits@openssh.com").str("1").bytes()
	case fxpOpen:
		rd, wr := req.pflags&fxfRead != 0, req.pflags&fxfWrite != 0
		fresh := req.pflags&fxfCreat != 0 && req.pflags&(fxfTrunc|fxfExcl) != 0
		switch {
		case rd && wr && fresh:
			// A new, empty file (mkstemp's O_RDWR|O_CREAT|O_EXCL through
			// sshfs: sed -i, editors): there is nothing to read, so it is
			// served as a write handle; a READ on it gets "Illegal
			// operation" (DESIGN §5 deviation, docs/sftp.md).
		case rd && wr:
			return false, statusFrame(id, fxOpUnsupported, msgReadWrite)
		case !rd && !wr:
			return false, statusFrame(id, fxOpUnsupported, msgRWUndefined)
		}
		mode := byte(modeRead)
		switch {
		case wr && req.pflags&fxfAppend != 0:
			mode = modeAppend
		case wr:
			mode = modeWrite
		}
		return g.opens(id, mode)
	case fxpOpendir:
		return g.opens(id, modeDir)
	case fxpClose:
		_, ok := g.handles[req.handle]
		delete(g.handles, req.handle)
		delete(g.appended, req.handle)
		if !ok {
			return false, statusFrame(id, fxFailure, msgInvalidHandle)
		}
		return g.forward(req)
	case fxpRead, fxpWrite, fxpReaddir:
		want := handleMode(req.typ)
		mode, ok := g.handles[req.handle]
		if mode == modeAppend {
			mode = modeWrite
		}
		switch {
		case !ok:
			return false, statusFrame(id, fxFailure, msgInvalidHandle)
		case mode != want:
			return false, statusFrame(id, fxFailure, msgIllegalOp)
		}
		return g.forward(req)
	case fxpFstat, fxpFsetstat:
		mode, ok := g.handles[req.handle]
		switch {
		case !ok:
			return false, statusFrame(id, fxFailure, msgInvalidHandle)
		case mode == modeDir:
			return false, unsupported
		case req.typ == fxpFsetstat && req.attrs&^setstatAttrs != 0:
			return false, unsupported
		}
		// FSTAT answers the handle's attributes; FSETSTAT of times, of a
		// size on a write handle (OpenSSH scp truncates at the end of
		// every upload) and of the mode the file has: the handler decides
		// (DESIGN §5).
		return g.forward(req)
	case fxpSetstat:
		if req.attrs&^setstatAttrs != 0 {
			return false, unsupported
		}
		return g.forward(req)
	case fxpExtended:
		if req.ext == "limits@openssh.com" {
			return false, newFrame(fxpExtendedReply, id).
				u64(maxFrame).u64(maxReadWrite).u64(maxReadWrite).u64(maxHandles).bytes()
		}
		return false, unsupported
	case fxpLstat, fxpStat, fxpRemove, fxpRealpath, fxpRename:
		return g.forward(req)
	}
	// MKDIR, RMDIR, READLINK, SYMLINK (manual §1.6) and unknown
	// types, which the device ignored; a client waiting would hang.
	return false, unsupported
}

// handleMode is the handle mode READ, WRITE and READDIR need.
func handleMode(typ byte) byte {
	switch typ {
	case fxpRead:
		return modeRead
	case fxpWrite:
		return modeWrite
	}
	return modeDir
}

func (g *guard) opens(id uint32, mode byte) (bool, []byte) {
	if len(g.handles) >= maxHandles {
		return false, statusFrame(id, fxFailure, msgNoHandle)
	}
	g.served, g.openMode = fxpOpen, mode
	if mode == modeDir {
		g.served = fxpOpendir
	}
	return true, nil
}

func (g *guard) forward(req request) (bool, []byte) {
	g.served, g.openMode = req.typ, 0
	return true, nil
}

// peekWrite decides a WRITE frame of body length n from its first bytes,
// without reading the data. ok is false for anything else (or a WRITE
// whose fields do not add up exactly), which then takes the general path.
func (g *guard) peekWrite(n uint32) (forward bool, out []byte, ok bool) {
	const maxPrefix = 1 + 4 + 4 + 256 + 8 + 4
	if n < 1+4+4+8+4 {
		return false, nil, false
	}
	b, _ := g.r.Peek(int(min(n, maxPrefix)))
	if len(b) < 1+4+4 || b[0] != fxpWrite {
		return false, nil, false
	}
	hl := int(binary.BigEndian.Uint32(b[5:9]))
	if hl > 256 || len(b) < 9+hl+12 {
		return false, nil, false
	}
	dl := binary.BigEndian.Uint32(b[9+hl+8:])
	if uint64(9+hl+12)+uint64(dl) != uint64(n) {
		return false, nil, false
	}
	req := request{typ: fxpWrite, id: binary.BigEndian.Uint32(b[1:5]), handle: string(b[9 : 9+hl])}
	appending := g.handles[req.handle] == modeAppend
	if appending {
		return false, nil, false // the general path rewrites its offset
	}
	forward, out = g.decide(req)
	return forward, out, true
}

// setstatAttrs are the attributes a SETSTAT or FSETSTAT may carry to
// reach the handler; with any other (owner, extended) it is refused.
const setstatAttrs = attrSize | attrPermissions | attrACModTime

// renumber rewrites the offset of a WRITE frame on an APPEND handle to
// the bytes written before it on that handle, in the order the requests
// came. sshd writes such a handle with O_APPEND and ignores the offset;
// vfs opens such a handle with WriteAppend, which counts offsets from the
// old end.
func (g *guard) renumber(frame []byte) {
	d := decoder{b: frame[9:]}
	h := d.str()
	if d.err != nil {
		return
	}
	if g.handles[h] != modeAppend {
		return
	}
	at := 9 + 4 + len(h)
	if len(frame) < at+12 {
		return
	}
	n := binary.BigEndian.Uint32(frame[at+8:])
	binary.BigEndian.PutUint64(frame[at:], g.appended[h])
	g.appended[h] += uint64(n)
}

// reply writes a frame of the guard's own.
func (g *guard) reply(frame []byte) error {
	_, err := g.ch.Write(frame)
	return err
}

// send writes the serve loop's reply to a request next returned, after
// outbound, in one Write.
func (g *guard) send(frame []byte) (err error) {
	defer g.recoverTo("write", &err)
	if f := g.failed.Load(); f != nil {
		return f
	}
	_, err = g.ch.Write(g.outbound(frame))
	return err
}

// outbound records handles and replaces generic status texts.
func (g *guard) outbound(frame []byte) []byte {
	if len(frame) < 9 {
		return frame
	}
	typ, id := frame[4], binary.BigEndian.Uint32(frame[5:9])
	reqType := g.answered(typ, frame)
	if typ != fxpStatus {
		return frame
	}
	d := decoder{b: frame[9:]}
	code := d.u32()
	msg := d.str()
	if d.err != nil {
		return frame
	}
	if text, ok := fixedText(reqType, code, msg); ok {
		return statusFrame(id, code, text)
	}
	return frame
}

// answered records the reply frame of type typ to the request being
// served and returns the request's type.
func (g *guard) answered(typ byte, frame []byte) (reqType byte) {
	reqType, mode := g.served, g.openMode
	g.served, g.openMode = 0, 0
	if typ == fxpHandle && mode != 0 {
		d := decoder{b: frame[9:]}
		if h := d.str(); d.err == nil {
			g.handles[h] = mode
		}
	}
	return reqType
}

// Close closes the channel, which ends a next waiting for a frame.
func (g *guard) Close() error { return g.ch.Close() }

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
