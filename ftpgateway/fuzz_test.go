package ftpgateway

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The parser fuzz targets run their seed corpora (the unit tables) under
// plain go test; go test -fuzz=FuzzXxx explores further.

func FuzzParseLine(f *testing.F) {
	for _, tt := range parseLineTests {
		f.Add([]byte(tt.raw))
	}
	f.Add([]byte("\xff\xf4\xf2ABOR"))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cmd, err := parseLine(raw)
		if err != nil {
			if cmd != (command{}) {
				t.Errorf("parseLine(%q): error %v with a command %+v", raw, err, cmd)
			}
			return
		}
		if cmd.verb == "" {
			t.Errorf("parseLine(%q): empty verb without an error", raw)
		}
		if strings.ContainsAny(cmd.verb, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("parseLine(%q): verb %q has lower-case letters", raw, cmd.verb)
		}
		if strings.ContainsAny(cmd.verb, " \r\n\x00") || strings.ContainsAny(cmd.arg, "\r\n\x00") {
			t.Errorf("parseLine(%q): %q %q holds a blank, CR, LF or NUL", raw, cmd.verb, cmd.arg)
		}
		if strings.HasPrefix(cmd.arg, " ") {
			t.Errorf("parseLine(%q): argument %q starts with a blank", raw, cmd.arg)
		}
	})
}

func FuzzParsePORT(f *testing.F) {
	for _, tt := range parsePORTTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		a, err := parsePORT(arg)
		if err != nil {
			if a != nil {
				t.Errorf("parsePORT(%q): error %v with an address %v", arg, err, a)
			}
			return
		}
		if a.IP.To4() == nil || a.Port < 0 || a.Port > 65535 {
			t.Fatalf("parsePORT(%q): accepted %v", arg, a)
		}
		// Its canonical form parses back to it.
		v4 := a.IP.To4()
		canon := fmt.Sprintf("%d,%d,%d,%d,%d,%d", v4[0], v4[1], v4[2], v4[3], a.Port>>8, a.Port&0xff)
		b, err := parsePORT(canon)
		if err != nil || !b.IP.Equal(a.IP) || b.Port != a.Port {
			t.Errorf("parsePORT(%q) (from %q): got %v, %v, want %v", canon, arg, b, err, a)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, tt := range parseEPRTTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		a, err := parseEPRT(arg)
		if err != nil {
			if a != nil {
				t.Errorf("parseEPRT(%q): error %v with an address %v", arg, err, a)
			}
			return
		}
		if a.IP == nil || a.Port < 1 || a.Port > 65535 {
			t.Fatalf("parseEPRT(%q): accepted %v", arg, a)
		}
		if proto := strings.Split(strings.TrimSpace(arg)[1:], strings.TrimSpace(arg)[:1])[0]; proto == "1" && a.IP.To4() == nil {
			t.Errorf("parseEPRT(%q): protocol 1 with address %v", arg, a.IP)
		}
	})
}

func FuzzParseEPSV(f *testing.F) {
	for _, tt := range parseEPSVTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		all, proto, err := parseEPSV(arg)
		if err != nil {
			return
		}
		if proto < 0 || proto > 2 || all && proto != 0 {
			t.Errorf("parseEPSV(%q): got all %v, protocol %d", arg, all, proto)
		}
	})
}

func FuzzParseCRCArgs(f *testing.F) {
	for _, tt := range parseCRCTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		name, off, n, hasLen, err := parseCRCArgs(arg)
		if err != nil {
			return
		}
		if off < 0 || n < 0 || !hasLen && n != 0 {
			t.Errorf("parseCRCArgs(%q): got %q offset %d size %d (hasLen %v)", arg, name, off, n, hasLen)
		}
	})
}

// fuzzSkip are verbs a session script must not send: they end the session
// (QUIT), switch the connection to TLS (AUTH), or log out or count towards
// the bad-login limit (USER, PASS, REIN), after which NOOP would not get
// 200.
var fuzzSkip = map[string]bool{"QUIT": true, "AUTH": true, "USER": true, "PASS": true, "REIN": true}

