// Command pagefault measures what first touching fresh anonymous memory
// costs on this machine: 512 MiB (-mib) written one byte per 4 KiB page,
// in a mapping with 4 KiB pages, in one with transparent huge pages asked
// for (MADV_HUGEPAGE; the kernel's THP setting must allow madvise), and in
// a Go heap allocation; then a copy into fresh memory against the same copy
// into memory already touched. It is the measurement behind the /mem put
// rows of docs/performance.md (issue 11, 2026-12-07). Run it twice: on a
// VM the first run can also pay for guest memory the host never backed.
// Run: go run ./bench/pagefault [-mib 512].
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mib := flag.Int("mib", 512, "MiB to touch in each measurement")
	flag.Parse()
	n := *mib << 20
	pages := n / 4096

	b := mapAnon(n)
	d := touch(b)
	fmt.Printf("4 KiB pages:       %v (%v per page)\n", d, d/time.Duration(pages))
	unix.Munmap(b)

	b = mapAnon(n)
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		fmt.Println("MADV_HUGEPAGE:", err)
	}
	d = touch(b)
	fmt.Printf("MADV_HUGEPAGE:     %v (%v per 4 KiB)\n", d, d/time.Duration(pages))
	unix.Munmap(b)

	g := make([]byte, n)
	d = touch(g)
	fmt.Printf("Go heap (make):    %v (%v per page)\n", d, d/time.Duration(pages))

	c := make([]byte, n)
	t0 := time.Now()
	copy(c, g)
	fmt.Printf("copy, fresh dst:   %v\n", time.Since(t0))
	t0 = time.Now()
	copy(c, g)
	fmt.Printf("copy, touched dst: %v\n", time.Since(t0))
}

func mapAnon(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		os.Exit(1)
	}
	return b
}

func touch(b []byte) time.Duration {
	t0 := time.Now()
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return time.Since(t0)
}
