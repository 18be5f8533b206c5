// Command ppoll-latency measures how late a short ppoll(2) timeout returns
// on this machine: the median of 2000 timed polls of an idle pipe, with
// the thread's default timer slack and with a slack of 1 ns. It is the
// measurement behind ftpgateway's spinGrace (docs/performance.md, issue
// 11, 2026-12-07). Run: go run ./bench/ppoll-latency [-timeout 10us].
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	timeout := flag.Duration("timeout", 10*time.Microsecond, "ppoll timeout")
	n := flag.Int("n", 2000, "polls per measurement")
	flag.Parse()
	runtime.LockOSThread() // the timer slack is per thread
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
	slack, _ := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	fmt.Printf("timer slack %d ns: median %v for a %v ppoll\n", slack, median(p[0], *timeout, *n), *timeout)
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0); err == nil {
		fmt.Printf("timer slack 1 ns: median %v\n", median(p[0], *timeout, *n))
	}
}

func median(fd int, timeout time.Duration, n int) time.Duration {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	d := make([]time.Duration, n)
	for i := range d {
		ts := unix.NsecToTimespec(int64(timeout))
		t0 := time.Now()
		unix.Ppoll(pfd, &ts, nil)
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return d[n/2]
}
