package ftpput

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress says how a put shows its progress on standard output.
type Progress struct {
	// Columns is the terminal's width. Zero means standard output is no
	// terminal: the manual's percent line is printed.
	Columns int
	// Every is the least time between two updates; zero updates at every
	// change (at most once per 256 KiB chunk).
	Every time.Duration
	// Now is the clock for Every on the percent line; nil means time.Now.
	Now func() time.Time
}

// TerminalColumns returns the width of the terminal w writes to, or 0
// when w is not a terminal.
func TerminalColumns(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 0 {
		return 80 // a terminal that does not say its size
	}
	return cols
}

// progress is what Put reports to. Writes on stdout are not checked:
// progress is advisory and must not stop a transfer.
type progress interface {
	add(n int) // n more bytes sent
	done()     // the server answered 226: "100% transfer complete"
	fail()     // ends a started line, so that the message gets its own
}

// msgComplete follows "100%" (manual §6.1.1).
const msgComplete = "transfer complete"

func newProgress(w io.Writer, size int64, p Progress) progress {
	if p.Columns > 0 {
		return newBar(w, size, p.Columns, p.Every)
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	return &lines{w: w, size: size, every: p.Every, now: now, last: now(), shown: -1}
}

// lines is the manual's line "2%, 9%, 15%, ..., 100% transfer complete"
// (§6.1.1), at most one step per interval, as the device prints it.
// Before the server's 226 it shows at most 99%: "100%" means stored.
type lines struct {
	w     io.Writer
	size  int64
	sent  int64
	every time.Duration
	now   func() time.Time
	last  time.Time // of the last step, or the start
	shown int       // last percent printed; -1 for none
}

func (p *lines) add(n int) {
	p.sent += int64(n)
	now := p.now()
	if now.Sub(p.last) < p.every {
		return
	}
	pct := percent(p.sent, p.size)
	if pct == p.shown {
		return
	}
	p.last = now
	if p.shown >= 0 {
		fmt.Fprint(p.w, " ")
	}
	p.shown = pct
	fmt.Fprintf(p.w, "%d%%,", pct)
}

func (p *lines) done() {
	if p.shown >= 0 {
		fmt.Fprint(p.w, " ")
	}
	fmt.Fprintf(p.w, "100%% %s\n", msgComplete)
}

func (p *lines) fail() {
	if p.shown >= 0 {
		fmt.Fprintln(p.w)
	}
}

// percent is sent of size in whole percent, at most 99.
func percent(sent, size int64) int {
	if size <= 0 {
		return 0
	}
	return int(min(sent*100/size, 99))
}

// bar is one line redrawn in place, as wide as the terminal less one
// column (a line that fills the last column wraps on some terminals, and
// a wrapped line is not redrawn in place): the percentage, the bar, the
// rate and, as room allows, the time spent and left. Like the percent
// line it stops at 99% until the 226. When done, the bar stays at 100%
// and "100% transfer complete" follows on its own line.
type bar struct {
	w    io.Writer
	size int64
	sent int64
	pb   *progressbar.ProgressBar // nil for an empty file: nothing to draw
}

// The parts of a bar line beside the bar itself, in columns.
const (
	barFixed = 5 + 1 + 2 // " 45% " and the brackets
	barRate  = 1 + 12    // " (1023 MiB/s)"
	barTimes = 1 + 9     // " [12s:1m5s]", typical: longer times take it from the bar
	barMin   = 8         // the least bar worth drawing with rate and times
	barMax   = 100
)

func newBar(w io.Writer, size int64, cols int, every time.Duration) *bar {
	b := &bar{w: w, size: size}
	if size <= 0 {
		return b
	}
	room := cols - 1 - barFixed
	rate, times := true, true
	if room-barRate-barTimes < barMin {
		times = false
	}
	if !times && room-barRate < barMin {
		rate = false
	}
	width := room
	switch {
	case times:
		width -= barRate + barTimes
	case rate:
		width -= barRate + 1 // the library ends this line with a space
	default:
		width -= 2 // a space for the empty rate, and the one at the end
	}
	width = min(max(width, 1), barMax)
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(width),
		progressbar.OptionSetTheme(progressbar.ThemeASCII), // no font or locale needed
		progressbar.OptionShowBytes(rate),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(times),
		progressbar.OptionThrottle(every),
		// Redraw with "\r" and erase-to-end-of-line, not by writing spaces
		// over the old line.
		progressbar.OptionUseANSICodes(true),
	}
	if times {
		// In the room of "[elapsed:left]": without the time left the
		// library ends the line with a space.
		opts = append(opts, progressbar.OptionShowElapsedTimeOnFinish())
	}
	b.pb = progressbar.NewOptions64(size, opts...)
	return b
}

func (b *bar) add(n int) {
	if b.pb == nil {
		return
	}
	if b.sent == 0 {
		b.pb.StartWithoutRender() // the rate counts from the first byte
	}
	b.sent += int64(n)
	// The library's errors are about the bar's own state (past its max).
	_ = b.pb.Set64(min(b.sent, b.size-1))
}

func (b *bar) done() {
	if b.pb != nil {
		_ = b.pb.Finish()
		fmt.Fprintln(b.w)
	}
	fmt.Fprintf(b.w, "100%% %s\n", msgComplete)
}

func (b *bar) fail() {
	if b.pb != nil && b.pb.String() != "" {
		fmt.Fprintln(b.w)
	}
}
