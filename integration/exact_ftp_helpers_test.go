package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers of exact_ftp_test.go: more FTP users, a multi-connection
// ftplib driver, STATBUFFER parsing, and a curl that runs in the
// background until it is killed.

// withFTPUsers stops the server, adds users (name → level) with
// `sluice user add NAME --level L --password-stdin`, as an operator does,
// and starts it again. It returns each user's password.
func (s *server) withFTPUsers(t *testing.T, users map[string]string) map[string]string {
	t.Helper()
	s.stop()
	pw := map[string]string{}
	for name, level := range users {
		p := rand.Text()
		ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
		r := runWith(t, ctx, t.TempDir(), serverEnv(nil), strings.NewReader(p+"\n"),
			sluiceBin, "user", "add", name, "--data", s.data, "--level", level, "--password-stdin")
		cancel()
		if r.exit != 0 {
			t.Fatalf("sluice user add %s --level %s: %v", name, level, r)
		}
		pw[name] = p
	}
	s.start()
	return pw
}

// ftplibDriver runs steps over any number of Python ftplib connections
// and prints the transcript: "TAG> COMMAND" (the password masked) and
// "TAG< LINE" for every reply line of connection TAG, "TAG! Exception"
// when ftplib raised (a 4xx/5xx final reply, a lost connection). The
// program is a JSON list of steps (ftplibStep) in argv[3].
const ftplibDriver = `
import ftplib, json, sys

HOST, PORT, PROG = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])


class Rec(ftplib.FTP):
    tag = "?"

    def putcmd(self, line):
        shown = "PASS <password>" if line.startswith("PASS ") else line
        print("%s> %s" % (self.tag, shown), flush=True)
        super().putcmd(line)

    def getmultiline(self):
        resp = super().getmultiline()
        for l in resp.split("\n"):
            print("%s< %s" % (self.tag, l), flush=True)
        return resp


conns = {}
for step in PROG:
    tag, op = step["conn"], step["op"]
    try:
        if op == "login":
            f = Rec()
            f.tag = tag
            conns[tag] = f
            f.connect(HOST, PORT, timeout=60)
            f.login(step["user"], step["password"])
        elif op == "cmd":
            conns[tag].putcmd(step["line"])
            conns[tag].getmultiline()
        elif op == "stor":
            with open(step["file"], "rb") as fp:
                fp.seek(step.get("offset", 0))
                conns[tag].storbinary(step["line"], fp, blocksize=65536, rest=step.get("rest"))
        elif op == "quit":
            conns[tag].quit()
        else:
            raise SystemExit("unknown op " + op)
    except (ftplib.Error, OSError, EOFError) as e:
        print("%s! %s" % (tag, type(e).__name__), flush=True)
`