// FuzzSession feeds arbitrary control lines to a live, logged-in session:
// every reply must be well formed (RFC 959 §4.2: "ddd " or "ddd-" first
// lines; continuation lines that start with a space, so never with client
// text) and the session must still answer NOOP. Data connections the
// script asks for are served: passive ones are connected to, read up to
// 1 MiB and closed.
func FuzzSession(f *testing.F) {
	for _, sc := range goldenScripts {
		f.Add(strings.Join(sc.steps, "\n"))
	}
	for _, s := range []string{
		"PASV\nLIST\nEPSV\nRETR /tst/1000\nEPSV\nSTOR /mem/x.dat\nSITE STATBUFFER\nSITE CLEARBUFFER",
		"TYPE A\nEPSV\nRETR /tst/5000\nREST 100\nEPSV\nRETR /tst/5000\nXCRC \"/tst/5000\" 1 2",
		"ACCT TEST0\nEPSV\nSTOR 77\nEPSV\nNLST\nSIZE 77\nCWD /dsk",
		"SITE DIRECT ON\nCWD dsk\nEPSV\nAPPE a.dat\nRNFR a.dat\nRNTO b.dat\nDELE b.dat",
		"EPSV ALL\nPASV\nEPSV\nABOR\nSTAT",
		"SITE REPLY ON\nEPSV\nSTOR /dsk/x\nSITE SAVEBUFFER dsk\nSITE BACKUP",
		"\xff\xf4\xff\xf2ABOR\nNOOP\x00\nRETR a\rb\n" + strings.Repeat("x", 2000),
	} {
		f.Add(s)
	}
	e := newTestEnv(f, tOpts{logger: hclog.NewNullLogger(),
		limits: "login_fail_delay = \"1ms\"\nmax_sessions = 1000\nmax_sessions_per_ip = 1000"})
	f.Fuzz(func(t *testing.T, script string) {
		c := e.login(t, "root")
		s := &fuzzSession{c: c}
		for _, line := range strings.Split(script, "\n") {
			line = strings.TrimSuffix(line, "\r")
			if cmd, err := parseLine([]byte(line)); err == nil && fuzzSkip[cmd.verb] {
				continue
			}
			s.exchange(line)
		}
		s.exchange("NOOP")
		if s.last.String() != "200 OK." {
			t.Errorf("NOOP after the script: got %q, want 200 OK.", s.last)
		}
	})
}

// fuzzSession tracks the passive address the server last advertised.
type fuzzSession struct {
	c       *tCtl
	passive string
	last    tReply
}

// exchange sends a line and reads replies up to the first final one (not
// 1xx), serving a data connection on 150/125.
func (s *fuzzSession) exchange(line string) {
	t := s.c.t
	t.Helper()
	s.c.sendRaw([]byte(line + "\r\n"))
	for {
		r, err := s.c.tryRead()
		if err != nil {
			t.Fatalf("after %q: %v (reply so far %q)", truncBytes([]byte(line)), err, r)
		}
		if r.code < 100 || r.code > 599 {
			t.Fatalf("after %q: reply code %d", truncBytes([]byte(line)), r.code)
		}
		s.last = r
		first := r.lines[0]
		switch {
		case r.code == 227:
			if addr, err := parse227(first); err == nil {
				s.passive = addr
			}
		case r.code == 229:
			var port int
			if _, err := fmt.Sscanf(first, "229 Entering Extended Passive Mode (|||%d|)", &port); err == nil {
				s.passive = fmt.Sprintf("127.0.0.1:%d", port)
			}
		case r.code == 150 || r.code == 125:
			if s.passive != "" {
				s.serveData(s.passive)
				s.passive = ""
			}
		}
		if r.code >= 200 {
			return
		}
	}
}

// serveData connects to a passive address, half-closes (a STOR ends
// there), reads up to 1 MiB and closes.
func (s *fuzzSession) serveData(addr string) {
	dc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		return // the listener was replaced by a later PORT or PASV
	}
	defer dc.Close()
	dc.(*net.TCPConn).CloseWrite()
	dc.SetReadDeadline(time.Now().Add(testTimeout))
	io.CopyN(io.Discard, dc, 1<<20)
}

// FuzzParseMFMTTime: MFMT's time-val (RFC 3659 §2.3) is accepted only as
// 14 digits and an optional 1 to 9 digit fraction, and what is accepted
// formats back to its whole seconds.
func FuzzParseMFMTTime(f *testing.F) {
	for _, s := range []string{"20190506070809", "20030201123456.5", "20030201123456.123456789", "2003020112",
		"20030201123456.", "20031301123456", "20030230000000", "2003020112345x", "+0030201123456", "20030201123456.1234567890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := parseMFMTTime(s)
		if !ok {
			return
		}
		whole, _, _ := strings.Cut(s, ".")
		if tm.Location() != time.UTC || tm.Format("20060102150405") != whole {
			t.Errorf("parseMFMTTime(%q) = %v, which formats as %s", s, tm, tm.Format("20060102150405"))
		}
	})
}
