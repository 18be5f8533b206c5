package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestPutTmux: `sluice put` on a real terminal (a tmux pane 40 and 120
// columns wide) against sluice's FTP gateway draws one progress line,
// redrawn in place and never wider than the pane, with the rate and the
// time left, then "100% transfer complete" on a line of its own
// (issue 9). The put redraws at every percent (--progress-every 1ns), so
// the number of redraws depends on the file's size, not on the machine's
// speed; the test waits for the put to end and looks at what the pane
// shows then, and at every byte the pane was sent (pipe-pane).
func TestPutTmux(t *testing.T) {
	tmux := requireTool(t, "tmux")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each width has a tmux server of its own on a private socket.
	tmuxOn := func(t *testing.T, sock string) func(args ...string) string {
		return func(args ...string) string {
			t.Helper()
			cmd := exec.Command(tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
			cmd.Env = tmuxEnv()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
	}
	for _, cols := range []int{40, 120} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			sock := filepath.Join(dir, fmt.Sprintf("tmux%d.sock", cols))
			run := tmuxOn(t, sock)
			t.Cleanup(func() {
				cmd := exec.Command(tmux, "-S", sock, "kill-server")
				cmd.Env = tmuxEnv()
				_ = cmd.Run() // gone already if no session is left
			})
			name := fmt.Sprintf("w%d.cfg", cols)
			file := filepath.Join(dir, name)
			// 64 chunks of 256 KiB: 64 redraws, each at a new percentage.
			if err := os.WriteFile(file, bytes.Repeat([]byte("sluice put\n"), 16<<20/11), 0o644); err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(dir, fmt.Sprintf("raw%d", cols))
			session := fmt.Sprintf("put%d", cols)
			// The put waits for the file go, so that pipe-pane is in place
			// before it writes anything; nothing is typed into the pane.
			// The password comes from a file: standard output stays the
			// terminal. The shell then writes the put's exit status to a
			// file and stays, so that the pane stays as the put left it.
			start := filepath.Join(dir, fmt.Sprintf("go%d", cols))
			status := filepath.Join(dir, fmt.Sprintf("status%d", cols))
			script := `while [ ! -e "$4" ]; do sleep 0.05; done; "$0" put --progress-every 1ns --timeout 60s "$1" root - "$2" passive <"$3"; echo $? >"$5.tmp" && mv "$5.tmp" "$5"; exec sleep 3600`
			run("new-session", "-d", "-s", session, "-x", fmt.Sprint(cols), "-y", "12",
				"sh", "-c", script, sluiceBin, s.proc.ftp, file, pwFile, start, status)
			if got := strings.TrimSpace(run("display-message", "-p", "-t", session, "#{pane_width}")); got != fmt.Sprint(cols) {
				t.Fatalf("pane is %s columns wide, want %d", got, cols)
			}
			run("pipe-pane", "-t", session, "-o", "cat >"+raw)
			if err := os.WriteFile(start, nil, 0o600); err != nil {
				t.Fatal(err)
			}

			// Wait for the put's exit status: a bound for a hung put, not a
			// measure of speed.
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if b, err := os.ReadFile(status); err == nil {
					if st := strings.TrimSpace(string(b)); st != "0" {
						t.Errorf("put exit status %s, want 0", st)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("put not done after 2 minutes; pane:\n%s", run("capture-pane", "-p", "-t", session))
				}
			}

			// What the pane shows, scrollback included: the bar at 100% on
			// one line, then the manual's message. Stacked redraws would
			// show as more lines.
			var shown []string
			for _, l := range strings.Split(run("capture-pane", "-p", "-t", session, "-S", "-"), "\n") {
				if l = strings.TrimRight(l, " "); l != "" {
					shown = append(shown, l)
				}
			}
			if len(shown) != 2 || !strings.HasPrefix(shown[0], " 100% [") || shown[1] != "100% transfer complete" {
				t.Fatalf("pane shows %q; want the bar at 100%%, then 100%% transfer complete", shown)
			}
			if w := utf8.RuneCountInString(shown[0]); w >= cols || cols >= 120 && w < cols-20 {
				t.Errorf("bar line %q is %d columns wide, want the pane's width (%d) less a few, less than the pane", shown[0], w, cols)
			}
			if !strings.Contains(shown[0], "/s)") {
				t.Errorf("bar line %q shows no rate", shown[0])
			}

			// What the put wrote: one line of redraws, each starting with
			// "\r", then the message. The terminal turns "\n" into "\r\n".
			var out string
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
				b, _ := os.ReadFile(raw) // not there yet: try again
				if out = string(b); strings.Contains(out, "transfer complete\r\n") || time.Now().After(deadline) {
					break
				}
			}
			lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(out, "\r\n", "\n"), "\n"), "\n")
			if len(lines) != 2 || lines[1] != "100% transfer complete" {
				t.Fatalf("output %q: want one progress line, then 100%% transfer complete", out)
			}
			draws := strings.Split(strings.TrimPrefix(lines[0], "\r"), "\r")
			if len(draws) < 32 {
				t.Errorf("%d redraws, want about one per percent: %q", len(draws), lines[0])
			}
			for _, d := range draws {
				if !strings.HasSuffix(d, "\x1b[0K") {
					t.Errorf("redraw %q does not erase the rest of the line", d)
				}
				if w := utf8.RuneCountInString(strings.TrimSuffix(d, "\x1b[0K")); w >= cols {
					t.Errorf("redraw %q is %d columns wide, want less than %d", d, w, cols)
				}
			}
			if d := draws[len(draws)/2]; !strings.Contains(d, "/s)") || !strings.Contains(d, ":") {
				t.Errorf("redraw %q, want a rate and [elapsed:left]", d)
			}
		})
	}
}

// tmuxEnv is the client environment without an enclosing tmux's
// variables, so that the private server is not mistaken for a nested one.
func tmuxEnv() []string {
	var env []string
	for _, kv := range clientEnv() {
		if !strings.HasPrefix(kv, "TMUX=") && !strings.HasPrefix(kv, "TMUX_PANE=") {
			env = append(env, kv)
		}
	}
	return env
}
