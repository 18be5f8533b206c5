package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// curl runs curl with root's credentials and the protocol trace (-v) on
// stderr. Transfers must succeed unless the test looks at the exit code.
func (s *server) curl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	bin := requireTool(t, "curl")
	args = append([]string{"-sS", "-v", "--user", "root:" + s.password, "--connect-timeout", "10",
		"--max-time", "60"}, args...)
	return tool(t, dir, "", bin, args...)
}

// trace returns the protocol lines of curl -v ("> CMD" sent, "< reply"
// received), with the password masked.
func trace(r result, password string) string {
	var b strings.Builder
	for _, l := range strings.Split(r.stderr, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if strings.HasPrefix(l, "> ") || strings.HasPrefix(l, "< ") {
			b.WriteString(strings.ReplaceAll(l, password, "****") + "\n")
		}
	}
	return b.String()
}

// TestFTPCurl: curl in passive (PASV and EPSV) and active (EPRT and PORT)
// mode uploads in secure mode, which puts the file in the staging buffer
// (/mem) whatever the directory; the download from /mem is byte-identical.
// Then the same over explicit TLS (--ssl-reqd), and a 1,000,000-byte
// download from the test sink.
func TestFTPCurl(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	data := randomBytes(700_001, 42)
	writeFile(t, dir, "up.dat", data)

	modes := []struct {
		name string
		args []string
		want []string // in the trace
		not  []string // not in the trace
	}{
		{"pasv", []string{"--ftp-pasv", "--disable-epsv"}, []string{"> PASV", "< 227 Entering Passive Mode. (127,0,0,1,"}, []string{"> EPSV", "> PORT", "> EPRT"}},
		{"epsv", []string{"--ftp-pasv"}, []string{"> EPSV", "< 229 Entering Extended Passive Mode (|||"}, []string{"> PASV", "> PORT", "> EPRT"}},
		{"eprt", []string{"--ftp-port", "127.0.0.1"}, []string{"> EPRT |1|127.0.0.1|", "< 200 Extended PORT is set to "}, []string{"> PASV", "> EPSV", "> PORT"}},
		{"port", []string{"--ftp-port", "127.0.0.1", "--disable-eprt"}, []string{"> PORT 127,0,0,1,", "< 200 PORT is set to IP ADDR = 127.0.0.1 PORT = "}, []string{"> PASV", "> EPSV", "> EPRT"}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			name := "curl-" + m.name + ".dat"
			up := s.curl(t, dir, append(append([]string(nil), m.args...), "-T", "up.dat", "ftp://"+s.ftpAddr()+"/dsk/"+name)...)
			tr := trace(up, s.password)
			if up.exit != 0 {
				t.Fatalf("curl STOR: exit %d\n%s\n%s", up.exit, tr, up.stderr)
			}
			for _, w := range append([]string{"> STOR " + name, "< 150 Data connection open, file transfer in process...",
				"< 226 STOR completed, 700001 bytes processed, data connection is closed."}, m.want...) {
				if !strings.Contains(prelim150(tr), w) {
					t.Errorf("STOR trace has no %q:\n%s", w, tr)
				}
			}
			for _, w := range m.not {
				if strings.Contains(tr, w) {
					t.Errorf("STOR trace has %q:\n%s", w, tr)
				}
			}
			// Secure mode: the upload is staged, /dsk is untouched.
			if _, err := os.Stat(filepath.Join(s.data, "dsk", name)); !os.IsNotExist(err) {
				t.Errorf("secure-mode STOR wrote DATA/dsk/%s (stat: %v); want it only in /mem", name, err)
			}
			out := filepath.Join(dir, "down-"+m.name)
			down := s.curl(t, dir, append(append([]string(nil), m.args...), "-o", out, "ftp://"+s.ftpAddr()+"/mem/"+name)...)
			tr = trace(down, s.password)
			if down.exit != 0 {
				t.Fatalf("curl RETR: exit %d\n%s\n%s", down.exit, tr, down.stderr)
			}
			if !strings.Contains(tr, "< 226 RETR completed, 700001 bytes processed, data connection is closed.") {
				t.Errorf("RETR trace has no 226 with the byte count:\n%s", tr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("RETR /mem/%s: got %d bytes, want the %d bytes stored", name, len(got), len(data))
			}
		})
	}

	t.Run("tls", func(t *testing.T) {
		up := s.curl(t, dir, "--ssl-reqd", "-k", "-T", "up.dat", "ftp://"+s.ftpAddr()+"/dsk/tls.dat")
		tr := trace(up, s.password)
		if up.exit != 0 {
			t.Fatalf("curl --ssl-reqd STOR: exit %d\n%s\n%s", up.exit, tr, up.stderr)
		}
		// The RFC 4217 replies' texts are sluice's (not the manual's): only
		// their codes are checked.
		for _, w := range []string{"> AUTH ", "\n< 234 ", "> PBSZ 0\n< 200 ", "> PROT P\n< 200 ",
			"< 226 STOR completed, 700001 bytes processed, data connection is closed."} {
			if !strings.Contains(tr, w) {
				t.Errorf("TLS STOR trace has no %q:\n%s", w, tr)
			}
		}
		out := filepath.Join(dir, "down-tls")
		down := s.curl(t, dir, "--ssl-reqd", "-k", "-o", out, "ftp://"+s.ftpAddr()+"/mem/tls.dat")
		if down.exit != 0 {
			t.Fatalf("curl --ssl-reqd RETR: exit %d\n%s\n%s", down.exit, trace(down, s.password), down.stderr)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
			t.Errorf("RETR over TLS: got %d bytes, want the %d bytes stored", len(got), len(data))
		}
		// The certificate was generated on first run and persisted.
		for _, f := range []string{"ftp-tls.crt", "ftp-tls.key"} {
			if _, err := os.Stat(filepath.Join(s.data, f)); err != nil {
				t.Errorf("generated certificate: %v", err)
			}
		}
		// Without -k the self-signed certificate is refused by curl: the
		// server really speaks TLS with its own certificate.
		bad := s.curl(t, dir, "--ssl-reqd", "-o", filepath.Join(dir, "x"), "ftp://"+s.ftpAddr()+"/mem/tls.dat")
		if bad.exit == 0 {
			t.Error("curl --ssl-reqd without -k accepted the self-signed certificate")
		}
	})

	t.Run("test sink 1000000", func(t *testing.T) {
		out := filepath.Join(dir, "1000000")
		r := s.curl(t, dir, "-o", out, "ftp://"+s.ftpAddr()+"/tst/1000000")
		if r.exit != 0 {
			t.Fatalf("curl RETR /tst/1000000: exit %d\n%s", r.exit, trace(r, s.password))
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 1_000_000 {
			t.Errorf("RETR /tst/1000000: got %d bytes, want 1000000", fi.Size())
		}
	})
}

// TestFTPCurlSecureStorFromRoot: in secure mode STOR lands in /mem/NAME
// "whatever the current directory" (issue 4, manual §3.5), including the
// root (NUL), where curl stays for ftp://host/NAME.
func TestFTPCurlSecureStorFromRoot(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	data := randomBytes(10_000, 43)
	writeFile(t, dir, "up.dat", data)
	for _, d := range []string{"", "tst/", "mem/"} {
		name := "from-" + strings.TrimSuffix(d, "/") + "root.dat"
		up := s.curl(t, dir, "--ftp-pasv", "-T", "up.dat", "ftp://"+s.ftpAddr()+"/"+d+name)
		if up.exit != 0 {
			t.Errorf("curl STOR from /%s: exit %d, want the file staged in /mem\n%s", d, up.exit, trace(up, s.password))
			continue
		}
		out := filepath.Join(dir, "down-"+name)
		down := s.curl(t, dir, "--ftp-pasv", "-o", out, "ftp://"+s.ftpAddr()+"/mem/"+name)
		if got, _ := os.ReadFile(out); down.exit != 0 || !bytes.Equal(got, data) {
			t.Errorf("STOR from /%s then RETR /mem/%s: exit %d, %d bytes; want the %d bytes stored\n%s",
				d, name, down.exit, len(got), len(data), trace(down, s.password))
		}
	}
}
