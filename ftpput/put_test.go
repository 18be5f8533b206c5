package ftpput

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// put runs Put and returns stdout and the exit code. Progress steps at
// most once an hour: the output is then the same on a busy machine as
// on an idle one.
func put(t *testing.T, ctx context.Context, cfg Config) (string, int, error) {
	t.Helper()
	if cfg.Progress.Columns == 0 && cfg.Progress.Every == 0 && cfg.Progress.Now == nil {
		cfg.Progress.Every = time.Hour
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	var out bytes.Buffer
	err := Put(ctx, cfg, &out)
	if err != nil {
		t.Logf("put %s %s: %v", cfg.Addr, cfg.File, err)
	}
	return out.String(), ExitCode(err), err
}

func TestPutFake(t *testing.T) {
	file, data := writeFile(t, "OS_FILE.BIN", 300<<10)
	for _, mode := range []string{"active", "passive"} {
		t.Run(mode, func(t *testing.T) {
			f := startFakeFTP(t, nil)
			out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file, Passive: mode == "passive"})
			if code != 0 || out != "100% transfer complete\n" {
				t.Fatalf("got %q, exit %d, want 100%% transfer complete, exit 0", out, code)
			}
			u := <-f.uploads
			if u.name != "OS_FILE.BIN" || !bytes.Equal(u.data, data) || u.err != nil || u.active != (mode == "active") {
				t.Errorf("server got %q, %d bytes, active %v, %v; want OS_FILE.BIN, %d bytes, active %v", u.name, len(u.data), u.active, u.err, len(data), mode == "active")
			}
			cmds := strings.Join(f.commands(), "|")
			want := map[string]string{
				"active":  "USER root|PASS pw|TYPE I|PORT 127,0,0,1,",
				"passive": "USER root|PASS pw|TYPE I|EPSV|STOR OS_FILE.BIN|QUIT",
			}[mode]
			if !strings.HasPrefix(cmds, want) {
				t.Errorf("commands %q, want %q first", cmds, want)
			}
		})
	}

	errorCases := []struct {
		name      string
		configure func(*fakeFTP)
		pass      string
		timeout   time.Duration
		wantOut   string
		wantCode  int
	}{
		{"login", nil, "wrong", 5 * time.Second, "Login error\n", 4},
		{"server full", func(f *fakeFTP) { f.greeting = "421 Too many users." }, "pw", 5 * time.Second, "Connection error\n", 3},
		{"STOR refused", func(f *fakeFTP) { f.storReply = "553 Could not create file." }, "pw", 5 * time.Second, "Transfer error\n", 1},
		{"no greeting", func(f *fakeFTP) { f.greeting = "" }, "pw", 200 * time.Millisecond, "Operation aborted or timeout expired\n", 5},
		{"no 226", func(f *fakeFTP) { f.no226 = true }, "pw", 300 * time.Millisecond, "Operation aborted or timeout expired\n", 5},
	}
	for _, tt := range errorCases {
		for _, mode := range []string{"active", "passive"} {
			t.Run(tt.name+" "+mode, func(t *testing.T) {
				f := startFakeFTP(t, tt.configure)
				cfg := Config{Addr: f.addr(), User: "root", Pass: tt.pass, File: file, Passive: mode == "passive", Timeout: tt.timeout}
				out, code, _ := put(t, context.Background(), cfg)
				if out != tt.wantOut || code != tt.wantCode {
					t.Errorf("got %q, exit %d; want %q, exit %d", out, code, tt.wantOut, tt.wantCode)
				}
			})
		}
	}

	for _, mode := range []string{"active", "passive"} {
		t.Run("ipv6 "+mode, func(t *testing.T) {
			f := startFakeFTPOn(t, "::1", nil)
			out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file, Passive: mode == "passive"})
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

	t.Run("PASV fallback", func(t *testing.T) {
		f := startFakeFTP(t, func(f *fakeFTP) { f.noEPSV = true })
		out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file, Passive: true})
		if code != 0 || out != "100% transfer complete\n" {
			t.Fatalf("got %q, exit %d", out, code)
		}
		if u := <-f.uploads; !bytes.Equal(u.data, data) {
			t.Errorf("server got %d bytes, %v", len(u.data), u.err)
		}
		if cmds := strings.Join(f.commands(), "|"); !strings.Contains(cmds, "EPSV|PASV|STOR") {
			t.Errorf("commands %q, want EPSV, then PASV", cmds)
		}
	})

	t.Run("PORT refused", func(t *testing.T) {
		f := startFakeFTP(t, func(f *fakeFTP) { f.portReply = "500 Illegal PORT command." })
		out, code, err := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file})
		if out != "Transfer error\n" || code != 1 || !strings.Contains(fmt.Sprint(err), "500 Illegal PORT") {
			t.Errorf("got %q, exit %d, %v; want Transfer error, exit 1, the server's reply", out, code, err)
		}
		if cmds := strings.Join(f.commands(), "|"); strings.Contains(cmds, "STOR") {
			t.Errorf("commands %q: STOR after a refused PORT", cmds)
		}
	})

	t.Run("active from a third party", func(t *testing.T) {
		// The server connects from 127.0.0.2 first: that connection is
		// closed unread, and the file goes on the server's own.
		f := startFakeFTP(t, func(f *fakeFTP) { f.thirdParty = "127.0.0.2" })
		out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file})
		if code != 0 || out != "100% transfer complete\n" {
			t.Fatalf("got %q, exit %d", out, code)
		}
		if u := <-f.uploads; !bytes.Equal(u.data, data) || u.thirdParty == nil || len(u.thirdParty) != 0 {
			t.Errorf("server got %d bytes (%v); the third party got %q, want nothing", len(u.data), u.err, u.thirdParty)
		}
	})

	empty, _ := writeFile(t, "EMPTY.CFG", 0)
	for _, mode := range []string{"active", "passive"} {
		t.Run("empty "+mode, func(t *testing.T) {
			f := startFakeFTP(t, nil)
			out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: empty, Passive: mode == "passive"})
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
		out, code, _ := put(t, context.Background(), Config{Addr: addr, User: "root", Pass: "pw", File: file, Passive: true})
		if out != "Connection error\n" || code != 3 {
			t.Errorf("got %q, exit %d; want Connection error, exit 3", out, code)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		f := startFakeFTP(t, nil)
		out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file + ".nope"})
		if out != "" || code != 1 {
			t.Errorf("got %q, exit %d; want nothing, exit 1", out, code)
		}
		if cmds := f.commands(); len(cmds) != 0 {
			t.Errorf("commands %q, want none", cmds)
		}
	})

	t.Run("CR in user", func(t *testing.T) {
		f := startFakeFTP(t, nil)
		out, code, _ := put(t, context.Background(), Config{Addr: f.addr(), User: "ro\r\nDELE x", Pass: "pw", File: file})
		if out != "" || code != 1 || len(f.commands()) != 0 {
			t.Errorf("got %q, exit %d, commands %q; want nothing sent, exit 1", out, code, f.commands())
		}
	})

	t.Run("lines", func(t *testing.T) {
		f := startFakeFTP(t, nil)
		file, _ := writeFile(t, "big.bin", 1<<20)
		var out bytes.Buffer
		cfg := Config{Addr: f.addr(), User: "root", Pass: "pw", File: file, Passive: true, Timeout: 5 * time.Second}
		if err := Put(context.Background(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		// Every = 0: one step per 256 KiB chunk written.
		if want := "25%, 50%, 75%, 99%, 100% transfer complete\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})

	for _, passive := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel passive=%v", passive), func(t *testing.T) {
			f := startFakeFTP(t, nil)
			file, _ := writeFile(t, "big.bin", 4<<20)
			out, err := putCancelMidway(t, f.addr(), file, passive, nil)
			if want := "6%,\nOperation aborted or timeout expired\n"; out != want || ExitCode(err) != 5 {
				t.Errorf("got %q, exit %d; want %q, exit 5", out, ExitCode(err), want)
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
	cfg := Config{Addr: addr, User: "anonymous", Pass: "pw", File: file, Passive: passive, Timeout: 5 * time.Second, TLS: tc}
	err := Put(ctx, cfg, w)
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

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, 0},
		{"plain", fmt.Errorf("open: no such file"), 1},
		{"transfer", &Error{Kind: TransferFailed, Op: "STOR", Err: &ReplyError{553, "no"}}, 1},
		{"connection", &Error{Kind: ConnectionError, Op: "connect", Err: fmt.Errorf("refused")}, 3},
		{"login", &Error{Kind: LoginError, Op: "login", Err: &ReplyError{530, "no"}}, 4},
		{"aborted wrapped", fmt.Errorf("x: %w", &Error{Kind: Aborted, Op: "STOR", Err: context.Canceled}), 5},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Kind: TransferFailed, Op: "STOR a", Err: &ReplyError{Code: 550, Msg: "line one\nline\x1b[2Jtwo"}}
	if got, want := e.Error(), "put: STOR a: 550 line one; line?[2Jtwo"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestPutActive425: a server that answers STOR with 150 and then, unable
// to connect to the active-mode listener, 425 (sluice and the device do):
// put reports the server's 425 as a transfer error instead of waiting for
// its timeout (30 s here: a regression fails, it does not hang).
func TestPutActive425(t *testing.T) {
	file, _ := writeFile(t, "OS_FILE.BIN", 10<<10)
	f := startFakeFTP(t, func(f *fakeFTP) {
		f.storReply = "150 Data connection open, file transfer in process...\r\n425 Unable to open data transport."
	})
	out, code, err := put(t, context.Background(), Config{Addr: f.addr(), User: "root", Pass: "pw", File: file, Timeout: 30 * time.Second})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != 425 || re.Msg != "Unable to open data transport." || out != "Transfer error\n" || code != 1 {
		t.Errorf("got %q, exit %d, %v; want the server's 425 as a transfer error (exit 1)", out, code, err)
	}
	if cmds := strings.Join(f.commands(), "|"); !strings.HasSuffix(cmds, "|STOR OS_FILE.BIN") || !strings.Contains(cmds, "|PORT ") {
		t.Errorf("commands: %s; want PORT, then STOR last", cmds)
	}
}
