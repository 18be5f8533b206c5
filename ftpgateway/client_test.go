package ftpgateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/sluice/sluice/policy"
)

// jlaffaye/ftp v0.2.4 has passive mode only (EPSV, falling back to PASV);
// active mode is covered by the raw client in transfer_test.go.

func dialClient(t *testing.T, e *tEnv, opt ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	opt = append([]ftp.DialOption{ftp.DialWithTimeout(testTimeout)}, opt...)
	c, err := ftp.Dial(e.addr, opt...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Quit() })
	return c
}

func clientLogin(t *testing.T, e *tEnv, opt ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c := dialClient(t, e, opt...)
	if err := c.Login("root", testPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c
}

func retrAll(t *testing.T, c *ftp.ServerConn, p string, off uint64) []byte {
	t.Helper()
	r, err := c.RetrFrom(p, off)
	if err != nil {
		t.Fatalf("RETR %s from %d: %v", p, off, err)
	}
	r.SetDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("RETR %s: read: %v", p, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("RETR %s: close: %v", p, err)
	}
	return b
}

// changeDir runs CWD or CDUP with jlaffaye/ftp's ChangeDir and
// ChangeDirToParent, which require 250: sluice answers 250 with the
// manual's texts (DESIGN §6), where the manual has 200.
func changeDir(t *testing.T, c *ftp.ServerConn, dir string) {
	t.Helper()
	var err error
	if dir == ".." {
		err = c.ChangeDirToParent()
	} else {
		err = c.ChangeDir(dir)
	}
	if err != nil {
		t.Fatalf("CWD %s: %v", dir, err)
	}
}

func wantDir(t *testing.T, c *ftp.ServerConn, want string) {
	t.Helper()
	got, err := c.CurrentDir()
	if err != nil || got != want {
		t.Fatalf("PWD: got %q, %v, want %q", got, err, want)
	}
}

func wantFTPError(t *testing.T, what string, err error, code int, msg string) {
	t.Helper()
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != code || te.Msg != msg {
		t.Errorf("%s: got %v, want %d %q", what, err, code, msg)
	}
}

// TestClientCommandSet drives jlaffaye/ftp over the whole command set it
// has, in DIRECT ON mode so that STOR writes to /dsk.
func TestClientCommandSet(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	for _, epsv := range []bool{true, false} {
		name := "EPSV"
		if !epsv {
			name = "PASV"
		}
		t.Run(name, func(t *testing.T) {
			for _, f := range []string{"data.dat", "a.txt", "b.txt", "moved.dat", "new.dat"} {
				os.Remove(filepath.Join(e.dsk, f))
			}
			c := clientLogin(t, e, ftp.DialWithDisabledEPSV(!epsv))
			wantDir(t, c, "/")
			changeDir(t, c, "dsk")
			wantDir(t, c, "/dsk")

			data := testPattern(300_000, 1)
			if err := c.Stor("data.dat", bytes.NewReader(data)); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			if d := firstDiff(readHost(t, e.dsk, "data.dat"), data); d != "" {
				t.Fatalf("stored file: %s", d)
			}
			if d := firstDiff(retrAll(t, c, "data.dat", 0), data); d != "" {
				t.Fatalf("RETR: %s", d)
			}
			// An absolute path from another directory.
			changeDir(t, c, "..")
			wantDir(t, c, "/")
			if d := firstDiff(retrAll(t, c, "/dsk/data.dat", 0), data); d != "" {
				t.Fatalf("RETR absolute: %s", d)
			}
			changeDir(t, c, "/dsk")

			// REST + RETR.
			for _, off := range []uint64{1, 65536, 299_999, 300_000} {
				if d := firstDiff(retrAll(t, c, "data.dat", off), data[off:]); d != "" {
					t.Errorf("RETR from %d: %s", off, d)
				}
			}
			// REST past the end.
			_, err := c.RetrFrom("data.dat", 300_001)
			wantFTPError(t, "RETR past the end", err, 554, "Unable to seek in file.")

			// APPE to an existing file, and to a new one.
			more := testPattern(70_000, 2)
			if err := c.Append("data.dat", bytes.NewReader(more)); err != nil {
				t.Fatalf("APPE: %v", err)
			}
			if d := firstDiff(retrAll(t, c, "data.dat", 0), append(slices.Clone(data), more...)); d != "" {
				t.Fatalf("after APPE: %s", d)
			}
			if err := c.Append("new.dat", bytes.NewReader(more)); err != nil {
				t.Fatalf("APPE new: %v", err)
			}
			if d := firstDiff(readHost(t, e.dsk, "new.dat"), more); d != "" {
				t.Fatalf("APPE new: %s", d)
			}

			// REST + STOR keeps the prefix.
			tail := []byte("TAIL")
			if err := c.StorFrom("new.dat", bytes.NewReader(tail), 10); err != nil {
				t.Fatalf("REST 10 + STOR: %v", err)
			}
			if d := firstDiff(readHost(t, e.dsk, "new.dat"), append(slices.Clone(more[:10]), tail...)); d != "" {
				t.Fatalf("REST + STOR: %s", d)
			}

			// SIZE and MDTM.
			if n, err := c.FileSize("data.dat"); err != nil || n != int64(len(data)+len(more)) {
				t.Errorf("SIZE: got %d, %v, want %d", n, err, len(data)+len(more))
			}
			_, err = c.FileSize("missing.dat")
			wantFTPError(t, "SIZE of a missing file", err, 550, "File not found.")
			fi, err := os.Stat(filepath.Join(e.dsk, "data.dat"))
			if err != nil {
				t.Fatal(err)
			}
			if mt, err := c.GetTime("data.dat"); err != nil || !mt.Equal(fi.ModTime().UTC().Truncate(time.Second)) {
				t.Errorf("MDTM: got %v, %v, want %v", mt, err, fi.ModTime().UTC().Truncate(time.Second))
			}
			_, err = c.GetTime("missing.dat")
			wantFTPError(t, "MDTM of a missing file", err, 550, "File not found.")

			// LIST and NLST, with masks.
			if err := c.Stor("a.txt", bytes.NewReader([]byte("a"))); err != nil {
				t.Fatal(err)
			}
			if err := c.Stor("b.txt", bytes.NewReader([]byte("bb"))); err != nil {
				t.Fatal(err)
			}
			entries, err := c.List("")
			if err != nil {
				t.Fatalf("LIST: %v", err)
			}
			got := map[string]uint64{}
			for _, en := range entries {
				if en.Type != ftp.EntryTypeFile {
					t.Errorf("LIST: %s is a %v, want a file", en.Name, en.Type)
				}
				got[en.Name] = en.Size
			}
			want := map[string]uint64{"a.txt": 1, "b.txt": 2, "data.dat": uint64(len(data) + len(more)), "new.dat": 14}
			if !maps.Equal(got, want) {
				t.Errorf("LIST: got %v, want %v", got, want)
			}
			entries, err = c.List("*.txt")
			if err != nil || len(entries) != 2 || entries[0].Name != "a.txt" || entries[1].Name != "b.txt" {
				t.Errorf("LIST *.txt: got %v, %v, want a.txt and b.txt", entryNames(entries), err)
			}
			nl, err := c.NameList("*.dat")
			if err != nil || !slices.Equal(nl, []string{"data.dat", "new.dat"}) {
				t.Errorf("NLST *.dat: got %q, %v", nl, err)
			}
			nl, err = c.NameList("/dsk/b*")
			if err != nil || !slices.Equal(nl, []string{"b.txt"}) {
				t.Errorf("NLST /dsk/b*: got %q, %v", nl, err)
			}
			nl, err = c.NameList("")
			if err != nil || !slices.Equal(nl, []string{"a.txt", "b.txt", "data.dat", "new.dat"}) {
				t.Errorf("NLST: got %q, %v", nl, err)
			}
			// The root lists the file systems as directories.
			changeDir(t, c, "/")
			entries, err = c.List("")
			if err != nil {
				t.Fatalf("LIST /: %v", err)
			}
			var fss []string
			for _, en := range entries {
				if en.Type != ftp.EntryTypeFolder {
					t.Errorf("LIST /: %s is a %v, want a folder", en.Name, en.Type)
				}
				fss = append(fss, en.Name)
			}
			for _, fs := range []string{"dsk", "bio", "mem"} {
				if !slices.Contains(fss, fs) {
					t.Errorf("LIST /: got %q, want %s among them", fss, fs)
				}
			}
			changeDir(t, c, "dsk")

			// RNFR/RNTO and DELE.
			if err := c.Rename("data.dat", "moved.dat"); err != nil {
				t.Fatalf("RNFR/RNTO: %v", err)
			}
			if _, err := os.Stat(filepath.Join(e.dsk, "data.dat")); !os.IsNotExist(err) {
				t.Errorf("after rename, old name: %v", err)
			}
			if n, err := c.FileSize("moved.dat"); err != nil || n != int64(len(data)+len(more)) {
				t.Errorf("SIZE after rename: %d, %v", n, err)
			}
			err = c.Rename("missing.dat", "x.dat")
			wantFTPError(t, "RNFR of a missing file", err, 550, "File not found.")
			if err := c.Delete("moved.dat"); err != nil {
				t.Fatalf("DELE: %v", err)
			}
			err = c.Delete("moved.dat")
			wantFTPError(t, "DELE of a missing file", err, 550, "Unable to delete file.")

			// MKD/RMD are not implemented (manual §1.3).
			err = c.MakeDir("sub")
			wantFTPError(t, "MKD", err, 502, "Command not implemented.")
			err = c.RemoveDir("sub")
			wantFTPError(t, "RMD", err, 502, "Command not implemented.")

			if err := c.NoOp(); err != nil {
				t.Errorf("NOOP: %v", err)
			}
			// REIN logs out: a command then needs a login again.
			if err := c.Logout(); err != nil {
				t.Errorf("REIN: %v", err)
			}
			_, err = c.FileSize("a.txt")
			wantFTPError(t, "SIZE after REIN", err, 530, "Access denied, not logged in.")
			if err := c.Login("root", testPassword); err != nil {
				t.Fatalf("login after REIN: %v", err)
			}
			wantDir(t, c, "/")
			if err := c.Quit(); err != nil {
				t.Errorf("QUIT: %v", err)
			}
		})
	}
}

func entryNames(entries []*ftp.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// TestClientSecureMode: with DIRECT OFF (the default) STOR lands in /mem
// whatever the current directory.
func TestClientSecureMode(t *testing.T) {
	e := newTestEnv(t, tOpts{})
	c := clientLogin(t, e)
	changeDir(t, c, "dsk")
	data := testPattern(100_000, 3)
	if err := c.Stor("img.dat", bytes.NewReader(data)); err != nil {
		t.Fatalf("STOR: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "img.dat")); !os.IsNotExist(err) {
		t.Errorf("secure STOR wrote to /dsk: %v", err)
	}
	if i, err := e.mem.Stat("img.dat"); err != nil || i.Size != int64(len(data)) {
		t.Errorf("staged file: %+v, %v", i, err)
	}
	if d := firstDiff(retrAll(t, c, "/mem/img.dat", 0), data); d != "" {
		t.Errorf("RETR /mem/img.dat: %s", d)
	}
}

// TestClientLevels: a guest may not write; a viewer may only list; a
// bad password is refused.
func TestClientLevels(t *testing.T) {
	e := newTestEnv(t, tOpts{ftp: "direct = true"})
	writeHost(t, e.dsk, "f.dat", []byte("hello"))
	g := dialClient(t, e)
	if err := g.Login("guest", testPassword); err != nil {
		t.Fatalf("guest login: %v", err)
	}
	// Whether a guest may RETR (policy: yes; manual §1.4.3: ROOT only)
	// is left to the access-table tests; writing is refused either way.
	err := g.Stor("/dsk/g.dat", bytes.NewReader([]byte("x")))
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code/100 != 5 {
		t.Errorf("guest STOR: got %v, want a 5xx refusal", err)
	}
	if _, err := os.Stat(filepath.Join(e.dsk, "g.dat")); !os.IsNotExist(err) {
		t.Errorf("guest STOR created the file: %v", err)
	}
	if err := g.Delete("/dsk/f.dat"); err == nil {
		t.Error("guest DELE succeeded")
	}

	v := dialClient(t, e)
	if err := v.Login("viewer", testPassword); err != nil {
		t.Fatalf("viewer login: %v", err)
	}
	if nl, err := v.NameList("/dsk"); err != nil || !slices.Equal(nl, []string{"f.dat"}) {
		t.Errorf("viewer NLST: %q, %v", nl, err)
	}
	if _, err := v.Retr("/dsk/f.dat"); err == nil {
		t.Error("viewer RETR succeeded")
	}

	bad := dialClient(t, e)
	wantFTPError(t, "bad password", bad.Login("root", "wrong"), 530, "User login refused.")
}

// TestLoginHashPassword logs in with a password hashed by
// policy.HashPassword (bcrypt at its default cost).
func TestLoginHashPassword(t *testing.T) {
	e := newTestEnv(t, tOpts{hash: func() string {
		h, err := policy.HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}})
	c := clientLogin(t, e)
	if err := c.NoOp(); err != nil {
		t.Error(err)
	}
}

// TestClientExplicitTLS: AUTH TLS, PBSZ 0, PROT P, then transfers over
// TLS data connections.
func TestClientExplicitTLS(t *testing.T) {
	for _, require := range []bool{false, true} {
		name := "optional"
		ftpCfg := "direct = true"
		if require {
			name = "required"
			ftpCfg += "\nrequire_tls = true"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, tOpts{ftp: ftpCfg})
			c := clientLogin(t, e, ftp.DialWithExplicitTLS(&tls.Config{InsecureSkipVerify: true}))
			data := testPattern(200_000, 4)
			if err := c.Stor("/dsk/tls.dat", bytes.NewReader(data)); err != nil {
				t.Fatalf("STOR over TLS: %v", err)
			}
			if d := firstDiff(readHost(t, e.dsk, "tls.dat"), data); d != "" {
				t.Fatalf("stored: %s", d)
			}
			if d := firstDiff(retrAll(t, c, "/dsk/tls.dat", 0), data); d != "" {
				t.Fatalf("RETR over TLS: %s", d)
			}
			if nl, err := c.NameList("/dsk"); err != nil || !slices.Equal(nl, []string{"tls.dat"}) {
				t.Errorf("NLST over TLS: %q, %v", nl, err)
			}
			// An empty file: the client must complete the data handshake
			// without writing.
			if err := c.Stor("/dsk/empty.dat", bytes.NewReader(nil)); err != nil {
				t.Fatalf("empty STOR over TLS: %v", err)
			}
			if b := readHost(t, e.dsk, "empty.dat"); len(b) != 0 {
				t.Errorf("empty file: %d bytes", len(b))
			}
			if !require {
				return
			}
			// Without TLS, USER is refused (RFC 4217 §13).
			raw := e.dial(t)
			if r := raw.cmd("USER root"); r.code != 534 && r.code != 530 {
				t.Errorf("USER without TLS: got %q, want 534 or 530", r)
			}
			raw.want("PASS "+testPassword, "531 User name required.")
		})
	}
}
