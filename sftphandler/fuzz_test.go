package sftphandler

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// seedFrames are whole client frames of every type, valid and not, as the
// unit tests send them. Handles "1", "2", ... are what the library hands
// out in a fresh session.
func seedFrames() [][]byte {
	long := "/dsk/" + strings.Repeat("a", 4092)
	attrsAll := rawBytes(binary.BigEndian.AppendUint32(nil, attrSize|attrUIDGID|attrPermissions|attrACModTime|attrExtended))
	attrsAll = append(attrsAll, make([]byte, 8+8+4+8)...)
	attrsAll = binary.BigEndian.AppendUint32(attrsAll, 1)
	attrsAll = append(attrsAll, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v')
	return [][]byte{
		pkt(fxpInit, uint32(3)),
		pkt(fxpInit, uint32(6), "ext@example.com", "1"),
		pkt(fxpOpen, uint32(1), "/dsk/f.bin", uint32(fxfRead), uint32(0)),
		pkt(fxpOpen, uint32(2), "/dsk/w.bin", uint32(fxfWrite|openCreat|openTrunc), uint32(0)),
		pkt(fxpOpen, uint32(3), "/mem/w.bin", uint32(fxfWrite|openCreat), attrsAll),
		pkt(fxpOpen, uint32(4), "/dsk/f.bin", uint32(fxfRead|fxfWrite), uint32(0)),
		pkt(fxpOpen, uint32(5), "/tst/100", uint32(fxfRead), uint32(0)),
		pkt(fxpClose, uint32(6), "1"),
		pkt(fxpRead, uint32(7), "1", uint64(0), uint32(1<<20)),
		pkt(fxpWrite, uint32(8), "2", uint64(0), []byte("data")),
		pkt(fxpLstat, uint32(9), "/dsk"),
		pkt(fxpFstat, uint32(10), "1"),
		pkt(fxpSetstat, uint32(11), "/dsk/f.bin", attrsTimes()),
		pkt(fxpFsetstat, uint32(12), "2", attrsSize(2)),
		pkt(fxpFsetstat, uint32(13), "2", attrsTimes()),
		pkt(fxpOpendir, uint32(14), "/"),
		pkt(fxpReaddir, uint32(15), "3"),
		pkt(fxpRemove, uint32(16), "/dsk/f.bin"),
		pkt(fxpMkdir, uint32(17), "/dsk/d", uint32(0)),
		pkt(fxpRmdir, uint32(18), "/dsk/d"),
		pkt(fxpRealpath, uint32(19), "."),
		pkt(fxpStat, uint32(20), "/mem"),
		pkt(fxpRename, uint32(21), "/mem/w.bin", "/dsk/w.bin"),
		pkt(fxpReadlink, uint32(22), "/dsk/f.bin"),
		pkt(fxpSymlink, uint32(23), "/dsk/a", "/dsk/b"),
		pkt(fxpExtended, uint32(24), "limits@openssh.com"),
		pkt(fxpExtended, uint32(25), "posix-rename@openssh.com", "/dsk/a", "/dsk/b"),
		pkt(fxpExtended, uint32(26), "statvfs@openssh.com", "/dsk"),
		pkt(99, uint32(27)),
		// Malformed.
		{0, 0, 0, 0},
		{0, 0, 0, 1, fxpStat},
		pkt(fxpOpen, uint32(28), "/dsk/x"),
		pkt(fxpStat, uint32(29), long),
		{0, 0, 0, 9, fxpStat, 0, 0, 0, 30, 0, 0, 0, 100},
		pkt(fxpOpen, uint32(31), "/dsk/x", uint32(fxfRead), uint32(attrExtended), uint32(1e9)),
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s[4:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseFrame(b)
		if err != nil {
			if !errors.Is(err, errShort) && !errors.Is(err, errStringLen) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(b) < 5 {
			t.Fatalf("accepted a %d-byte frame", len(b))
		}
		if r.typ != b[0] {
			t.Fatalf("type: got %d, want %d", r.typ, b[0])
		}
		w := binary.BigEndian.Uint32(b[1:5])
		if r.typ == fxpInit {
			if r.ver != w {
				t.Fatalf("version: got %d, want %d", r.ver, w)
			}
		} else if r.id != w {
			t.Fatalf("id: got %d, want %d", r.id, w)
		}
		if len(r.handle) > maxString || len(r.ext) > maxString {
			t.Fatalf("handle of %d or extension name of %d bytes accepted", len(r.handle), len(r.ext))
		}
		if len(r.handle) > len(b) || len(r.ext) > len(b) {
			t.Fatalf("field longer than the frame")
		}
		// Trailing bytes change nothing.
		r2, err := parseFrame(append(b[:len(b):len(b)], 0xff, 0, 0, 0, 0))
		if err != nil || r2 != r {
			t.Fatalf("with trailing bytes: got %+v, %v; want %+v", r2, err, r)
		}
	})
}

// FuzzGuard feeds a byte stream to a served session and checks that the
// server neither panics nor hangs, that every reply is a well-formed
// frame, and, when the stream is a whole number of frames, that each frame
// got exactly one reply and the session still answers.
func FuzzGuard(f *testing.F) {
	seeds := seedFrames()
	for _, s := range seeds {
		f.Add(append(pkt(fxpInit, uint32(3)), s...))
	}
	var all []byte
	for _, s := range seeds {
		all = append(all, s...)
	}
	f.Add(all)
	// An upload and a download.
	f.Add(concat(
		pkt(fxpInit, uint32(3)),
		pkt(fxpOpen, uint32(1), "/mem/u.bin", uint32(fxfWrite|openCreat|openTrunc), uint32(0)),
		pkt(fxpWrite, uint32(2), "1", uint64(10), []byte("later")),
		pkt(fxpWrite, uint32(3), "1", uint64(0), []byte("0123456789")),
		pkt(fxpFsetstat, uint32(4), "1", attrsSize(12)),
		pkt(fxpClose, uint32(5), "1"),
		pkt(fxpRename, uint32(6), "/mem/u.bin", "/dsk/u.bin"),
		pkt(fxpOpen, uint32(7), "/dsk/u.bin", uint32(fxfRead), uint32(0)),
		pkt(fxpRead, uint32(8), "2", uint64(0), uint32(100)),
		pkt(fxpRead, uint32(9), "2", uint64(12), uint32(100)),
		pkt(fxpClose, uint32(10), "2"),
	))
	// Reads of a test-sink file.
	f.Add(concat(
		pkt(fxpOpen, uint32(1), "/tst/100", uint32(fxfRead), uint32(0)),
		pkt(fxpRead, uint32(2), "1", uint64(0), uint32(10)),
		pkt(fxpRead, uint32(3), "1", uint64(95), uint32(10)),
		pkt(fxpRead, uint32(4), "1", uint64(1<<40), uint32(10)),
	))
	// An over-long frame, then a request.
	over := binary.BigEndian.AppendUint32(nil, maxFrame+1)
	over = append(over, make([]byte, maxFrame+1)...)
	over[4] = fxpWrite
	f.Add(append(over, pkt(fxpStat, uint32(1), "/")...))
	// A frame cut short.
	f.Add(pkt(fxpWrite, uint32(1), "1", uint64(0), []byte("abcdef"))[:12])

	f.Fuzz(func(t *testing.T, in []byte) {
		e := newEnv(t, 1<<20)
		writeHost(t, e.dsk, "f.bin", []byte("file"))
		staged(t, e.mem, "s.bin", []byte("staged"))
		s := servePipes(t, e.fs, supervisor(), Options{WinSCPCompat: true, Logger: hclog.NewNullLogger()})
		s.abrupt = true

		// The reader counts replies, so that it never stops reading
		// however many there are, and notes the probe's.
		const probe = 0xfeedf00d
		var got atomic.Int64
		probeSeen := make(chan struct{})
		readDone := make(chan error, 1)
		go func() {
			readDone <- func() error {
				for {
					var lb [4]byte
					if _, err := io.ReadFull(s.r, lb[:]); err != nil {
						if err == io.EOF {
							return nil
						}
						return err
					}
					n := binary.BigEndian.Uint32(lb[:])
					if n > maxFrame {
						s.r.Close()
						return fmt.Errorf("reply frame of %d bytes", n)
					}
					b := make([]byte, n)
					if _, err := io.ReadFull(s.r, b); err != nil {
						return fmt.Errorf("reply cut short: %w", err)
					}
					r, err := parseReply(b)
					if err != nil {
						s.r.Close()
						return fmt.Errorf("malformed reply %x: %w", b, err)
					}
					got.Add(1)
					if r.id == probe && r.typ == fxpName {
						close(probeSeen)
					}
				}
			}()
		}()

		sendErr := make(chan error, 1)
		go func() {
			_, err := s.w.Write(in)
			sendErr <- err
		}()
		frames, whole, tooLong := countFrames(in)
		select {
		case err := <-sendErr:
			// An over-long frame ends the session: the rest is not read.
			if err != nil && !tooLong {
				t.Fatalf("server stopped reading: %v", err)
			}
		case <-time.After(replyTimeout):
			t.Fatalf("server did not read the input within %v", replyTimeout)
		}

		want := int64(frames)
		if tooLong {
			want++ // its BAD_MESSAGE reply
			whole = false
		}
		if whole {
			want++
			if _, err := s.w.Write(pkt(fxpRealpath, uint32(probe), "/")); err != nil {
				t.Fatalf("send probe: %v", err)
			}
			select {
			case <-probeSeen:
			case err := <-readDone:
				t.Fatalf("session closed after %d whole frames, %d replies: %v", frames, got.Load(), err)
			case <-time.After(replyTimeout):
				t.Fatalf("no reply to a request after %d whole frames (%d replies)", frames, got.Load())
			}
		}
		s.w.Close()
		if err := s.wait(); err != nil && strings.Contains(err.Error(), "did not return") {
			t.Fatal(err)
		}
		select {
		case err := <-readDone:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(replyTimeout):
			t.Fatal("reply stream not closed after Serve returned")
		}
		switch n := got.Load(); {
		case whole && n != want:
			t.Errorf("%d whole frames and a probe got %d replies, want one each", frames, n)
		case n > want:
			t.Errorf("%d replies to %d whole frames", n, frames)
		}
	})
}

// countFrames counts the frames in b as the guard delimits them (length
// word, then that many bytes) up to an over-long one (which ends the
// session: tooLong), and reports whether b ends on a frame boundary.
func countFrames(b []byte) (n int, whole, tooLong bool) {
	for len(b) > 0 {
		if len(b) < 4 {
			return n, false, false
		}
		l := uint64(binary.BigEndian.Uint32(b))
		if l > maxFrame {
			return n, false, true
		}
		if uint64(len(b)-4) < l {
			return n, false, false
		}
		b = b[4+l:]
		n++
	}
	return n, true, false
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}
