package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice/sluice/ftpput"
	"github.com/sluice/sluice/hostkeys"
)

const putUsage = `usage: sluice put SERVER[:PORT] USER PASS FILE [passive] [--timeout D] [--tls [--cacert PEM | --insecure]]
  SERVER is a host name, an IPv4 address or an IPv6 address ([v6]:PORT with a port);
  PASS "-" reads the password from the first line of standard input;
  without "passive" the transfer uses active mode (PORT/EPRT); see docs/put.md`

// putExitCode maps putCmd's error to the exit status documented on putCmd
// and in docs/put.md: 0 done, 1 transfer failed (or FILE unreadable), 2 bad
// command line, 3 connection error, 4 login error, 5 aborted or timed out.
func putExitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return ftpput.ExitCode(err)
}

// putCmd runs "sluice put", the FTP client of the manual's chapter 6
// (§6.1.1, "FTP+put <server_ip> <ftp_user> <ftp_pass> <file> {<cr> | passive}"):
//
//	sluice put SERVER[:PORT] USER PASS FILE [passive] [--timeout D] [--tls [--cacert PEM | --insecure]]
//
// It checks the command line and hands the put to package ftpput, which
// logs in, stores FILE under its base name in binary mode and prints
// progress and the manual's messages on stdout. The port defaults to 21.
// Without "passive" the data connection is active (PORT, or EPRT for
// IPv6). With --tls the server's certificate must be valid for SERVER
// (its name or address) and chain to the system roots, or with --cacert
// to one of the certificates in that PEM file, on the control and data
// connections. The details of a failure come back as the error for main
// to print on stderr.
//
// Exit status (putExitCode):
//
//	0  "100% transfer complete"
//	1  "Transfer error" (the server refused or failed the STOR, the data
//	   connection failed), or FILE could not be read (no message)
//	2  bad command line, or a --cacert file without a readable
//	   certificate (no message, nothing sent)
//	3  "Connection error": name lookup, TCP connect (refused, unreachable),
//	   no 220 greeting, AUTH TLS or the TLS handshake failed, or the
//	   connection dropped before login finished
//	4  "Login error": the server refused USER/PASS or the login sequence
//	   (TYPE I, and PBSZ/PROT with --tls)
//	5  "Operation aborted or timeout expired": ctx cancelled (Ctrl-C), or
//	   --timeout passed while connecting or with the connection idle
func putCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "connect and idle timeout; 0 waits forever")
	useTLS := fs.Bool("tls", false, "explicit FTPS: AUTH TLS, then PBSZ 0 and PROT P")
	insecure := fs.Bool("insecure", false, "with --tls: do not verify the server's certificate")
	caFile := fs.String("cacert", "", "with --tls: trust only the PEM certificate(s) in this file")
	every := fs.Duration("progress-every", 0, "least time between progress updates (default 1s, 100ms on a terminal)")
	pos, err := parse(fs, args)
	var ue usageError
	if errors.As(err, &ue) && errors.Is(ue.error, flag.ErrHelp) || err == nil && len(pos) == 1 && pos[0] == "help" {
		fmt.Fprintln(stdout, putUsage)
		return nil
	}
	if err != nil {
		return usageError{fmt.Errorf("put: %v\n%s", err, putUsage)}
	}
	if len(pos) < 4 || len(pos) > 5 || len(pos) == 5 && !strings.EqualFold(pos[4], "passive") {
		return usageError{errors.New(putUsage)}
	}
	host, port, err := ftpput.SplitServer(pos[0])
	if err != nil {
		return usageError{fmt.Errorf("put: %w", err)}
	}
	if *timeout < 0 {
		return usageError{errors.New("put: --timeout must not be negative")}
	}
	if *every < 0 {
		return usageError{errors.New("put: --progress-every must not be negative")}
	}
	if (*insecure || *caFile != "") && !*useTLS {
		return usageError{errors.New("put: --insecure and --cacert need --tls")}
	} else if *insecure && *caFile != "" {
		return usageError{errors.New("put: --insecure and --cacert exclude each other")}
	}
	user, pass := pos[1], pos[2]
	if pass == "-" {
		if pass, err = readPutPassword(stdin); err != nil {
			return err
		}
	}
	// FTP commands are lines: these would end them early (RFC 959 §4.1).
	for _, s := range []string{user, pass, filepath.Base(pos[3])} {
		if strings.ContainsAny(s, "\r\n\x00") {
			return usageError{errors.New("put: USER, PASS and the file name must not contain CR, LF or NUL")}
		}
	}
	cfg := ftpput.Config{
		Addr:     net.JoinHostPort(host, strconv.Itoa(port)),
		User:     user,
		Pass:     pass,
		File:     pos[3],
		Passive:  len(pos) == 5,
		Timeout:  *timeout,
		Progress: ftpput.Progress{Columns: ftpput.TerminalColumns(stdout), Every: time.Second},
	}
	if cfg.Progress.Columns > 0 {
		cfg.Progress.Every = 100 * time.Millisecond
	}
	if *every > 0 {
		cfg.Progress.Every = *every
	}
	if *useTLS {
		var roots *x509.CertPool // nil: the system's
		if *caFile != "" {
			if roots, err = hostkeys.CertPool(*caFile); err != nil {
				return usageError{fmt.Errorf("put: --cacert: %w", err)}
			}
		}
		name, _, _ := strings.Cut(host, "%") // an IPv6 zone is no part of a certificate
		cfg.TLS = &tls.Config{
			RootCAs:            roots,
			ServerName:         name,
			InsecureSkipVerify: *insecure, // opt-in, for self-signed device certificates
			MinVersion:         tls.VersionTLS12,
			// Data connections resume the control connection's session:
			// vsftpd's require_ssl_reuse and others insist on it.
			ClientSessionCache: tls.NewLRUClientSessionCache(4),
		}
		if *insecure {
			fmt.Fprintln(stderr, "sluice: warning: --insecure: the server's certificate is not verified")
		}
	}
	return ftpput.Put(ctx, cfg, stdout)
}

// readPutPassword reads PASS "-" from the first line of r.
func readPutPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", usageError{errors.New("put: PASS \"-\": no standard input")}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", usageError{fmt.Errorf("put: PASS \"-\": read standard input: %w", err)}
	}
	return strings.TrimRight(line, "\r\n"), nil
}
