package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
)

// newFTPServer is newServer with the FTP gateway on too, on 127.0.0.1:0
// (SSH stays on, on its own port). Root's password, printed by the first
// run, is also root's FTP password. The extra TOML is merged into the
// configuration (the first run writes an [ftp] table already).
func newFTPServer(t *testing.T, extraConfig string) *server {
	t.Helper()
	s := newDataDir(t)
	s.ftp = true
	p := s.start()
	pw, ok := p.firstRunPassword()
	if !ok {
		t.Fatalf("first run printed no root password; stdout:\n%s", p.stdout.String())
	}
	s.password = pw
	s.stop()
	if extraConfig != "" {
		s.mergeConfig(extraConfig)
	}
	s.start()
	return s
}

// mergeConfig adds TOML to the configuration: keys of a table that the
// file already has replace its keys of the same name or are added to it;
// other tables are appended. It handles the simple "[table]" and "key =
// value" lines the tests write.
func (s *server) mergeConfig(extra string) {
	s.t.Helper()
	b, err := os.ReadFile(s.config)
	if err != nil {
		s.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	table := ""
	var appended []string
	for _, l := range strings.Split(extra, "\n") {
		tl := strings.TrimSpace(l)
		switch {
		case tl == "" || strings.HasPrefix(tl, "#"):
			continue
		case strings.HasPrefix(tl, "["):
			table = tl
			if indexOf(lines, table) < 0 {
				appended = append(appended, "", table)
				table = "" // new table: its keys are appended after it
			}
			continue
		}
		if table == "" {
			appended = append(appended, l)
			continue
		}
		key := strings.TrimSpace(strings.SplitN(tl, "=", 2)[0])
		h := indexOf(lines, table)
		end := len(lines)
		for i := h + 1; i < len(lines); i++ {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "[") {
				end = i
				break
			}
		}
		replaced := false
		for i := h + 1; i < end; i++ {
			if k := strings.TrimSpace(strings.SplitN(lines[i], "=", 2)[0]); k == key && strings.Contains(lines[i], "=") {
				lines[i] = tl
				replaced = true
			}
		}
		if !replaced {
			lines = append(lines[:h+1], append([]string{tl}, lines[h+1:]...)...)
		}
	}
	out := strings.Join(append(lines, appended...), "\n") + "\n"
	if err := os.WriteFile(s.config, []byte(out), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func indexOf(lines []string, table string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) == table {
			return i
		}
	}
	return -1
}

// waitFTP waits for the "ftp listening" line, which follows "ssh
// listening", and records its address.
func (p *process) waitFTP() error {
	e, ok := p.log.wait(startTimeout, func(e event) bool {
		if e.str("@message") == "ftp listening" {
			return true
		}
		select {
		case <-p.done:
			return true // stop waiting: the process has exited
		default:
			return false
		}
	})
	if ok && e.str("@message") == "ftp listening" {
		p.ftp = e.str("addr")
		return nil
	}
	select {
	case <-p.done:
		return fmt.Errorf("sluice serve exited before FTP listened: %v\nstderr:\n%s", p.err, p.log.String())
	default:
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("sluice serve logged no \"ftp listening\" within %v\nstderr:\n%s", startTimeout, p.log.String())
	}
}

// ftpAddr is the FTP control address (127.0.0.1:port) of the running
// process.
func (s *server) ftpAddr() string {
	s.t.Helper()
	if s.proc == nil || s.proc.ftp == "" {
		s.t.Fatal("FTP is not running (use newFTPServer)")
	}
	return s.proc.ftp
}

// ftpPort is the FTP control port of the running process.
func (s *server) ftpPort() string {
	s.t.Helper()
	_, port, err := net.SplitHostPort(s.ftpAddr())
	if err != nil {
		s.t.Fatal(err)
	}
	return port
}

// ftpURL is ftp://root:PASSWORD@127.0.0.1:PORT followed by p.
func (s *server) ftpURL(p string) string {
	return "ftp://root:" + s.password + "@" + s.ftpAddr() + p
}

