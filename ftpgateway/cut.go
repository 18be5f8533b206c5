package ftpgateway

import (
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// controlGone reports whether the client has closed or reset the control
// connection, waiting at most grace for it: poll(2) on the socket, then a
// non-blocking MSG_PEEK to tell an end of file or a reset (gone) from
// bytes waiting (a pipelined command: alive). It never consumes a byte.
//
// It tells an upload that ended from one that was cut (DESIGN §3). A
// client ends an upload by closing the data connection and then waits
// for the 226 on the control connection, which it keeps open. A client
// that dies (killed, crashed) has its kernel close every socket it held,
// the control connection with the data connection, within microseconds,
// but in no fixed order: Linux releases a dying process's files last
// opened first, so the data connection's FIN often comes first. The
// control connection's state just after the data's end of file is the
// signal; grace covers the gap between the two FINs (graceFor: nothing
// to speak of for a small file, 10 to 50 ms for an upload of 64 KiB or
// more). Only a live client pays the grace; a dying one is seen at once.
//
// Limits: a network path or a proxy that delivers the control connection's
// FIN more than grace after the data's end of file is not seen, and such
// an upload is committed as complete (FTP's MODE S marks the end of a file
// only by the close, RFC 959 §3.4.1). A client that closes the control
// connection without waiting for the 226 has its upload treated as cut.
func controlGone(c net.Conn, grace time.Duration) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	// Control, not Read: the session's line reader may be blocked in a
	// Read on this socket, and Read would wait for it.
	cerr := rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
		deadline := time.Now().Add(grace)
		for {
			left := time.Until(deadline)
			// A short grace is polled without a timeout, over and over
			// until it has passed: a timed ppoll wakes late (on the 2-CPU
			// VMs of issue 11, a 10 µs timeout returned after 80-90 µs:
			// timer latency and the thread's timer slack), and a mirror of
			// small files would wait that for each one.
			timeout := left
			if left < spinGrace {
				timeout = 0
			}
			ts := unix.NsecToTimespec(max(int64(timeout), 0))
			n, err := unix.Ppoll(pfd, &ts, nil)
			if err == unix.EINTR || err == nil && n == 0 && timeout == 0 && left > 0 {
				continue
			}
			if err != nil || n == 0 {
				return // nothing happened within grace: alive
			}
			var b [1]byte
			k, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case err == nil:
				gone = k == 0 // end of file; bytes waiting: alive
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			default:
				gone = true // reset, or another socket error
			}
			return
		}
	})
	return cerr == nil && gone
}

// The grace after an upload (graceFor): a dying client's kernel closes its
// two sockets microseconds apart, but a busy machine can preempt the dying
// process between them.
const (
	maxGrace   = 50 * time.Millisecond  // never longer
	spinGrace  = 100 * time.Microsecond // shorter: polled without sleeping (controlGone)
	floorGrace = 10 * time.Millisecond  // for uploads of graceBytes or more
	graceBytes = 64 << 10
)

// graceFor is how long controlGone waits after an upload of n bytes that
// took d: 2 % of d, at least floorGrace from graceBytes on, at most
// maxGrace. A small file (the 4 KiB configuration files of a mirror)
// waits microseconds; a large one at most 50 ms once.
func graceFor(d time.Duration, n int64) time.Duration {
	g := d / 50
	if n >= graceBytes {
		g = max(g, floorGrace)
	}
	return min(g, maxGrace)
}
