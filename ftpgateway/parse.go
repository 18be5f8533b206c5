package ftpgateway

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxLine bounds a command line (manual: "500 Syntax error, command line
// too long."). RFC 959 lines are short; paths here are at most a file
// system and a 64-byte name.
const maxLine = 1024

// Telnet bytes that clients put in front of ABOR (RFC 959 §4.1.3, IP and
// Synch) and that must not reach the command parser.
const (
	telnetIAC = 0xff
	telnetDM  = 0xf2
	telnetIP  = 0xf4
)

// command is a parsed control line.
type command struct {
	verb string // upper case
	arg  string // rest of the line, leading blanks removed
}

var (
	errDelimiter = errors.New("command delimiter error")
	errEmpty     = errors.New("empty command")
)

// parseLine turns a raw control line (without CRLF) into a command: Telnet
// IAC sequences are removed, the verb is upper-cased. A line with NUL or a
// lone CR is a delimiter error.
func parseLine(raw []byte) (command, error) {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == telnetIAC && i+1 < len(raw) {
			i++
			switch raw[i] {
			case telnetIAC:
				b = append(b, telnetIAC)
			case 0xfb, 0xfc, 0xfd, 0xfe: // WILL WONT DO DONT + option
				i++
			}
			continue
		}
		if c == telnetDM && len(b) == 0 {
			continue // a Synch whose IAC was taken as urgent data
		}
		b = append(b, c)
	}
	s := string(b)
	if strings.ContainsAny(s, "\x00\r\n") {
		return command{}, errDelimiter
	}
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return command{}, errEmpty
	}
	verb, arg, _ := strings.Cut(s, " ")
	return command{verb: strings.ToUpper(verb), arg: strings.TrimLeft(arg, " ")}, nil
}

// Errors of the data-address parsers; each maps to one of the manual's
// 501/522 replies.
var (
	errIPAddress   = errors.New("IP address error")
	errIPDelimiter = errors.New("IP address delimiter error")
	errPort        = errors.New("TCP port error")
	errPortDelim   = errors.New("TCP port delimiter error")
	errEPRTDelim   = errors.New("bad EPRT delimiter")
	errProtocol    = errors.New("protocol not supported")
)

// parsePORT parses "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2).
func parsePORT(arg string) (*net.TCPAddr, error) {
	parts := strings.Split(strings.TrimSpace(arg), ",")
	if len(parts) < 4 {
		return nil, errIPDelimiter
	}
	if len(parts) != 6 {
		return nil, errPortDelim
	}
	var n [6]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 || p == "" || len(p) > 3 {
			if i < 4 {
				return nil, errIPAddress
			}
			return nil, errPort
		}
		n[i] = v
	}
	ip := net.IPv4(byte(n[0]), byte(n[1]), byte(n[2]), byte(n[3]))
	return &net.TCPAddr{IP: ip, Port: n[4]<<8 | n[5]}, nil
}

// otherIPv4Delimiter reports whether s is four decimal bytes separated by
// something other than single dots ("127,0,0,1", "127.0.0:1"): the
// manual's "IP address delimiter error", not an address error.
func otherIPv4Delimiter(s string) bool {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if len(parts) != 4 || s == strings.Join(parts, ".") || s[0] < '0' || s[0] > '9' ||
		s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n > 255 || len(p) > 3 {
			return false
		}
	}
	return true
}

// parseEPRT parses "|proto|address|port|" with any delimiter (RFC 2428
// §2).
func parseEPRT(arg string) (*net.TCPAddr, error) {
	arg = strings.TrimSpace(arg)
	// A delimiter is printable and cannot be part of a field.
	if arg == "" || arg[0] < 33 || arg[0] > 126 || strings.IndexByte("0123456789abcdefABCDEF.:", arg[0]) >= 0 {
		return nil, delimError(1)
	}
	d := string(arg[0])
	f := strings.Split(arg[1:], d)
	// "|1|addr|port|" splits into 1, addr, port and "": n fields mean n
	// delimiters after the first.
	switch {
	case len(f) < 4:
		return nil, delimError(len(f) + 1) // the first missing one
	case len(f) > 4 || f[3] != "":
		return nil, delimError(4) // text after the fourth
	}
	f = f[:3]
	ip := net.ParseIP(f[1])
	switch f[0] {
	case "1":
		if ip == nil || ip.To4() == nil || strings.Contains(f[1], ":") {
			if otherIPv4Delimiter(f[1]) {
				return nil, errIPDelimiter
			}
			return nil, errIPAddress
		}
	case "2":
		if ip == nil || ip.To4() != nil && !strings.Contains(f[1], ":") {
			return nil, errIPAddress
		}
	default:
		return nil, errProtocol
	}
	port, err := strconv.Atoi(f[2])
	if err != nil || port < 1 || port > 65535 {
		return nil, errPort
	}
	return &net.TCPAddr{IP: ip, Port: port}, nil
}

// eprtDelimError names which of EPRT's four delimiters is bad (manual
// §1.4.2: "Bad First ... Fourth EPRT delimiter."); it matches errEPRTDelim.
type eprtDelimError int

func delimError(n int) error { return eprtDelimError(n) }

func (e eprtDelimError) Error() string        { return fmt.Sprintf("bad EPRT delimiter %d", int(e)) }
func (e eprtDelimError) Is(target error) bool { return target == errEPRTDelim }

// parseEPSV parses EPSV's optional argument: "", "1", "2" or "ALL".
func parseEPSV(arg string) (all bool, proto int, err error) {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "":
		return false, 0, nil
	case "ALL":
		return true, 0, nil
	case "1":
		return false, 1, nil
	case "2":
		return false, 2, nil
	}
	return false, 0, errProtocol
}

// parseCRCArgs parses XCRC/XMD5 arguments: [["name"] [offset [length]]].
// The name may be quoted (with spaces) or a bare word; a bare number is an
// offset only when a name was given before it or none is needed.
func parseCRCArgs(arg string) (name string, off, length int64, hasLen bool, err error) {
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(arg, `"`) {
		end := strings.IndexByte(arg[1:], '"')
		if end < 0 {
			return "", 0, 0, false, errDelimiter
		}
		name, arg = arg[1:1+end], strings.TrimSpace(arg[2+end:])
	} else if arg != "" {
		first, rest, _ := strings.Cut(arg, " ")
		if _, perr := strconv.ParseInt(first, 10, 64); perr != nil {
			name, arg = first, strings.TrimSpace(rest)
		}
	}
	fields := strings.Fields(arg)
	if len(fields) > 2 {
		return "", 0, 0, false, errDelimiter
	}
	if len(fields) >= 1 {
		if off, err = strconv.ParseInt(fields[0], 10, 64); err != nil || off < 0 {
			return "", 0, 0, false, errDelimiter
		}
	}
	if len(fields) == 2 {
		if length, err = strconv.ParseInt(fields[1], 10, 64); err != nil || length < 0 {
			return "", 0, 0, false, errDelimiter
		}
		hasLen = true
	}
	return name, off, length, hasLen, nil
}
