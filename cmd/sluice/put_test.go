package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSplitPutServer(t *testing.T) {
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
			host, port, err := splitPutServer(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("splitPutServer(%q) = %q, %d, want an error", tt.in, host, port)
				}
				return
			}
			if err != nil || host != tt.host || port != tt.port {
				t.Errorf("splitPutServer(%q) = %q, %d, %v, want %q, %d", tt.in, host, port, err, tt.host, tt.port)
			}
		})
	}
}

func FuzzSplitPutServer(f *testing.F) {
	for _, s := range []string{"192.168.214.58", "127.0.0.1:2121", "[::1]:21", "fe80::1", "[fe80::1%eth0]", "host:", "[::1", "aa::0%0000 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := splitPutServer(s)
		if err != nil {
			return
		}
		if host == "" || port < 1 || port > 65535 || strings.ContainsAny(host, " \r\n[]/") {
			t.Fatalf("splitPutServer(%q) = %q, %d", s, host, port)
		}
		// The dial address must split back into the same host and port.
		h, p, err := net.SplitHostPort(net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil || h != host || p != strconv.Itoa(port) {
			t.Fatalf("splitPutServer(%q): %q, %d does not round-trip: %q %q %v", s, host, port, h, p, err)
		}
	})
}

func TestPutUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"too few", []string{"127.0.0.1", "root", "pw"}},
		{"too many", []string{"127.0.0.1", "root", "pw", file, "passive", "x"}},
		{"not passive", []string{"127.0.0.1", "root", "pw", file, "active"}},
		{"bad server", []string{"127.0.0.1:x", "root", "pw", file}},
		{"insecure without tls", []string{"127.0.0.1", "root", "pw", file, "--insecure"}},
		{"negative timeout", []string{"127.0.0.1", "root", "pw", file, "--timeout", "-1s"}},
		{"unknown flag", []string{"--bogus", "127.0.0.1", "root", "pw", file}},
		{"CR in user", []string{"127.0.0.1", "ro\rot", "pw", file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := putCmd(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
			if got := putExitCode(err); got != 2 {
				t.Errorf("exit code %d (%v), want 2", got, err)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := putCmd(context.Background(), []string{"--help"}, nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "usage: sluice put") {
		t.Errorf("--help: %v, %q", err, out.String())
	}
}

func TestPutExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, 0},
		{"usage", usageError{errors.New("x")}, 2},
		{"plain", errors.New("open: no such file"), 1},
		{"transfer", &putError{kind: putTransferFailed, op: "STOR", err: errors.New("553")}, 1},
		{"connection", &putError{kind: putConnectionError, op: "connect", err: errors.New("refused")}, 3},
		{"login", &putError{kind: putLoginError, op: "login", err: errors.New("530")}, 4},
		{"aborted wrapped", fmt.Errorf("x: %w", &putError{kind: putAborted, op: "STOR", err: context.Canceled}), 5},
	}
	for _, tt := range tests {
		if got := putExitCode(tt.err); got != tt.want {
			t.Errorf("%s: putExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPutProgress(t *testing.T) {
	t.Run("lines", func(t *testing.T) {
		var out bytes.Buffer
		p := newPutProgress(&out, 1000, false, 0)
		for _, n := range []int{20, 70, 0, 60, 40, 805, 5} {
			p.add(n)
		}
		p.done()
		// 0 adds nothing new; 100% before the 226 shows as 99%.
		if want := "2%, 9%, 15%, 19%, 99%, 100% transfer complete\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
	t.Run("aborted", func(t *testing.T) {
		var out bytes.Buffer
		p := newPutProgress(&out, 100, false, 0)
		p.add(2)
		p.fail()
		if want := "2%,\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
	t.Run("nothing shown", func(t *testing.T) {
		var out bytes.Buffer
		p := newPutProgress(&out, 100, false, time.Hour)
		p.add(50)
		p.fail()
		p.done()
		if want := "100% transfer complete\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
	t.Run("bar", func(t *testing.T) {
		var out bytes.Buffer
		p := newPutProgress(&out, 3<<20, true, 0)
		p.add(1 << 20)
		p.done()
		want := "\r[##########....................]  33%  1.0 MiB of 3.0 MiB\x1b[K" +
			"\r[##############################] 100% transfer complete\x1b[K\n"
		if out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
}

// fakeFTP is a small FTP server for the cases a real one can't be made
// to produce on demand.
type fakeFTP struct {
	ln        net.Listener
	greeting  string // "" never greets
	storReply string // if set, STOR gets this instead of a transfer
	no226     bool   // never answer after the data
	uploads   chan fakeUpload

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	cmds  []string
}

type fakeUpload struct {
	name   string
	data   []byte
	err    error
	active bool
}

func startFakeFTP(t *testing.T, configure func(*fakeFTP)) *fakeFTP {
	t.Helper()
	return startFakeFTPOn(t, "127.0.0.1", configure)
}

func startFakeFTPOn(t *testing.T, host string, configure func(*fakeFTP)) *fakeFTP {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s here: %v", host, err)
	}
	f := &fakeFTP{ln: ln, greeting: "220 fake ready", uploads: make(chan fakeUpload, 8)}
	if configure != nil {
		configure(f)
	}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeFTP) addr() string { return f.ln.Addr().String() }

func (f *fakeFTP) track(c net.Conn) {
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
}

func (f *fakeFTP) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeFTP) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.track(c)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			f.session(c)
		}()
	}
}

func (f *fakeFTP) session(c net.Conn) {
	if f.greeting == "" {
		io.Copy(io.Discard, c)
		return
	}
	tp := textproto.NewConn(c)
	tp.PrintfLine("%s", f.greeting)
	if !strings.HasPrefix(f.greeting, "220") {
		return
	}
	var pasv net.Listener
	var active string
	defer func() {
		if pasv != nil {
			pasv.Close()
		}
	}()
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.cmds = append(f.cmds, line)
		f.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "USER":
			tp.PrintfLine("331 Password please.")
		case "PASS":
			if arg == "pw" {
				tp.PrintfLine("230 Logged in.")
			} else {
				tp.PrintfLine("530 Login incorrect.")
			}
		case "TYPE":
			tp.PrintfLine("200 Type set.")
		case "EPSV", "PASV":
			host, _, _ := net.SplitHostPort(c.LocalAddr().String())
			if pasv, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
				tp.PrintfLine("425 %v", err)
				continue
			}
			p := pasv.Addr().(*net.TCPAddr).Port
			if verb == "EPSV" {
				tp.PrintfLine("229 Entering Extended Passive Mode (|||%d|)", p)
			} else {
				tp.PrintfLine("227 Entering Passive Mode (127,0,0,1,%d,%d)", p>>8, p&0xff)
			}
		case "PORT":
			var h [6]int
			if _, err := fmt.Sscanf(arg, "%d,%d,%d,%d,%d,%d", &h[0], &h[1], &h[2], &h[3], &h[4], &h[5]); err != nil {
				tp.PrintfLine("501 Bad PORT.")
				continue
			}
			active = fmt.Sprintf("%d.%d.%d.%d:%d", h[0], h[1], h[2], h[3], h[4]<<8|h[5])
			tp.PrintfLine("200 PORT command successful.")
		case "EPRT": // RFC 2428 §2: EPRT |2|::1|6446|
			f := strings.Split(arg, "|")
			if len(f) != 5 || f[1] != "2" {
				tp.PrintfLine("522 Network protocol not supported, use (2)")
				continue
			}
			active = net.JoinHostPort(f[2], f[3])
			tp.PrintfLine("200 EPRT command successful.")
		case "STOR":
			f.stor(tp, arg, &pasv, active)
		case "QUIT":
			tp.PrintfLine("221 Goodbye.")
			return
		default:
			tp.PrintfLine("502 Not implemented.")
		}
	}
}

func (f *fakeFTP) stor(tp *textproto.Conn, name string, pasv *net.Listener, active string) {
	if f.storReply != "" {
		tp.PrintfLine("%s", f.storReply)
		return
	}
	var dc net.Conn
	var err error
	isActive := *pasv == nil && active != ""
	switch {
	case *pasv != nil:
		dc, err = (*pasv).Accept()
		(*pasv).Close()
		*pasv = nil
	case active != "":
		dc, err = net.Dial("tcp", active)
	default:
		err = errors.New("no PASV or PORT")
	}
	if err != nil {
		tp.PrintfLine("425 Can't open data connection.")
		return
	}
	f.track(dc)
	tp.PrintfLine("150 Ok to send data.")
	data, err := io.ReadAll(dc)
	dc.Close()
	select {
	case f.uploads <- fakeUpload{name: name, data: data, err: err, active: isActive}:
	default:
	}
	switch {
	case err != nil:
		tp.PrintfLine("426 Connection closed; transfer aborted.")
	case !f.no226:
		tp.PrintfLine("226 Transfer complete.")
	}
}

func writePutFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// runPutCmd runs putCmd with args and returns stdout and the exit code.
func runPutCmd(t *testing.T, ctx context.Context, args ...string) (string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	// Progress steps depend on wall time: with one step an hour the
	// output is the same on a busy machine as on an idle one.
	args = append([]string{"--progress-every", "1h"}, args...)
	err := putCmd(ctx, args, strings.NewReader("pw\n"), &out, &errOut)
	if err != nil {
		t.Logf("put %q: %v (stderr %q)", args, err, errOut.String())
	}
	return out.String(), putExitCode(err), err
}

func TestPutFake(t *testing.T) {
	file, data := writePutFile(t, "OS_FILE.BIN", 300<<10)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			f := startFakeFTP(t, nil)
			args := []string{f.addr(), "root", "-", file}
			if mode == "passive" {
				args = append(args, "passive", "--timeout", "5s")
			}
			out, code, _ := runPutCmd(t, context.Background(), args...)
			if code != 0 || out != "100% transfer complete\n" {
				t.Fatalf("got %q, exit %d, want 100%% transfer complete, exit 0", out, code)
			}
			u := <-f.uploads
			if u.name != "OS_FILE.BIN" || !bytes.Equal(u.data, data) || u.err != nil {
				t.Errorf("server got %q, %d bytes, %v; want OS_FILE.BIN, %d bytes", u.name, len(u.data), u.err, len(data))
			}
			cmds := strings.Join(f.commands(), "|")
			if !strings.Contains(cmds, "TYPE I") {
				t.Errorf("no TYPE I in %q", cmds)
			}
			if want := map[string]string{"active": "PORT 127,0,0,1,", "passive": "EPSV"}[mode]; !strings.Contains(cmds, want) {
				t.Errorf("commands %q, want %s", cmds, want)
			}
		})
	}

	errorCases := []struct {
		name      string
		configure func(*fakeFTP)
		pass      string
		timeout   string
		wantOut   string
		wantCode  int
	}{
		{"login", nil, "wrong", "5s", "Login error\n", 4},
		{"server full", func(f *fakeFTP) { f.greeting = "421 Too many users." }, "pw", "5s", "Connection error\n", 3},
		{"STOR refused", func(f *fakeFTP) { f.storReply = "553 Could not create file." }, "pw", "5s", "Transfer error\n", 1},
		{"no greeting", func(f *fakeFTP) { f.greeting = "" }, "pw", "200ms", "Operation aborted or timeout expired\n", 5},
		{"no 226", func(f *fakeFTP) { f.no226 = true }, "pw", "300ms", "Operation aborted or timeout expired\n", 5},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeFTP(t, tt.configure)
			out, code, _ := runPutCmd(t, context.Background(), f.addr(), "root", tt.pass, file, "passive", "--timeout", tt.timeout)
			if out != tt.wantOut || code != tt.wantCode {
				t.Errorf("got %q, exit %d; want %q, exit %d", out, code, tt.wantOut, tt.wantCode)
			}
		})
	}

	for _, mode := range []string{"active", "passive"} {
		t.Run("ipv6 "+mode, func(t *testing.T) {
			f := startFakeFTPOn(t, "::1", nil)
			_, port, _ := net.SplitHostPort(f.addr())
			args := []string{"[::1]:" + port, "root", "pw", file}
			if mode == "passive" {
				args = append(args, "passive")
			}
			out, code, _ := runPutCmd(t, context.Background(), args...)
			if code != 0 || out != "100% transfer complete\n" {
				t.Fatalf("got %q, exit %d", out, code)
			}
			if u := <-f.uploads; !bytes.Equal(u.data, data) || u.active != (mode == "active") {
				t.Errorf("server got %d bytes, active %v, %v", len(u.data), u.active, u.err)
			}
			cmds := strings.Join(f.commands(), "|")
			if want := map[string]string{"active": "EPRT |2|::1|", "passive": "EPSV"}[mode]; !strings.Contains(cmds, want) {
				t.Errorf("commands %q, want %s", cmds, want)
			}
		})
	}

	empty, _ := writePutFile(t, "EMPTY.CFG", 0)
	for _, mode := range []string{"active", "passive"} {
		t.Run("empty "+mode, func(t *testing.T) {
			f := startFakeFTP(t, nil)
			args := []string{f.addr(), "root", "pw", empty}
			if mode == "passive" {
				args = append(args, "passive")
			}
			out, code, _ := runPutCmd(t, context.Background(), args...)
			if code != 0 || out != "100% transfer complete\n" {
				t.Fatalf("got %q, exit %d", out, code)
			}
			if u := <-f.uploads; u.name != "EMPTY.CFG" || len(u.data) != 0 || u.err != nil {
				t.Errorf("server got %q, %d bytes, %v", u.name, len(u.data), u.err)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		out, code, _ := runPutCmd(t, context.Background(), addr, "root", "pw", file, "passive")
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		f := startFakeFTP(t, nil)
		out, code, _ := runPutCmd(t, context.Background(), f.addr(), "root", "pw", file+".nope")
		if out != "" || code != 1 {
			t.Errorf("got %q, exit %d; want nothing, exit 1", out, code)
		}
	})

	t.Run("lines", func(t *testing.T) {
		f := startFakeFTP(t, nil)
		file, _ := writePutFile(t, "big.bin", 1<<20)
		var out bytes.Buffer
		cfg := putConfig{addr: f.addr(), user: "root", pass: "pw", file: file, passive: true, timeout: 5 * time.Second}
		if err := runPut(context.Background(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		// every = 0: one step per 256 KiB chunk written.
		if want := "25%, 50%, 75%, 99%, 100% transfer complete\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})

	for _, passive := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel passive=%v", passive), func(t *testing.T) {
			f := startFakeFTP(t, nil)
			file, _ := writePutFile(t, "big.bin", 4<<20)
			out, err := putCancelMidway(t, f.addr(), file, passive, nil)
			if want := "6%,\nOperation aborted or timeout expired\n"; out != want || putExitCode(err) != 5 {
				t.Errorf("got %q, exit %d; want %q, exit 5", out, putExitCode(err), want)
			}
			// The data connection was reset, not closed: a clean close
			// would tell the server that the file is complete.
			u := <-f.uploads
			if u.err == nil {
				t.Errorf("server read %d bytes and a clean end of file", len(u.data))
			}
		})
	}
}

// putCancelMidway runs a put that is cancelled as soon as it shows its
// first percentage.
func putCancelMidway(t *testing.T, addr, file string, passive bool, tc *tls.Config) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelWriter{cancel: cancel}
	// The fake server takes any user with "pw"; vsftpd's anonymous, any password.
	cfg := putConfig{addr: addr, user: "anonymous", pass: "pw", file: file, passive: passive, timeout: 5 * time.Second, tls: tc}
	err := runPut(ctx, cfg, w)
	return w.buf.String(), err
}

// cancelWriter cancels on the first progress step, like Ctrl-C.
type cancelWriter struct {
	buf    bytes.Buffer
	cancel func()
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("%,")) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// startVsftpd runs a private vsftpd (REFERENCE-SERVERS.md) with an
// anonymous, writable root, and returns its address and root directory.
// With cert set it requires explicit TLS for anonymous logins and data.
func startVsftpd(t *testing.T, cert *putTestCert) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/vsftpd")
	}
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("vsftpd: %v (CI is set: .ci/run must install it)", err)
	} else if err != nil {
		t.Skipf("vsftpd: %v", err)
	}
	// run_as_launching_user: no root, no chroot, no "ftp" user; the
	// anonymous root is then our own writable temporary directory.
	root, empty, dir := t.TempDir(), t.TempDir(), t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=%s
