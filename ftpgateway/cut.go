package ftpgateway

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// controlGone reports whether the client has closed or reset the control
// connection, without waiting: a non-blocking MSG_PEEK on its socket.
//
// It tells an upload that ended from one that was cut (DESIGN §3). A
// client ends an upload by closing the data connection and then waits
// for the 226 on the control connection. A client that dies (killed,
// crashed) has its kernel close every socket it held, the control
// connection with the data connection, in the order of the descriptors:
// the control connection, opened first, first. So when the data
// connection's end of file arrives, the control connection's FIN (or
// RST) has arrived before it, on loopback and on any path that keeps the
// two connections' packets in order, and the peek sees it. Bytes waiting
// on the control connection (a pipelined QUIT) count as alive.
//
// Limits: over a network that reorders the two connections' packets, or
// through a proxy that closes the two sides separately, a FIN that comes
// after the data's end of file is missed, and the upload is committed
// as complete; the data connection's clean close is all FTP has to tell
// (RFC 959 MODE S ends a file with the close). A client that closes the
// control connection without waiting for the 226 has its upload treated
// as cut.
func controlGone(c net.Conn) bool {
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
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == nil:
			gone = n == 0 // end of file
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			// Nothing to read: the client is waiting for the reply.
		default:
			gone = true // reset, or another socket error
		}
	})
	return cerr == nil && gone
}
