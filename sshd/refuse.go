package sshd

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"time"
)

// SSH disconnect reason codes (RFC 4253 §11.1).
const (
	disconnectNotAllowed = 1  // SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT
	disconnectTooMany    = 12 // SSH_DISCONNECT_TOO_MANY_CONNECTIONS
)

// refuse tells a connection why it is refused, before the key exchange
// costs anything: the version line, then SSH_MSG_DISCONNECT in the clear
// (RFC 4253 allows it at any time; before NEWKEYS packets are unencrypted).
// OpenSSH prints "Received disconnect from ...: <msg>". The client's own
// first bytes are drained briefly so that closing does not reset the
// connection before the client has read the reason.
func refuse(nc net.Conn, reason uint32, msg string) {
	nc.SetDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write(append([]byte("SSH-2.0-sluice\r\n"), disconnectPacket(reason, msg)...))
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
}

// disconnectPacket is an unencrypted binary packet (RFC 4253 §6) holding
// SSH_MSG_DISCONNECT.
func disconnectPacket(reason uint32, msg string) []byte {
	payload := []byte{1} // SSH_MSG_DISCONNECT
	payload = binary.BigEndian.AppendUint32(payload, reason)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(msg)))
	payload = append(payload, msg...)
	payload = binary.BigEndian.AppendUint32(payload, 0) // language tag
	// packet_length, padding_length, payload, padding: a multiple of 8,
	// with at least 4 bytes of padding.
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	p := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	p = append(p, byte(pad))
	p = append(p, payload...)
	return append(p, make([]byte, pad)...)
}

func itoa(n int) string { return strconv.Itoa(n) }