// ftpClient logs root in with github.com/jlaffaye/ftp (passive mode,
// EPSV off, as the manual's clients do). The connection is closed at
// cleanup.
func (s *server) ftpClient(t *testing.T, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	opts = append([]ftp.DialOption{ftp.DialWithTimeout(10 * time.Second), ftp.DialWithDisabledEPSV(true)}, opts...)
	c, err := ftp.Dial(s.ftpAddr(), opts...)
	if err != nil {
		t.Fatalf("ftp dial: %v", err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login("root", s.password); err != nil {
		t.Fatalf("ftp login: %v", err)
	}
	return c
}

// ctl is a raw FTP control connection for tests that check exact reply
// lines or misbehave on purpose. Methods fail the test on I/O errors.
type ctl struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// replyTimeout bounds the wait for one reply; a -race server on a busy
// machine can be slow.
const replyTimeout = 30 * time.Second

// dialCtl connects to the FTP server; it does not read the banner.
func (s *server) dialCtl(t *testing.T) *ctl {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.ftpAddr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial ftp: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ctl{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// login connects, checks the 220 banner, and logs root in.
func (s *server) login(t *testing.T) *ctl {
	t.Helper()
	c := s.dialCtl(t)
	c.expect(220)
	c.cmdExpect("USER root", 331)
	c.cmdExpect("PASS "+s.password, 230)
	return c
}

// send writes one command line (CRLF added).
func (c *ctl) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(replyTimeout))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", redactPass(line), err)
	}
}

// readReply reads one (possibly multi-line) reply and returns its lines
// without CRLF. err is io.EOF if the server closed the connection first.
func (c *ctl) readReply(timeout time.Duration) ([]string, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	var lines []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			if l != "" {
				lines = append(lines, l)
			}
			return lines, err
		}
		l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
		lines = append(lines, l)
		if len(lines[0]) < 4 || !isCode(lines[0][:3]) {
			return lines, fmt.Errorf("not a reply line: %q", lines[0])
		}
		if lines[0][3] == ' ' {
			return lines, nil
		}
		// Multi-line (RFC 959 §4.2): ends with "code " at the start of a line.
		if len(lines) > 1 && strings.HasPrefix(l, lines[0][:3]+" ") {
			return lines, nil
		}
	}
}

func isCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// reply reads one reply; an I/O error fails the test.
func (c *ctl) reply() []string {
	c.t.Helper()
	lines, err := c.readReply(replyTimeout)
	if err != nil {
		c.t.Fatalf("reading reply: %v (got %q)", err, lines)
	}
	return lines
}

// expect reads a reply and checks its code; it returns the last line.
func (c *ctl) expect(code int) string {
	c.t.Helper()
	lines := c.reply()
	if got := lines[0][:3]; got != strconv.Itoa(code) {
		c.t.Fatalf("reply: got %q, want code %d", lines, code)
	}
	return lines[len(lines)-1]
}

// cmd sends a command and returns its reply lines.
func (c *ctl) cmd(line string) []string {
	c.t.Helper()
	c.send(line)
	return c.reply()
}

// cmdExpect sends a command and checks the reply code; it returns the
// last line.
func (c *ctl) cmdExpect(line string, code int) string {
	c.t.Helper()
	c.send(line)
	lines := c.reply()
	if got := lines[0][:3]; got != strconv.Itoa(code) {
		c.t.Fatalf("%s: got %q, want code %d", redactPass(line), lines, code)
	}
	return lines[len(lines)-1]
}

// cmdLine sends a command and checks that the reply is exactly one line,
// want.
func (c *ctl) cmdLine(line, want string) {
	c.t.Helper()
	got := c.cmd(line)
	if len(got) != 1 || got[0] != want {
		c.t.Errorf("%s: got %q, want %q", redactPass(line), got, want)
	}
}

