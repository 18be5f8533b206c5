package ftpput

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeFTP is a small FTP server for the cases a real one can't be made
// to produce on demand.
type fakeFTP struct {
	ln        net.Listener
	greeting  string // "" never greets
	storReply string // if set, STOR gets this instead of a transfer
	no226     bool   // never answer after the data
	noEPSV    bool   // answer EPSV with 500, as servers without RFC 2428
	portReply string // if set, PORT and EPRT get this
	// thirdParty, if set, is an address that connects to the client's
	// active-mode listener first, before the server's own connection.
	thirdParty string
	uploads    chan fakeUpload

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
	// thirdParty is what the third party's connection read, nil if none
	// was made.
	thirdParty []byte
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
			if verb == "EPSV" && f.noEPSV {
				tp.PrintfLine("500 EPSV not understood.")
				continue
			}
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
			if f.portReply != "" {
				tp.PrintfLine("%s", f.portReply)
				continue
			}
			var h [6]int
			if _, err := fmt.Sscanf(arg, "%d,%d,%d,%d,%d,%d", &h[0], &h[1], &h[2], &h[3], &h[4], &h[5]); err != nil {
				tp.PrintfLine("501 Bad PORT.")
				continue
			}
			active = fmt.Sprintf("%d.%d.%d.%d:%d", h[0], h[1], h[2], h[3], h[4]<<8|h[5])
			tp.PrintfLine("200 PORT command successful.")
		case "EPRT": // RFC 2428 §2: EPRT |2|::1|6446|
			if f.portReply != "" {
				tp.PrintfLine("%s", f.portReply)
				continue
			}
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
	var third []byte
	var err error
	isActive := *pasv == nil && active != ""
	switch {
	case *pasv != nil:
		dc, err = (*pasv).Accept()
		(*pasv).Close()
		*pasv = nil
	case active != "" && f.thirdParty != "":
		third, err = f.dialThird(tp, active)
		if err == nil {
			dc, err = net.Dial("tcp", active)
		}
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
	if third == nil {
		tp.PrintfLine("150 Ok to send data.")
	}
	data, err := io.ReadAll(dc)
	dc.Close()
	select {
	case f.uploads <- fakeUpload{name: name, data: data, err: err, active: isActive, thirdParty: third}:
	default:
	}
	switch {
	case err != nil:
		tp.PrintfLine("426 Connection closed; transfer aborted.")
	case !f.no226:
		tp.PrintfLine("226 Transfer complete.")
	}
}

// writeFile writes size bytes of a pattern to a new file called name.
func writeFile(t *testing.T, name string, size int) (string, []byte) {
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

// dialThird connects from f.thirdParty to the client's listener, says
// 150 so that the client accepts, and returns what the connection read
// until the client closed it.
func (f *fakeFTP) dialThird(tp *textproto.Conn, active string) ([]byte, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(f.thirdParty)}}
	c, err := d.Dial("tcp", active)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f.track(c)
	tp.PrintfLine("150 Ok to send data.")
	got, _ := io.ReadAll(c) // a reset is as good as a close
	return append([]byte{}, got...), nil
}
