package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asciiText is a text file with LF line endings: many lines, so that
// CRLF pairs straddle the server's buffers, an empty line, and no final
// newline.
func asciiText() []byte {
	var b bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&b, "line %05d: the quick brown fox jumps over the lazy dog\n", i)
		if i == 7 {
			b.WriteString("\n")
		}
	}
	b.WriteString("last line, no newline")
	return b.Bytes()
}

// TestFTPTnftpActiveASCII: tnftp in active mode (-A) with TYPE A uploads a
// text file with LF line endings and downloads it back, first with EPRT,
// then with PORT (epsv4 off). On the wire the text has CRLF line endings;
// the stored file has LF only; the round trip gives the original bytes.
func TestFTPTnftpActiveASCII(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "tnftp") // BSD ftp; "ftp" may be another client
	s := newFTPServer(t, "")
	dir := t.TempDir()
	text := asciiText()
	crlf := bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	writeFile(t, dir, "text.txt", text)

	for _, v := range []struct{ name, setup, active string }{
		{"eprt", "", "---> EPRT |1|127.0.0.1|"},
		{"port", "epsv4 off\n", "---> PORT 127,0,0,1,"},
	} {
		t.Run(v.name, func(t *testing.T) {
			remote, back := v.name+".txt", "back-"+v.name+".txt"
			// SITE DIRECT ON: STOR writes to /dsk (in secure mode it would
			// be staged in /mem, which is not on disk).
			in := fmt.Sprintf("user root %s\nquote SITE DIRECT ON\nascii\ncd dsk\n%sput text.txt %s\nget %s %s\nquit\n",
				s.password, v.setup, remote, remote, back)
			r := tool(t, dir, in, bin, "-n", "-A", "-v", "-d", "127.0.0.1", s.ftpPort())
			out := strings.ReplaceAll(r.stdout, s.password, "****")
			if r.exit != 0 {
				t.Fatalf("tnftp: exit %d\n%s\n%s", r.exit, out, r.stderr)
			}
			for _, w := range []string{
				"200 DIRECT is set to ON.",
				"---> TYPE A", "200 TYPE is set to ASCII NON PRINT.",
				v.active,
				fmt.Sprintf("226 STOR completed, %d bytes processed, data connection is closed.", len(crlf)),
				fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(crlf)),
			} {
				if !strings.Contains(out, w) {
					t.Errorf("tnftp output has no %q:\n%s", w, out)
				}
			}
			for _, w := range []string{"---> PASV", "---> EPSV"} {
				if strings.Contains(out, w) {
					t.Errorf("tnftp -A used passive mode (%q):\n%s", w, out)
				}
			}
			stored, err := os.ReadFile(filepath.Join(s.data, "dsk", remote))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.IndexByte(stored, '\r') >= 0 || !bytes.Equal(stored, text) {
				t.Errorf("DATA/dsk/%s: %d bytes with %d CRs; want the LF-only original (%d bytes)",
					remote, len(stored), bytes.Count(stored, []byte("\r")), len(text))
			}
			got, err := os.ReadFile(filepath.Join(dir, back))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, text) {
				t.Errorf("round trip: got %d bytes, want the original %d bytes", len(got), len(text))
			}
		})
	}

	// The bytes on the wire, read by a raw client: CRLF in TYPE A, the
	// stored LF bytes in TYPE I.
	c := s.login(t)
	c.cmdExpect("TYPE A", 200)
	wire, final := c.retrieve("RETR /dsk/eprt.txt")
	oneLine(t, "RETR in TYPE A", final, fmt.Sprintf("226 RETR completed, %d bytes processed, data connection is closed.", len(crlf)))
	if !bytes.Equal(wire, crlf) {
		t.Errorf("TYPE A on the wire: got %d bytes, want %d bytes with CRLF line endings", len(wire), len(crlf))
	}
	c.cmdExpect("TYPE I", 200)
	wire, _ = c.retrieve("RETR /dsk/eprt.txt")
	if !bytes.Equal(wire, text) {
		t.Errorf("TYPE I on the wire: got %d bytes, want the %d stored bytes", len(wire), len(text))
	}
}
