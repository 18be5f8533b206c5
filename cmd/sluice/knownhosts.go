package main

import (
	"net"
	"os"
)

// knownHostsAddrs returns the addresses a client may dial to reach an SSH
// listen address, for `sluice keys --known-hosts`: the address itself,
// or, for an unspecified host (0.0.0.0, [::], none), which Go serves on
// every address of both families, this machine's host name and its
// loopback and global addresses, each with the port.
func knownHostsAddrs(listen string) []string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return []string{listen}
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return []string{listen}
	}
	var out []string
	if name, err := os.Hostname(); err == nil && name != "" {
		out = append(out, net.JoinHostPort(name, port))
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return append(out, net.JoinHostPort("127.0.0.1", port))
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && (n.IP.IsLoopback() || n.IP.IsGlobalUnicast()) {
			out = append(out, net.JoinHostPort(n.IP.String(), port))
		}
	}
	return out
}