// waitClosed checks that the server closes the connection (EOF or reset)
// within timeout, after any pending replies, which it returns.
func (c *ctl) waitClosed(timeout time.Duration) []string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	rest, err := io.ReadAll(c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v (read %q)", timeout, rest)
	}
	return strings.Split(strings.TrimSuffix(string(rest), "\r\n"), "\r\n")
}

var pasvRE = regexp.MustCompile(`\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)`)

// pasv sends PASV and returns the advertised address.
func (c *ctl) pasv() string {
	c.t.Helper()
	l := c.cmdExpect("PASV", 227)
	m := pasvRE.FindStringSubmatch(l)
	if m == nil {
		c.t.Fatalf("PASV reply %q: no address", l)
	}
	p1, _ := strconv.Atoi(m[5])
	p2, _ := strconv.Atoi(m[6])
	return net.JoinHostPort(strings.Join(m[1:5], "."), strconv.Itoa(p1<<8|p2))
}

func redactPass(line string) string {
	if strings.HasPrefix(strings.ToUpper(line), "PASS ") {
		return "PASS ****"
	}
	return line
}

// runInput runs a client program with stdin, like run.
func runInput(t *testing.T, ctx context.Context, dir string, stdin string, name string, args ...string) result {
	t.Helper()
	return runWith(t, ctx, dir, clientEnv(), strings.NewReader(stdin), name, args...)
}

// tool runs a client program in dir with the tool timeout.
func tool(t *testing.T, dir, stdin, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	return runInput(t, ctx, dir, stdin, name, args...)
}

// dialData connects to a passive data address.
func (c *ctl) dialData(addr string) net.Conn {
	c.t.Helper()
	dc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		c.t.Fatalf("data connection to %s: %v", addr, err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc
}

// store sends data with a STOR or APPE line over a passive data
// connection. It returns the final reply, or the refusal if the server
// answered the command without a 1xx preliminary reply.
func (c *ctl) store(line string, data []byte) []string {
	c.t.Helper()
	_, final := c.storePrelim(line, data)
	return final
}

// prelim150 writes every "125 Data connection already open, ..." as its
// "150 Data connection open, ..." form, wherever it is in s, for
// comparisons. Both are the manual's preliminary reply to a transfer: 125
// when the passive connection is already queued as the command arrives,
// 150 when it is accepted after. Clients that connect before they send
// the command (ftplib, curl) get 125 unless a busy machine has not queued
// the connection yet (ftpgateway's TestAlreadyOpen checks 125 itself).
func prelim150(s string) string {
	return strings.ReplaceAll(s, "125 Data connection already open, ", "150 Data connection open, ")
}

// storePrelim is store that also returns the preliminary reply (nil when
// the command was refused at once).
func (c *ctl) storePrelim(line string, data []byte) (prelim, final []string) {
	c.t.Helper()
	dc := c.dialData(c.pasv())
	c.send(line)
	first := c.reply()
	if first[0][0] != '1' {
		dc.Close()
		return nil, first
	}
	dc.SetWriteDeadline(time.Now().Add(toolTimeout))
	if _, err := dc.Write(data); err != nil {
		c.t.Errorf("%s: writing the data: %v", line, err)
	}
	dc.Close()
	return first, c.reply()
}

// retrieve runs a RETR (or LIST, NLST) line over a passive data
// connection and returns the data and the final reply (or the refusal).
func (c *ctl) retrieve(line string) ([]byte, []string) {
	c.t.Helper()
	dc := c.dialData(c.pasv())
	c.send(line)
	first := c.reply()
	if first[0][0] != '1' {
		dc.Close()
		return nil, first
	}
	dc.SetReadDeadline(time.Now().Add(toolTimeout))
	data, err := io.ReadAll(dc)
	if err != nil {
		c.t.Errorf("%s: reading the data: %v", line, err)
	}
	dc.Close()
	return data, c.reply()
}

// oneLine checks that a reply is exactly one line, want.
func oneLine(t *testing.T, what string, got []string, want string) {
	t.Helper()
	if len(got) != 1 || prelim150(got[0]) != prelim150(want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}
