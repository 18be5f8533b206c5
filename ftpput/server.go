package ftpput

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// SplitServer splits the SERVER argument: "host", "host:port", "[v6]",
// "[v6]:port", or a bare IPv6 address (the manual's <server_ip>). The
// port defaults to 21 (RFC 959 §3.2).
func SplitServer(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	switch {
	case err == nil && ps == "":
		return "", 0, fmt.Errorf("server %q: empty port", s)
	case err != nil && len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
		host, ps = s[1:len(s)-1], "21"
	case err != nil:
		host, ps = s, "21" // no port, or a bare IPv6 address
	}
	if strings.Contains(host, ":") && !validIPv6(host) || !strings.Contains(host, ":") && !validHost(host) {
		return "", 0, fmt.Errorf("server %q: not a host name or address (write [v6]:port for an IPv6 address with a port)", s)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("server %q: port must be 1-65535", s)
	}
	return host, int(port), nil
}

// validHost accepts host names and IPv4 addresses (RFC 1123 §2.1
// letters, digits, '-' and '.'; '_' too, as resolvers allow it).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// validIPv6 accepts an IPv6 address with an optional zone made of host
// name characters (an interface name or index).
func validIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return false
	}
	return a.Zone() == "" || validHost(a.Zone())
}
