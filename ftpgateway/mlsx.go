package ftpgateway

// Commands for modern clients (DESIGN §6, docs/ftp.md "Modern clients"):
// MLSD and MLST (RFC 3659 §7) with the facts type, size, modify and perm,
// OPTS UTF8 (RFC 2640 §3.2) and OPTS MLST (RFC 3659 §7.9), and MFMT
// (draft-somers-ftp-mfxx §3). The manual has none of them; FEAT lists them
// after its own lines.

import (
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// The MLST facts sluice offers, in the order they are sent and listed in
// FEAT. Bit i of session.mlstOff turns mlstFacts[i] off.
var mlstFacts = []string{"type", "size", "modify", "perm"}

// mlstFeat is FEAT's MLST argument: every fact, "*" on the selected ones.
func (c *session) mlstFeat() string {
	var b strings.Builder
	for i, f := range mlstFacts {
		b.WriteString(f)
		if c.mlstOff&(1<<i) == 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// cmdOPTS: OPTS UTF8 ON (names are always UTF-8 here) and OPTS MLST; the
// manual's 501 for everything else.
func (c *session) cmdOPTS(arg string) bool {
	name, val, _ := strings.Cut(strings.TrimSpace(arg), " ")
	val = strings.TrimSpace(val)
	switch strings.ToUpper(name) {
	case "UTF8":
		// Only ON: names are UTF-8 whatever the client says, so OFF
		// cannot be honoured.
		if val == "" || strings.EqualFold(val, "ON") {
			c.send(replyOptsUTF8)
			return false
		}
	case "MLST":
		// RFC 3659 §7.9: the facts named (case-insensitively) are selected,
		// unknown ones ignored; the reply lists the selection.
		off := uint8(1<<len(mlstFacts) - 1)
		var sel strings.Builder
		for i, f := range mlstFacts {
			for _, w := range strings.Split(val, ";") {
				if strings.EqualFold(strings.TrimSpace(w), f) {
					off &^= 1 << i
					sel.WriteString(f + ";")
					break
				}
			}
		}
		c.mlstOff = off
		c.send(replyOptsMLST, sel.String())
		return false
	}
	c.send(replyOptsNone)
	return false
}

// mlsxKind is the type fact of an entry.
type mlsxKind string

const (
	mlsxFile mlsxKind = "file"
	mlsxDir  mlsxKind = "dir"
	mlsxCdir mlsxKind = "cdir" // MLST of the current directory
	mlsxPdir mlsxKind = "pdir" // MLST of the current directory's parent ("/" from a file system)
)

// mlsxFacts are the selected facts of i, a file in file system fs or (a
// directory) a file system in "/" or "/" itself (fs ""), with the final
// ";". perm says what the policy lets this user do there (RFC 3659
// §7.5.5), as vfs will decide it.
func (c *session) mlsxFacts(kind mlsxKind, fs string, i vfs.Info) string {
	var b strings.Builder
	for n, f := range mlstFacts {
		if c.mlstOff&(1<<n) != 0 {
			continue
		}
		switch f {
		case "type":
			b.WriteString("type=" + string(kind) + ";")
		case "size":
			if kind != mlsxFile {
				continue // a file system's size means nothing
			}
			b.WriteString("size=" + strconv.FormatInt(i.Size, 10) + ";")
		case "modify":
			b.WriteString("modify=" + i.ModTime.UTC().Format("20060102150405") + ";")
		case "perm":
			b.WriteString("perm=" + c.mlsxPerm(kind, fs, i) + ";")
		}
	}
	return b.String()
}

// mlsxPerm is the perm fact. A file: a and w (APPE, STOR: write), d
// (DELE: delete), f (RNFR: rename), r (RETR: read; not an upload cut
// short). A file system: c (STOR into it: write), e (CWD) and l (LIST:
// list), p (DELE in it: delete); "/" only e and l. No m (MKD is not
// implemented) and no d or f on directories (they cannot be removed or
// renamed).
func (c *session) mlsxPerm(kind mlsxKind, fs string, i vfs.Info) string {
	may := func(op policy.Op) bool { return policy.Allow(c.user, op, fs) == nil }
	var b strings.Builder
	add := func(letters string, ok bool) {
		if ok {
			b.WriteString(letters)
		}
	}
	if kind == mlsxFile {
		add("a", may(policy.OpWrite))
		add("d", may(policy.OpDelete))
		add("f", may(policy.OpRename))
		add("r", may(policy.OpRead) && !i.Incomplete)
		add("w", may(policy.OpWrite))
		return b.String()
	}
	if fs == "" {
		return "el"
	}
	add("c", may(policy.OpWrite))
	add("el", may(policy.OpList))
	add("p", may(policy.OpDelete))
	return b.String()
}

// mlsxLine is one MLSD data line of a listing of fs ("" for "/"): the
// facts, a space, the name, CRLF.
func (c *session) mlsxLine(fs string, i vfs.Info) string {
	kind := mlsxFile
	if i.IsDir {
		// A file system in "/": its own permissions.
		kind, fs = mlsxDir, i.Name
	}
	return c.mlsxFacts(kind, fs, i) + " " + i.Name + "\r\n"
}

// cmdMLSD lists like LIST (same arguments, access rules, PROT P
// requirement, name checks and replies), in RFC 3659 §7 lines. A mask is
// accepted as LIST takes it (jlaffaye/ftp's List sends one). There is no
// cdir or pdir entry: clients that do not filter them (jlaffaye/ftp) would
// list them as files.
func (c *session) cmdMLSD(arg string) bool {
	dir, out, ok := c.listEntries("MLSD", arg)
	if !ok {
		return false
	}
	fs := strings.TrimPrefix(dir, "/")
	lines := make([]string, len(out))
	for n, i := range out {
		lines[n] = c.mlsxLine(fs, i)
	}
	c.run("MLSD", dir, -1, replyListOpening, func(t *transfer, conn net.Conn) string {
		w := countingWriter{conn, &t.n}
		if _, err := w.Write([]byte(strings.Join(lines, ""))); err != nil {
			return string(replyDataClosed)
		}
		return string(replyListDone)
	}, nil)
	return false
}

// cmdMLST describes one object (no argument: the current directory) on
// the control connection (RFC 3659 §7.2).
func (c *session) cmdMLST(arg string) bool {
	arg = strings.TrimSpace(arg)
	p := "/" + c.cwd
	if arg != "" {
		p = arg
		if !strings.HasPrefix(p, "/") {
			p = "/" + c.cwd + "/" + p
		}
	}
	p = path.Clean(p)
	for _, seg := range strings.Split(p, "/") {
		if len(seg) > c.srv.pol().Names.MaxLen {
			c.send(replyPathTooLong)
			return false
		}
	}
	fs, name, err := vfs.Split(p, c.srv.pol().Names.MaxLen)
	if err != nil {
		c.sendLines(ftpStatus(opInfo, err))
		return false
	}
	if c.testFS != "" && fs != c.testFS {
		c.send(replyInvalidPath)
		return false
	}
	i, err := c.srv.cfg.Store.Stat(c.vs, p)
	if err != nil {
		c.sendLines(ftpStatus(opInfo, err))
		return false
	}
	kind := mlsxFile
	switch {
	case name != "":
	case fs == c.cwd:
		kind = mlsxCdir
	case fs == "" && c.cwd != "":
		kind = mlsxPdir
	default:
		kind = mlsxDir
	}
	c.sendLines(line1(replyMlstFirst, arg), line1(replyMlstFacts, c.mlsxFacts(kind, fs, i), p), string(replyMlstLast))
	return false
}

// cmdMFMT sets a file's modification time: MFMT YYYYMMDDHHMMSS[.sss]
// <path>, UTC, through vfs SetModTime as SFTP's SETSTAT does (the write
// permission; a staged file keeps it through its commit).
func (c *session) cmdMFMT(arg string) bool {
	stamp, name, _ := strings.Cut(strings.TrimLeft(arg, " "), " ")
	if strings.TrimSpace(name) == "" {
		c.send(replyMfmtSyntax)
		return false
	}
	t, ok := parseMFMTTime(stamp)
	if !ok {
		c.send(replyMfmtBadTime)
		return false
	}
	p, ok := c.resolve(name)
	if !ok {
		return false
	}
	if i, err := c.srv.cfg.Store.Stat(c.vs, p); err != nil || i.IsDir {
		if err == nil {
			c.send(replyNotFound) // a file system has no time to set
		} else {
			c.sendLines(ftpStatus(opInfo, err))
		}
		return false
	}
	if err := c.srv.cfg.Store.SetModTime(c.vs, p, t); err != nil {
		c.log.Debug("MFMT refused", "path", p, "error", err)
		c.sendLines(ftpStatus(opInfo, err))
		return false
	}
	c.send(replyMfmt, t.Format("20060102150405"), strings.TrimSpace(name))
	return false
}

// parseMFMTTime parses YYYYMMDDHHMMSS with an optional fraction of a
// second (RFC 3659 §2.3 time-val), in UTC. The fraction is kept to the
// nanosecond; MDTM and the facts show whole seconds.
func parseMFMTTime(s string) (time.Time, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if len(whole) != 14 || hasFrac && (frac == "" || len(frac) > 9) {
		return time.Time{}, false
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation("20060102150405", whole, time.UTC)
	if err != nil {
		return time.Time{}, false
	}
	if hasFrac {
		ns := 0
		for n := 0; n < 9; n++ {
			ns *= 10
			if n < len(frac) {
				ns += int(frac[n] - '0')
			}
		}
		t = t.Add(time.Duration(ns))
	}
	return t, true
}