// ftplibStep is one step of ftplibDriver on connection Conn: "login"
// (User, Password), "cmd" (Line, any command: the reply is printed, never
// raised), "stor" (Line is "STOR name" or "APPE name", the data is File
// from Offset on, Rest sends REST first), "quit".
type ftplibStep struct {
	Conn     string `json:"conn"`
	Op       string `json:"op"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Line     string `json:"line,omitempty"`
	File     string `json:"file,omitempty"`
	Offset   int64  `json:"offset,omitempty"`
	Rest     *int64 `json:"rest,omitempty"`
}

func loginStep(conn, user, password string) ftplibStep {
	return ftplibStep{Conn: conn, Op: "login", User: user, Password: password}
}

func cmdStep(conn, line string) ftplibStep { return ftplibStep{Conn: conn, Op: "cmd", Line: line} }

func storStep(conn, line, file string) ftplibStep {
	return ftplibStep{Conn: conn, Op: "stor", Line: line, File: file}
}

func quitStep(conn string) ftplibStep { return ftplibStep{Conn: conn, Op: "quit"} }

// Parts of a transcript that vary from run to run.
var (
	pasvPorts   = regexp.MustCompile(`^(\S+< 227 Entering Passive Mode\. \(\d+,\d+,\d+,\d+),\d+,\d+\)$`)
	bannerCount = regexp.MustCompile(`^(\S+< 220 FTP server ready, )\d+( active clients)`)
	statBufREQ  = regexp.MustCompile(`^(\S+< 211 Buffer status: MAX-REQ-BUSY \d+-)\d+(-)`)
)

// ftplib runs the steps with Python's ftplib (python3 on PATH) in dir and
// returns the transcript with the passive ports, the banner's client
// count and STATBUFFER's REQ (the staging store's allocation) replaced
// by <p1>,<p2>, <n> and <req>.
func (s *server) ftplib(t *testing.T, dir string, steps []ftplibStep) []string {
	t.Helper()
	python := requireTool(t, "python3")
	prog, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	r := tool(t, dir, "", python, "-c", ftplibDriver, "127.0.0.1", s.ftpPort(), string(prog))
	if r.exit != 0 || r.timedOut {
		t.Fatalf("ftplib driver: %v", r)
	}
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for i, l := range got {
		l = pasvPorts.ReplaceAllString(l, "$1,<p1>,<p2>)")
		l = bannerCount.ReplaceAllString(l, "$1<n>$2")
		got[i] = statBufREQ.ReplaceAllString(l, "${1}<req>$2")
	}
	return got
}

// wantTranscript compares an ftplib transcript with the expected lines.
func wantTranscript(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := strings.Join(got, "\n"), strings.Join(want, "\n")
	if prelim150(g) != prelim150(w) {
		t.Errorf("%s: transcript differs (-want +got):\n%s\ngot:\n%s", what, lineDiff(w, g), g)
	}
}

// loginLines is what ftplib's connect and login print for tag.
func loginLines(tag, user string) []string {
	return []string{
		tag + "< 220 FTP server ready, <n> active clients of 16 simultaneous clients allowed.",
		tag + "> USER " + user,
		tag + "< 331 User name accepted, password needed.",
		tag + "> PASS <password>",
		tag + "< 230 User login successful.",
	}
}

// storLines is what ftplib's storbinary prints for a transfer the server
// accepts (passive, no REST).
func storLines(tag, line, prelim, final string) []string {
	return []string{
		tag + "> TYPE I",
		tag + "< 200 TYPE is set to IMAGE.",
		tag + "> PASV",
		tag + "< 227 Entering Passive Mode. (127,0,0,1,<p1>,<p2>)",
		tag + "> " + line,
		tag + "< " + prelim,
		tag + "< " + final,
	}
}

// stored is the 226 of a STOR (verb "STOR") or APPE of n bytes.
func stored(verb string, n int) string {
	return fmt.Sprintf("226 %s completed, %d bytes processed, data connection is closed.", verb, n)
}

const (
	prelimFile    = "150 Data connection open, file transfer in process..."
	prelimChecked = "150 Data connection open, checked file transfer in process..."
)

// statBuffer is a parsed SITE STATBUFFER reply.
type statBuffer struct {
	max, req, busy int64
	name           string
}

var statBufRE = regexp.MustCompile(`^211 Buffer status: MAX-REQ-BUSY (\d+)-(\d+)-(\d+) filename: "(.*)"\.$`)

// statBuffer sends SITE STATBUFFER and parses the reply.
func (c *ctl) statBuffer() statBuffer {
	c.t.Helper()
	l := c.cmd("SITE STATBUFFER")
	m := statBufRE.FindStringSubmatch(l[0])
	if len(l) != 1 || m == nil {
		c.t.Fatalf("SITE STATBUFFER: got %q, want one line %q", l, statBufRE)
	}
	var st statBuffer
	st.max, _ = strconv.ParseInt(m[1], 10, 64)
	st.req, _ = strconv.ParseInt(m[2], 10, 64)
	st.busy, _ = strconv.ParseInt(m[3], 10, 64)
	st.name = m[4]
	return st
}

// poll calls cond until it is true or the safety timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// bgCurl is a curl run in the background, to be killed mid-transfer.
type bgCurl struct {
	cmd    *exec.Cmd
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// startCurl starts curl (root's credentials, -v trace) in dir.
func (s *server) startCurl(t *testing.T, dir string, args ...string) *bgCurl {
	t.Helper()
	bin := requireTool(t, "curl")
	args = append([]string{"-sS", "-v", "--user", "root:" + s.password, "--connect-timeout", "10",
		"--max-time", "300"}, args...)
	b := &bgCurl{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	b.cmd.Dir, b.cmd.Env = dir, clientEnv()
	b.cmd.Stdout, b.cmd.Stderr = &b.stderr, &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("curl: %v", err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { b.kill() })
	return b
}

// exited reports whether curl has ended on its own.
func (b *bgCurl) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL, as a killed or crashed client ends, and waits. It
// reports whether curl was still running (the signal killed it).
func (b *bgCurl) kill() bool {
	err := b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
	if err != nil && errors.Is(err, os.ErrProcessDone) {
		return false
	}
	var ee *exec.ExitError
	if errors.As(b.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return ws.Signaled() && ws.Signal() == syscall.SIGKILL
		}
	}
	return false
}

// hostTemp returns the size of the largest sluice temporary file in dir,
// or -1.
func hostTemp(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	n := int64(-1)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			n = max(n, fi.Size())
		}
	}
	return n
}

// waitUpload waits for the audit log's "transfer" event of an upload to
// path, the one after skip earlier ones, and returns it.
func (s *server) waitUpload(t *testing.T, path string, skip int) event {
	t.Helper()
	var found event
	ok := poll(replyTimeout, func() bool {
		n := 0
		for _, e := range s.proc.log.events() {
			if e.matches("transfer", map[string]string{"direction": "upload", "path": path}) {
				if n == skip {
					found = e
					return true
				}
				n++
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no audit \"transfer\" event #%d for the upload to %s within %v", skip+1, path, replyTimeout)
	}
	return found
}
