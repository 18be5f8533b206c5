package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice/sluice/policy"
)

// sessionID is the one form of the audit's session field.
var sessionID = regexp.MustCompile(`^(ssh|ftp)-[0-9]+$`)

// TestAuditEvents drives the real binary (--log-format json) with OpenSSH
// sftp and a raw FTP control connection, and reads the audit events of
// docs/operations.md, "Logs and audit":
//   - a guest's refused put is a "refused" event at warn, with the kind
//     and the SFTP text the client got;
//   - a download has a result, over SFTP and FTP;
//   - an FTP session that drops has its session end (how "dropped");
//   - every event with a session names it ssh-N or ftp-N, the same in
//     login, session start, the operations and session end;
//   - durations are duration_ms numbers.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	requireTool(t, "sftp")
	s := newFTPServer(t, "")
	s.stop()
	pub, err := os.ReadFile(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	// guest logs in with the client key (OpenSSH), ops with a password
	// (FTP).
	const opsPassword = "audit-events-pw"
	hash, err := policy.HashPassword(opsPassword)
	if err != nil {
		t.Fatal(err)
	}
	s.appendConfig(fmt.Sprintf("[[user]]\nname = \"guest\"\nlevel = \"guest\"\nauthorized_keys = [%q]\n\n"+
		"[[user]]\nname = \"ops\"\nlevel = \"supervisor\"\npassword_hash = %q\n", strings.TrimSpace(string(pub)), hash))
	if err := os.WriteFile(filepath.Join(s.data, "dsk", "readme.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	const wait = 30 * time.Second // a bound for a -race server on a busy machine

	// 1. A guest's put to /dsk: refused, at warn, with the manual's text.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := s.sftpAs(t, dir, "guest", "-put a.txt /dsk/a.txt\nget /dsk/readme.txt got.txt\n")
	// OpenSSH prints its own words for PERMISSION_DENIED; the audit has
	// the status text the server sent.
	if !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("guest put: sftp said %q, want Permission denied", r.stderr)
	}
	ref, ok := s.waitEvent(wait, "refused", map[string]string{"user": "guest", "path": "/dsk/a.txt"})
	if !ok {
		t.Fatal("no refused event for the guest's put")
	}
	for k, want := range map[string]string{"@level": "warn", "@module": "sluice.audit", "kind": "denied",
		"text": "Operation denied to this client"} {
		if got := ref.str(k); got != want {
			t.Errorf("refused: got %s=%q, want %q", k, got, want)
		}
	}

	// 2. The guest's download carries its result.
	dl, ok := s.waitEvent(wait, "transfer", map[string]string{"user": "guest", "direction": "download",
		"path": "/dsk/readme.txt"})
	if !ok {
		t.Fatal("no transfer event for the guest's get")
	}
	if dl.str("result") != "ok" || dl.str("bytes") != "6" {
		t.Errorf("guest get: got result %q bytes %q, want ok 6", dl.str("result"), dl.str("bytes"))
	}
	guestSession := ref.str("session")
	if _, ok := s.waitEvent(wait, "session end", map[string]string{"user": "guest", "session": guestSession}); !ok {
		t.Errorf("no session end with the refusal's session %q", guestSession)
	}

	// 3. FTP: ops downloads, then the control connection drops without
	// QUIT.
	c := s.dialCtl(t)
	c.expect(220)
	c.cmdExpect("USER ops", 331)
	c.cmdExpect("PASS "+opsPassword, 230)
	c.cmdExpect("TYPE I", 200)
	if data, final := c.retrieve("RETR /dsk/readme.txt"); string(data) != "hello\n" || len(final) == 0 ||
		!strings.HasPrefix(final[len(final)-1], "226") {
		t.Errorf("RETR: got %q %q, want the file and 226", data, final)
	}
	ftpDL, ok := s.waitEvent(wait, "transfer", map[string]string{"user": "ops", "direction": "download",
		"path": "/dsk/readme.txt", "result": "ok"})
	if !ok {
		t.Fatal("no transfer event with result ok for the FTP RETR")
	}
	ftpSession := ftpDL.str("session")
	c.conn.Close()
	end, ok := s.waitEvent(wait, "session end", map[string]string{"session": ftpSession})
	if !ok {
		t.Fatalf("no session end for the dropped FTP session %q", ftpSession)
	}
	if end.str("how") != "dropped" {
		t.Errorf("FTP session end: got how %q, want dropped", end.str("how"))
	}

	// 4. One session id form, the same from login to session end; every
	// duration is duration_ms, a number.
	bySession := map[string][]string{}
	for _, e := range s.proc.log.events() {
		if !strings.HasSuffix(e.str("@module"), "audit") {
			continue
		}
		if _, ok := e["duration"]; ok {
			t.Errorf("%s: has duration %v, want duration_ms", e.str("@message"), e["duration"])
		}
		if v, ok := e["duration_ms"]; ok {
			if _, isNum := v.(float64); !isNum {
				t.Errorf("%s: got duration_ms %#v, want a number", e.str("@message"), v)
			}
		}
		id, ok := e["session"]
		if !ok {
			continue
		}
		if !sessionID.MatchString(e.str("session")) {
			t.Errorf("%s: got session %v, want ssh-N or ftp-N", e.str("@message"), id)
		}
		bySession[e.str("session")] = append(bySession[e.str("session")], e.str("@message"))
	}
	for _, id := range []string{guestSession, ftpSession} {
		got := strings.Join(bySession[id], ",")
		if !strings.HasPrefix(got, "login,session start,") || !strings.HasSuffix(got, ",session end") {
			t.Errorf("session %s: got events %s, want login, session start, ..., session end", id, got)
		}
	}
}

// sftpAs runs OpenSSH sftp -b as user (authorized with the client key).
func (s *server) sftpAs(t *testing.T, dir, user, batch string) result {
	t.Helper()
	bin, args := s.sftpArgs(t, batch)
	args[len(args)-1] = user + "@127.0.0.1"
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	return run(t, ctx, dir, clientEnv(), bin, args...)
}
