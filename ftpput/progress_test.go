package ftpput

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivo/uniseg"
)

func TestLines(t *testing.T) {
	tests := []struct {
		name  string
		size  int64
		every time.Duration
		adds  []int
		fail  bool
		want  string
	}{
		// 0 adds nothing new; 100% before the 226 shows as 99%.
		{"steps", 1000, 0, []int{20, 70, 0, 60, 40, 805, 5}, false, "2%, 9%, 15%, 19%, 99%, 100% transfer complete\n"},
		{"aborted", 100, 0, []int{2}, true, "2%,\n"},
		{"nothing shown", 100, time.Hour, []int{50}, false, "100% transfer complete\n"},
		{"nothing shown, failed", 100, time.Hour, []int{50}, true, ""},
		{"empty file", 0, 0, nil, false, "100% transfer complete\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&out, tt.size, Progress{Every: tt.every})
			for _, n := range tt.adds {
				p.add(n)
			}
			if tt.fail {
				p.fail()
			} else {
				p.done()
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// TestLinesEvery: a step needs Every to have passed since the last one,
// on the injected clock.
func TestLinesEvery(t *testing.T) {
	now := time.Unix(1000, 0)
	var out bytes.Buffer
	p := newProgress(&out, 100, Progress{Every: time.Second, Now: func() time.Time { return now }})
	for _, step := range []struct {
		n  int
		dt time.Duration
	}{{10, 500 * time.Millisecond}, {10, 500 * time.Millisecond}, {10, 999 * time.Millisecond}, {10, time.Millisecond}, {10, 5 * time.Second}} {
		now = now.Add(step.dt)
		p.add(step.n)
	}
	p.done()
	// 20% at 1s, 40% at 2s, 50% at 7s; 30% came too soon after 20%.
	if want := "20%, 40%, 50%, 100% transfer complete\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// TestBar: on a terminal the progress is one line, redrawn with "\r",
// never wider than the terminal less one column, with the rate and the
// time left; it stops at 99% until done, then stays at 100% with the
// manual's line after it.
func TestBar(t *testing.T) {
	const size = 100 << 20
	for _, cols := range []int{12, 20, 30, 40, 41, 50, 80, 120, 200} {
		t.Run(strconv.Itoa(cols), func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&out, size, Progress{Columns: cols})
			for range size / chunk {
				p.add(chunk)
			}
			s := out.String()
			if strings.Contains(s, "\n") {
				t.Fatalf("a newline before done: %q", s)
			}
			draws := strings.Split(strings.TrimPrefix(s, "\r"), "\r")
			if len(draws) < 50 {
				t.Errorf("%d redraws for 100 steps of 1%%, want one a percent", len(draws))
			}
			widest := 0
			for _, d := range draws {
				if !strings.HasSuffix(d, "\x1b[0K") {
					t.Errorf("redraw %q does not erase the rest of the line", d)
				}
				w := uniseg.StringWidth(ansi.ReplaceAllString(d, ""))
				widest = max(widest, w)
				if w > cols-1 {
					t.Errorf("redraw %q is %d columns wide, want at most %d", d, w, cols-1)
				}
			}
			if cols >= 80 && widest < min(cols-10, barMax) {
				t.Errorf("widest redraw %d columns, want the terminal's width (%d) less a few", widest, cols)
			}
			last := draws[len(draws)-1]
			if !strings.Contains(last, " 99% [") {
				t.Errorf("before the 226: %q, want 99%%", last)
			}
			if cols >= 40 && (!regexp.MustCompile(`\(\d+(\.\d)? [KMGT]?i?B/s\)`).MatchString(last) || !regexp.MustCompile(`\[\w+:\w+\]`).MatchString(last)) {
				t.Errorf("before the 226: %q, want 99%%, a rate and elapsed:left", last)
			}
			out.Reset()
			p.done()
			got := ansi.ReplaceAllString(out.String(), "")
			lines := strings.Split(got, "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "\r 100% [") || lines[1] != "100% transfer complete" || lines[2] != "" {
				t.Errorf("done: %q, want the bar at 100%%, then 100%% transfer complete", got)
			}
			if w := uniseg.StringWidth(lines[0]); w > cols-1 {
				t.Errorf("final bar %q is %d columns wide, want at most %d", lines[0], w, cols-1)
			}
		})
	}
	t.Run("narrow", func(t *testing.T) {
		// Too narrow for the rate and times: the percentage and a bar.
		var out bytes.Buffer
		p := newProgress(&out, 1000, Progress{Columns: 20})
		p.add(500)
		if got := ansi.ReplaceAllString(out.String(), ""); got != "\r  50% [===>.....]  " {
			t.Errorf("got %q", got)
		}
	})
	t.Run("failed", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, 1000, Progress{Columns: 80})
		p.fail() // nothing drawn: nothing to end
		if out.Len() != 0 {
			t.Errorf("fail before any progress wrote %q", out.String())
		}
		p.add(500)
		p.fail()
		if s := out.String(); !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
			t.Errorf("fail after progress: %q, want the line ended once", s)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, 0, Progress{Columns: 80})
		p.done()
		if want := "100% transfer complete\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
}
