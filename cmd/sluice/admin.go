package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice/sluice/hostkeys"
	"github.com/sluice/sluice/policy"
)

// keys prints the SSH host key fingerprints and the FTPS certificate's:
// its file, its SHA-256 in ssh-keygen's form and in openssl's colon hex
// (`openssl x509 -fingerprint -sha256`), and the names and addresses it
// is valid for. The certificate is loaded as serve loads it, and so
// generated when missing; the SSH keys are only read (none is an error).
func keys(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	var c common
	c.register(fs)
	knownHosts := fs.Bool("known-hosts", false, "print only known_hosts lines for the SSH listen address (to append to ~/.ssh/known_hosts)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{fmt.Errorf("keys: unexpected argument %q", pos[0])}
	}
	cfg := &policy.Config{DataDir: c.data}
	if _, err := os.Stat(c.configPath()); !errors.Is(err, os.ErrNotExist) {
		// A configuration that exists but does not load would point
		// somewhere else than serve does: say so rather than guess.
		if cfg, err = policy.Load(c.configPath()); err != nil {
			return usageError{err}
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" { // as in serve: --data overrides data_dir
			cfg.DataDir, _ = filepath.Abs(c.data)
		}
	})
	if *knownHosts {
		pubs, err := hostkeys.PublicKeys(cfg.DataDir)
		if err != nil {
			return err
		}
		listen := cfg.SSH.Listen
		if listen == "" {
			listen = policy.DefaultSSHListen // as serve does
		}
		for _, l := range hostkeys.KnownHosts(knownHostsAddrs(listen), pubs) {
			fmt.Fprintln(stdout, l)
		}
		return nil
	}
	lines, err := hostkeys.Fingerprints(cfg.DataDir)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	listen := cfg.FTP.Listen
	if listen == "" {
		listen = policy.DefaultFTPListen
	}
	tc, err := hostkeys.LoadTLS(cfg.FTP.TLSCert, cfg.FTP.TLSKey, cfg.DataDir, listenIPs(listen)...)
	if err != nil {
		return err
	}
	der := tc.Certificates[0].Certificate[0] // the leaf, as the server sends it
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("ftp tls: %w", err)
	}
	b64, hex := hostkeys.CertFingerprint(der)
	ips := "(none)"
	if len(cert.IPAddresses) > 0 {
		s := make([]string, len(cert.IPAddresses))
		for i, ip := range cert.IPAddresses {
			s[i] = ip.String()
		}
		ips = strings.Join(s, " ")
	}
	path := hostkeys.TLSCertPath(cfg.FTP.TLSCert, cfg.DataDir)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // for --cacert from anywhere
	}
	fmt.Fprintf(stdout, "ftps certificate %s\n", path)
	fmt.Fprintf(stdout, "ftps %s\n", b64)
	fmt.Fprintf(stdout, "ftps sha256 Fingerprint=%s\n", hex)
	fmt.Fprintf(stdout, "ftps IP SANs: %s\n", ips)
	if len(cert.DNSNames) > 0 {
		fmt.Fprintf(stdout, "ftps DNS SANs: %s\n", strings.Join(cert.DNSNames, " "))
	}
	return nil
}

// listenIPs is the address of an FTP listen address, for the generated
// certificate's SANs, as serve computes it: none for a host name or an
// unspecified address (the loopback addresses are always in).
func listenIPs(listen string) []net.IP {
	host, _, err := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); err == nil && ip != nil && !ip.IsUnspecified() {
		return []net.IP{ip}
	}
	return nil
}