run_as_launching_user=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
anon_other_write_enable=YES
pasv_enable=YES
pasv_address=127.0.0.1
port_enable=YES
connect_from_port_20=NO
secure_chroot_dir=%s
xferlog_enable=NO
seccomp_sandbox=NO
`, port, root, empty)
	if cert != nil {
		conf += fmt.Sprintf(`ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
rsa_cert_file=%s
rsa_private_key_file=%s
`, cert.certFile, cert.keyFile)
	}
	confFile := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, confFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("vsftpd output: %s", logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			line, rerr := textproto.NewReader(bufio.NewReader(c)).ReadLine()
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "220") {
				return addr, root
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vsftpd did not start on %s: %v; output %q", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// putTestCert is a self-signed certificate for 127.0.0.1.
type putTestCert struct {
	certFile, keyFile string
	pool              *x509.CertPool
}

func newPutTestCert(t *testing.T) *putTestCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice put test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &putTestCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c.pool.AddCert(leaf)
	return c
}

func TestPutVsftpd(t *testing.T) {
	addr, root := startVsftpd(t, nil)
	file, data := writePutFile(t, "SONY_A390_DSC00372.JPG", 2<<20)
	check := func(t *testing.T) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(root, "SONY_A390_DSC00372.JPG"))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("stored file: %d bytes, %v; want %d bytes", len(got), err, len(data))
		}
		os.Remove(filepath.Join(root, "SONY_A390_DSC00372.JPG"))
	}
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{addr, "anonymous", "x", file}
			if mode == "passive" {
				args = append(args, "passive")
			}
			out, code, _ := runPutCmd(t, context.Background(), args...)
			if out != "100% transfer complete\n" || code != 0 {
				t.Fatalf("got %q, exit %d", out, code)
			}
			check(t)
		})
	}
	t.Run("login error", func(t *testing.T) {
		// This vsftpd is anonymous only: "530 This FTP server is anonymous only."
		out, code, _ := runPutCmd(t, context.Background(), addr, "ot", "switch", file, "passive")
		if out != "Login error\n" || code != 4 {
			t.Errorf("got %q, exit %d; want Login error, exit 4", out, code)
		}
	})
	t.Run("wrong port", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		wrong := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if wrong == p {
			t.Skip("free port is vsftpd's")
		}
		out, code, _ := runPutCmd(t, context.Background(), net.JoinHostPort(host, strconv.Itoa(wrong)), "anonymous", "x", file)
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		big, _ := writePutFile(t, "big.bin", 8<<20)
		out, err := putCancelMidway(t, addr, big, true, nil)
		if want := "3%,\nOperation aborted or timeout expired\n"; out != want || putExitCode(err) != 5 {
			t.Errorf("got %q, exit %d; want %q, exit 5", out, putExitCode(err), want)
		}
	})
}

func TestPutVsftpdTLS(t *testing.T) {
	cert := newPutTestCert(t)
	addr, root := startVsftpd(t, cert)
	file, data := writePutFile(t, "cfg.cfg", 700<<10)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{addr, "anonymous", "x", file, "--tls", "--insecure"}
			if mode == "passive" {
				args = append(args, "passive")
			}
			var out, errOut bytes.Buffer
			err := putCmd(context.Background(), args, nil, &out, &errOut)
			if out.String() != "100% transfer complete\n" || err != nil {
				t.Fatalf("got %q, %v (stderr %q)", out.String(), err, errOut.String())
			}
			if !strings.Contains(errOut.String(), "warning: --insecure") {
				t.Errorf("stderr %q, want the --insecure warning", errOut.String())
			}
			got, err := os.ReadFile(filepath.Join(root, "cfg.cfg"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("stored file: %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
			os.Remove(filepath.Join(root, "cfg.cfg"))
		})
	}
	t.Run("empty active", func(t *testing.T) {
		empty, _ := writePutFile(t, "EMPTY.CFG", 0)
		out, code, _ := runPutCmd(t, context.Background(), addr, "anonymous", "x", empty, "--tls", "--insecure")
		if out != "100% transfer complete\n" || code != 0 {
			t.Fatalf("got %q, exit %d", out, code)
		}
		if st, err := os.Stat(filepath.Join(root, "EMPTY.CFG")); err != nil || st.Size() != 0 {
			t.Errorf("stored file: %v", err)
		}
	})
	t.Run("verified", func(t *testing.T) {
		var out bytes.Buffer
		tc := &tls.Config{ServerName: "127.0.0.1", RootCAs: cert.pool, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		cfg := putConfig{addr: addr, user: "anonymous", pass: "x", file: file, passive: true, timeout: 5 * time.Second, tls: tc, every: time.Hour}
		if err := runPut(context.Background(), cfg, &out); err != nil || out.String() != "100% transfer complete\n" {
			t.Errorf("got %q, %v", out.String(), err)
		}
	})
	t.Run("cancel active", func(t *testing.T) {
		big, _ := writePutFile(t, "big.bin", 8<<20)
		tc := &tls.Config{ServerName: "127.0.0.1", RootCAs: cert.pool, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		out, err := putCancelMidway(t, addr, big, false, tc)
		if want := "3%,\nOperation aborted or timeout expired\n"; out != want || putExitCode(err) != 5 {
			t.Errorf("got %q, exit %d; want %q, exit 5", out, putExitCode(err), want)
		}
	})
	t.Run("unverified certificate", func(t *testing.T) {
		out, code, _ := runPutCmd(t, context.Background(), addr, "anonymous", "x", file, "passive", "--tls")
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})
	t.Run("plain refused", func(t *testing.T) {
		// force_anon_logins_ssl: "530 Anonymous sessions must use encryption."
		out, code, _ := runPutCmd(t, context.Background(), addr, "anonymous", "x", file, "passive")
		if out != "Login error\n" || code != 4 {
			t.Errorf("got %q, exit %d; want Login error, exit 4", out, code)
		}
	})
}
