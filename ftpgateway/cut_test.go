package ftpgateway

import (
	"net"
	"testing"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
	"golang.org/x/sys/unix"
)

// TestControlGone: the peek tells a live control connection (idle, or
// with a pipelined command waiting) from one the client closed or reset.
func TestControlGone(t *testing.T) {
	tests := []struct {
		name string
		peer func(c *net.TCPConn)
		want bool
	}{
		{name: "idle", peer: func(*net.TCPConn) {}, want: false},
		{name: "pipelined QUIT", peer: func(c *net.TCPConn) { c.Write([]byte("QUIT\r\n")) }, want: false},
		{name: "closed", peer: func(c *net.TCPConn) { c.Close() }, want: true},
		{name: "reset", peer: func(c *net.TCPConn) { c.SetLinger(0); c.Close() }, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			client, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			tt.peer(client.(*net.TCPConn))
			if tt.want {
				// Wait until the FIN or RST has arrived (a safety bound,
				// not a measured time).
				deadline := time.Now().Add(10 * time.Second)
				for !controlGone(server, 0) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			} else if tt.name == "pipelined QUIT" {
				// Until the bytes are there, idle and pipelined look alike.
				buf := make([]byte, 1)
				server.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					c := server.(*net.TCPConn)
					rc, _ := c.SyscallConn()
					n := 0
					rc.Control(func(fd uintptr) { n = peekLen(fd, buf) })
					if n > 0 {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			// Without a grace, with one short enough to be polled without
			// sleeping, and with one that sleeps in ppoll.
			for _, grace := range []time.Duration{0, spinGrace / 4, 2 * spinGrace} {
				if got := controlGone(server, grace); got != tt.want {
					t.Errorf("controlGone(grace %v): got %v, want %v", grace, got, tt.want)
				}
			}
		})
	}
}

// peekLen returns how many bytes a non-blocking peek sees on fd .
func peekLen(fd uintptr, b []byte) int {
	n, _, err := unix.Recvfrom(int(fd), b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil {
		return 0
	}
	return n
}

// TestControlGoneGrace: a FIN that comes within the grace is seen; an
// idle connection costs the whole grace and is alive.
func TestControlGoneGrace(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if controlGone(server, time.Millisecond) {
		t.Error("idle connection: gone, want alive")
	}
	closed := make(chan struct{})
	go func() {
		time.Sleep(time.Millisecond)
		client.Close()
		close(closed)
	}()
	// A generous grace (a bound, not a measured time): the close lands in it.
	if !controlGone(server, 10*time.Second) {
		t.Error("connection closed within the grace: alive, want gone")
	}
	<-closed
	for _, tt := range []struct {
		d    time.Duration
		n    int64
		want time.Duration
	}{
		{time.Millisecond, 4 << 10, 20 * time.Microsecond},
		{time.Millisecond, 64 << 10, floorGrace},
		{time.Second, 64 << 20, 20 * time.Millisecond},
		{time.Hour, 4 << 30, maxGrace},
	} {
		if got := graceFor(tt.d, tt.n); got != tt.want {
			t.Errorf("graceFor(%v, %d): got %v, want %v", tt.d, tt.n, got, tt.want)
		}
	}
}

func TestLoginDir(t *testing.T) {
	all := func(string) bool { return true }
	noDsk := func(fs string) bool { return fs != "dsk" && fs != "fda" && fs != "smc" && fs != "fco" }
	sup := &policy.User{Name: "root", Level: policy.Supervisor}
	boxed := &policy.User{Name: "b", Level: policy.Supervisor, FileSystems: []string{"bio", "mem"}}
	tests := []struct {
		name    string
		def     string
		on      image.Check
		u       *policy.User
		mounted func(string) bool
		want    string
	}{
		{name: "default fs", def: "bio", on: image.CheckAll, u: sup, mounted: all, want: "bio"},
		{name: "default fs not visible", def: "dsk", on: image.CheckAll, u: boxed, mounted: all, want: ""},
		{name: "NUL, SYSTEM on", on: image.CheckAll, u: sup, mounted: all, want: "dsk"},
		{name: "NUL, SYSTEM off", on: image.CheckAll &^ image.CheckSystem, u: sup, mounted: all, want: ""},
		{name: "NUL, sandbox", on: image.CheckAll, u: boxed, mounted: all, want: "bio"},
		{name: "NUL, no dsk", on: image.CheckAll, u: sup, mounted: noDsk, want: "bio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loginDir(tt.def, tt.on, tt.u, tt.mounted); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
