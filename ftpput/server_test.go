package ftpput

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestSplitServer(t *testing.T) {
	tests := []struct {
		name, in string
		host     string
		port     int
		wantErr  bool
	}{
		{"ipv4", "192.168.214.58", "192.168.214.58", 21, false},
		{"ipv4 port", "127.0.0.1:2121", "127.0.0.1", 2121, false},
		{"host name", "device.example", "device.example", 21, false},
		{"host name port", "device.example:990", "device.example", 990, false},
		{"bracketed v6", "[::1]", "::1", 21, false},
		{"bracketed v6 port", "[::1]:2121", "::1", 2121, false},
		{"bare v6", "fe80::1", "fe80::1", 21, false},
		{"v6 zone", "[fe80::1%eth0]:21", "fe80::1%eth0", 21, false},
		{"empty", "", "", 0, true},
		{"empty port", "host:", "", 0, true},
		{"port 0", "host:0", "", 0, true},
		{"port too big", "host:65536", "", 0, true},
		{"port sign", "host:+21", "", 0, true},
		{"port letters", "host:ftp", "", 0, true},
		{"no ]", "[::1:21", "", 0, true},
		{"junk after ]", "[::1]x", "", 0, true},
		{"v4 in []", "[127.0.0.1]:21", "127.0.0.1", 21, false},
		{"bad v6", "fe80::1::2", "", 0, true},
		{"space in zone", "aa::0%0000 ", "", 0, true},
		{"v4-mapped bare", "::ffff:127.0.0.1", "::ffff:127.0.0.1", 21, false},
		{"space", "a b", "", 0, true},
		{"empty host", ":21", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, err := SplitServer(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("SplitServer(%q) = %q, %d, want an error", tt.in, host, port)
				}
				return
			}
			if err != nil || host != tt.host || port != tt.port {
				t.Errorf("SplitServer(%q) = %q, %d, %v, want %q, %d", tt.in, host, port, err, tt.host, tt.port)
			}
		})
	}
}

func FuzzSplitServer(f *testing.F) {
	for _, s := range []string{"192.168.214.58", "127.0.0.1:2121", "[::1]:21", "fe80::1", "[fe80::1%eth0]", "host:", "[::1", "aa::0%0000 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := SplitServer(s)
		if err != nil {
			return
		}
		if host == "" || port < 1 || port > 65535 || strings.ContainsAny(host, " \r\n[]/") {
			t.Fatalf("SplitServer(%q) = %q, %d", s, host, port)
		}
		// The dial address must split back into the same host and port.
		h, p, err := net.SplitHostPort(net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil || h != host || p != strconv.Itoa(port) {
			t.Fatalf("SplitServer(%q): %q, %d does not round-trip: %q %q %v", s, host, port, h, p, err)
		}
	})
}
