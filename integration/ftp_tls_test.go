package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ftpsNoUnwrap is ftplib's FTP_TLS upload with the data socket closed
// without a TLS shutdown (no close_notify), as netkit ftp-ssl does, then
// the manual's SITE SAVEBUFFER.
const ftpsNoUnwrap = `
import ftplib, ssl, sys
host, port, pw, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx)
f.connect(host, port, timeout=30)
f.login("root", pw)
f.prot_p()
data = open(path, "rb").read()
conn = f.transfercmd("STOR tls.dat")
conn.sendall(data)
conn.close()  # no unwrap(): no close_notify
print(f.voidresp())
print(f.sendcmd("SITE SAVEBUFFER"))
f.quit()
`

// TestFTPSStorWithoutTLSShutdown: an FTPS upload whose data socket is
// closed without a TLS shutdown is complete (226, every byte). Data
// connections get no TLS session tickets, so the client never leaves
// unread bytes that make its kernel reset the connection.
func TestFTPSStorWithoutTLSShutdown(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3")
	s := newFTPServer(t, "")
	dir := t.TempDir()
	data := randomBytes(2<<20+17, 43)
	src := filepath.Join(dir, "tls.dat")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := tool(t, dir, "", python, "-c", ftpsNoUnwrap, "127.0.0.1", s.ftpPort(), s.password, src)
	if r.exit != 0 || !strings.Contains(r.stdout, "226 STOR completed, 2097169 bytes processed") ||
		!strings.Contains(r.stdout, "200 SAVEBUFFER completed O.K.") {
		t.Fatalf("ftplib FTP_TLS: exit %d\nstdout: %s\nstderr: %s", r.exit, r.stdout, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(s.data, "dsk", "tls.dat")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("DATA/dsk/tls.dat: %d bytes, %v; want the %d bytes sent", len(got), err, len(data))
	}
}
