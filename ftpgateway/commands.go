package ftpgateway

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

// level is who may send a command (manual §1.4.1–1.4.3).
type level int

const (
	levelAll        level = iota // before login
	levelUser                    // any logged-in user; file access is then up to policy
	levelSupervisor              // supervisor only
)

type handler func(c *session, arg string) (quit bool)

type spec struct {
	h     handler
	level level
	help  string // HELP <cmd> syntax
}

// lookup is the command table. A switch, not a map, so that the table is
// immutable and HELP can refer to it.
func lookup(verb string) (spec, bool) {
	switch verb {
	case "USER":
		return spec{(*session).cmdUSER, levelAll, "USER <username>"}, true
	case "PASS":
		return spec{(*session).cmdPASS, levelAll, "PASS <password>"}, true
	case "ACCT":
		return spec{(*session).cmdACCT, levelUser, "ACCT TEST0|TEST1"}, true
	case "REIN":
		return spec{(*session).cmdREIN, levelAll, "REIN"}, true
	case "QUIT":
		return spec{(*session).cmdQUIT, levelAll, "QUIT"}, true
	case "NOOP":
		return spec{(*session).cmdNOOP, levelAll, "NOOP"}, true
	case "SYST":
		return spec{(*session).cmdSYST, levelAll, "SYST"}, true
	case "HELP":
		return spec{(*session).cmdHELP, levelAll, "HELP [<command>]"}, true
	case "STAT":
		return spec{(*session).cmdSTAT, levelAll, "STAT"}, true
	case "FEAT":
		return spec{(*session).cmdFEAT, levelAll, "FEAT"}, true
	case "OPTS":
		return spec{(*session).cmdOPTS, levelUser, "OPTS <command> [<options>]"}, true
	case "AUTH":
		return spec{(*session).cmdAUTH, levelAll, "AUTH TLS"}, true
	case "PBSZ":
		return spec{(*session).cmdPBSZ, levelAll, "PBSZ 0"}, true
	case "PROT":
		return spec{(*session).cmdPROT, levelAll, "PROT C|P"}, true
	case "PORT":
		return spec{(*session).cmdPORT, levelUser, "PORT h1,h2,h3,h4,p1,p2"}, true
	case "PASV":
		return spec{(*session).cmdPASV, levelUser, "PASV"}, true
	case "EPRT":
		return spec{(*session).cmdEPRT, levelUser, "EPRT |proto|address|port|"}, true
	case "EPSV":
		return spec{(*session).cmdEPSV, levelUser, "EPSV [1|2|ALL]"}, true
	case "TYPE":
		return spec{(*session).cmdTYPE, levelUser, "TYPE A [N]|I|L 8"}, true
	case "MODE":
		return spec{(*session).cmdMODE, levelUser, "MODE S"}, true
	case "STRU":
		return spec{(*session).cmdSTRU, levelUser, "STRU F"}, true
	case "ABOR":
		return spec{(*session).cmdABOR, levelUser, "ABOR"}, true
	case "LIST":
		return spec{(*session).cmdLIST, levelUser, "LIST [<path-name>]"}, true
	case "NLST":
		return spec{(*session).cmdNLST, levelUser, "NLST [<path-name>]"}, true
	case "PWD", "XPWD":
		return spec{(*session).cmdPWD, levelUser, verb}, true
	case "CWD", "XCWD":
		return spec{(*session).cmdCWD, levelUser, verb + " <path-name>"}, true
	case "CDUP", "XCUP":
		return spec{(*session).cmdCDUP, levelUser, verb}, true
	case "SMNT":
		return spec{(*session).cmdSMNT, levelUser, "SMNT <file-system>"}, true
	case "REST":
		return spec{(*session).cmdREST, levelUser, "REST <offset>"}, true
	case "RETR":
		return spec{(*session).cmdRETR, levelUser, "RETR <filename>"}, true
	case "STOR":
		return spec{(*session).cmdSTOR, levelUser, "STOR <filename>"}, true
	case "APPE":
		return spec{(*session).cmdAPPE, levelUser, "APPE <filename>"}, true
	case "DELE":
		return spec{(*session).cmdDELE, levelUser, "DELE <filename>"}, true
	case "RNFR":
		return spec{(*session).cmdRNFR, levelUser, "RNFR <filename>"}, true
	case "RNTO":
		return spec{(*session).cmdRNTO, levelUser, "RNTO <filename>"}, true
	case "SIZE":
		return spec{(*session).cmdSIZE, levelUser, "SIZE <filename>"}, true
	case "MDTM":
		return spec{(*session).cmdMDTM, levelUser, "MDTM <filename>"}, true
	case "XCRC":
		return spec{(*session).cmdXCRC, levelUser, `XCRC ["<filename>"] [<offset> [<size>]]`}, true
	case "XMD5":
		return spec{(*session).cmdXMD5, levelUser, `XMD5 ["<filename>"] [<offset> [<size>]]`}, true
	case "ALLO":
		return spec{(*session).cmdALLO, levelUser, "ALLO <size>"}, true
	case "MKD", "XMKD", "RMD", "XRMD", "STOU":
		return spec{(*session).cmdNotImplemented, levelUser, verb}, true
	case "SITE":
		return spec{(*session).cmdSITE, levelUser, "SITE <command> [<arguments>]"}, true
	}
	return spec{}, false
}

// helpVerbs are listed by HELP, in the manual's order of sections.
var helpVerbs = []string{"USER", "PASS", "ACCT", "REIN", "QUIT", "NOOP", "SYST", "HELP", "STAT", "FEAT",
	"OPTS", "AUTH", "PBSZ", "PROT", "PORT", "PASV", "EPRT", "EPSV", "TYPE", "MODE", "STRU", "ABOR", "LIST",
	"NLST", "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "SMNT", "REST", "RETR", "STOR", "APPE", "DELE",
	"RNFR", "RNTO", "SIZE", "MDTM", "XCRC", "XMD5", "ALLO", "MKD", "RMD", "STOU", "SITE"}

func (c *session) dispatch(cmd command) bool {
	sp, ok := lookup(cmd.verb)
	if !ok {
		c.reply(500, "Syntax error, command unrecognized.")
		return false
	}
	if sp.level > levelAll && c.user == nil {
		c.reply(530, "Access denied, not logged in.")
		return false
	}
	if sp.level == levelSupervisor && !c.user.IsSupervisor() {
		c.reply(530, "Access denied, not logged in.")
		return false
	}
	return sp.h(c, cmd.arg)
}

// --- Session and login (manual §1.4.1) ---

func (c *session) cmdUSER(arg string) bool {
	if c.srv.pol.FTP.RequireTLS && !c.tlsOn {
		c.reply(534, "Request denied for policy reasons.") // RFC 4217 §13
		return false
	}
	if len(arg) > 64 {
		c.reply(530, "User name too long.")
		return false
	}
	// Always 331, whether the user exists or not (RFC 2577 §5).
	c.userName, c.user, c.vs = arg, nil, nil
	c.reply(331, "User name accepted, password needed.")
	return false
}

func (c *session) cmdPASS(arg string) bool {
	if c.userName == "" {
		c.reply(531, "User name required.")
		return false
	}
	if c.user != nil {
		c.reply(230, "User login complete.")
		return false
	}
	if len(arg) > 128 {
		c.reply(530, "Password too long.")
		return false
	}
	s := c.srv
	u, err := s.pol.CheckPassword(c.userName, arg)
	if err != nil && s.pol.FTP.Anonymous && (strings.EqualFold(c.userName, "anonymous") || strings.EqualFold(c.userName, "ftp")) {
		u, err = &policy.User{Name: "anonymous", Level: policy.Viewer}, nil
	}
	if err != nil {
		c.failures++
		s.count(func(st *stats) { st.failedLogins++ })
		s.audit.Info("login failed", "user", c.userName, "remote_addr", c.remote, "method", "ftp-password")
		time.Sleep(s.pol.Limits.LoginFailDelay)
		c.reply(530, "User login refused.")
		if c.failures >= s.pol.FTP.MaxLoginFailures {
			c.log.Warn("too many failed logins; closing", "failures", c.failures)
			return true
		}
		return false
	}
	c.user = u
	c.vs = &vfs.Session{User: u, ID: "ftp-" + c.id, Remote: c.remote}
	c.loggedAt = time.Now()
	c.resetSettings()
	if fs := s.pol.FTP.DefaultFS; fs != "" && u.Sees(fs) {
		c.cwd = fs
	}
	s.count(func(st *stats) { st.logins++ })
	s.audit.Info("login", "user", u.Name, "remote_addr", c.remote, "method", "ftp-password", "tls", c.tlsOn)
	s.audit.Info("session start", "user", u.Name, "session", c.vs.ID, "remote_addr", c.remote)
	if motd := c.motd(); len(motd) > 0 {
		c.replyLines(230, motd[0], motd[1:], "User login successful.")
	} else {
		c.reply(230, "User login successful.")
	}
	return false
}

// motd reads the optional MOTD file (mTCP) as 230- lines, bounded.
func (c *session) motd() []string {
	p := c.srv.pol.FTP.MOTD
	if p == "" {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		c.log.Warn("cannot read motd", "error", err)
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 8<<10))
	for sc.Scan() && len(out) < 50 {
		out = append(out, sc.Text())
	}
	return out
}

func (c *session) cmdACCT(arg string) bool {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TEST0":
		c.testFS, c.cwd = "tst", "tst"
	case "TEST1":
		c.testFS, c.cwd = "ts1", "ts1"
	default:
		c.reply(202, "Command superfluous at this site.")
		return false
	}
	// TEST mode behaves as a standard server: DIRECT ON (manual §3.5).
	c.direct = true
	c.reply(200, "FTP server test account enabled.")
	return false
}

func (c *session) cmdREIN(string) bool {
	if c.vs != nil {
		c.srv.audit.Info("session end", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote)
	}
	c.userName, c.user, c.vs, c.failures = "", nil, nil, 0
	c.resetSettings()
	c.reply(220, "OK.")
	return false
}

func (c *session) cmdQUIT(string) bool {
	if c.vs != nil {
		c.srv.audit.Info("session end", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote)
	}
	c.reply(221, "Goodbye.")
	return true
}

func (c *session) cmdNOOP(string) bool { c.reply(200, "OK."); return false }

func (c *session) cmdSYST(string) bool {
	if c.systMode == "msdos" {
		c.reply(215, "MSDOS system type.")
	} else {
		c.reply(215, "UNIX system type.")
	}
	return false
}

func (c *session) cmdHELP(arg string) bool {
	arg = strings.ToUpper(strings.TrimSpace(arg))
	if arg == "" {
		var lines []string
		for i := 0; i < len(helpVerbs); i += 8 {
			lines = append(lines, strings.Join(helpVerbs[i:min(i+8, len(helpVerbs))], " "))
		}
		c.replyLines(214, "The following commands are recognized:", lines, "HELP: See HELP <command>")
		return false
	}
	sp, ok := lookup(arg)
	if !ok {
		c.reply(214, "HELP: Command not recognized")
		return false
	}
	c.replyf(214, "%s: Syntax: %s<CRLF>", arg, sp.help)
	return false
}

func (c *session) cmdFEAT(string) bool {
	feats := []string{"EPRT", "EPSV", "MDTM", "REST STREAM", "SIZE", "XCRC", "XMD5"}
	if c.srv.cfg.TLS != nil {
		feats = append([]string{"AUTH TLS", "PBSZ", "PROT"}, feats...)
	}
	c.replyLines(211, "Extensions supported:", feats, "End")
	return false
}

func (c *session) cmdOPTS(string) bool { c.reply(501, "No options available"); return false }

func (c *session) cmdALLO(string) bool {
	c.reply(202, "Command not implemented, superfluous at this site.")
	return false
}

func (c *session) cmdNotImplemented(string) bool {
	c.reply(502, "Command not implemented.")
	return false
}

// --- Transfer parameters (manual §1.4.2) ---

func (c *session) cmdTYPE(arg string) bool {
	f := strings.Fields(strings.ToUpper(arg))
	if len(f) == 0 {
		c.reply(501, "TYPE argument error.")
		return false
	}
	switch f[0] {
	case "A":
		switch {
		case len(f) == 1 || f[1] == "N":
			c.ascii = true
			c.reply(200, "TYPE is set to ASCII NON PRINT.")
		case f[1] == "T":
			c.ascii = true
			c.reply(200, "TYPE is set to ASCII TELNET.")
		case f[1] == "C":
			c.reply(504, "TYPE ASCII CARRIAGE not supported.")
		default:
			c.reply(501, "TYPE ASCII format error.")
		}
	case "I":
		c.ascii = false
		c.reply(200, "TYPE is set to IMAGE.")
	case "L":
		if len(f) == 2 && f[1] == "8" {
			c.ascii = false
			c.reply(200, "TYPE is set to LOCAL 8.")
		} else {
			c.reply(504, "TYPE LOCAL size not supported.")
		}
	case "E":
		c.reply(504, "TYPE EBCDIC not supported.")
	default:
		c.reply(501, "TYPE format not recognized.")
	}
	return false
}

func (c *session) cmdMODE(arg string) bool {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "":
		c.reply(501, "MODE argument error.")
	case "S":
		c.reply(200, "MODE is set to STREAM.")
	case "B":
		c.reply(504, "MODE BLOCK not supported.")
	case "C":
		c.reply(504, "MODE COMPRESSED not supported.")
	default:
		c.reply(501, "MODE format not recognized.")
	}
	return false
}

func (c *session) cmdSTRU(arg string) bool {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "":
		c.reply(501, "STRU argument error.")
	case "F":
		c.reply(200, "STRU is set to FILE.")
	case "R":
		c.reply(504, "STRU RECORD not supported.")
	case "P":
		c.reply(504, "STRU PAGE not supported.")
	default:
		c.reply(501, "STRU format not recognized.")
	}
	return false
}

func (c *session) cmdREST(arg string) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		c.reply(501, "Syntax error in parameters or arguments.")
		return false
	}
	c.rest = n
	if n == 0 {
		c.reply(200, "Restore offset set to 0.")
	} else {
		c.replyf(350, "Restore offset set to %d, use RETR, STOR or APPE to init transfer.", n)
	}
	return false
}

// --- Navigation (manual §1.4.2–1.4.3): file systems are directories ---

func (c *session) cmdPWD(string) bool {
	c.replyf(257, "%q is the current directory.", "/"+c.cwd)
	return false
}

func (c *session) cmdCWD(arg string) bool {
	arg = strings.TrimSpace(arg)
	switch arg {
	case "":
		c.reply(501, "No pathname defined.")
		return false
	case ".":
		c.reply(200, "CWD current dir successful.")
		return false
	case "/", "..", "/..":
		if c.testFS != "" {
			c.reply(501, "Pathname not allowed in test mode.")
			return false
		}
		if arg == ".." && c.cwd == "" {
			c.reply(550, "Pathname not available.")
			return false
		}
		c.cwd = ""
		c.reply(200, "CWD root dir successful.")
		return false
	}
	fs, name, err := vfs.Split(path.Clean("/"+c.cwd+"/"+arg), c.srv.pol.Names.MaxLen)
	if strings.HasPrefix(arg, "/") {
		fs, name, err = vfs.Split(path.Clean(arg), c.srv.pol.Names.MaxLen)
	}
	if err != nil || name != "" {
		c.reply(501, "Invalid pathname.")
		return false
	}
	if c.testFS != "" && fs != c.testFS {
		c.reply(501, "Pathname not allowed in test mode.")
		return false
	}
	if fs == "" {
		c.cwd = ""
		c.reply(200, "CWD root dir successful.")
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, "/"+fs); err != nil {
		c.reply(550, "Pathname not available.")
		return false
	}
	c.cwd = fs
	c.reply(200, "CWD command successful.")
	return false
}

func (c *session) cmdCDUP(string) bool {
	if c.cwd == "" {
		c.reply(550, "Top of tree.")
		return false
	}
	if c.testFS != "" {
		c.reply(501, "Pathname not allowed in test mode.")
		return false
	}
	c.cwd = ""
	c.reply(200, "CDUP command successful.")
	return false
}

func (c *session) cmdSMNT(arg string) bool {
	fs := strings.ToLower(strings.Trim(strings.TrimSpace(arg), "/"))
	if fs == "" || strings.Contains(fs, "/") || !c.srv.pol.HasMount(fs) {
		c.reply(501, "File system not recognized.")
		return false
	}
	if c.testFS != "" && fs != c.testFS {
		c.reply(501, "File system not allowed in test mode.")
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, "/"+fs); err != nil {
		c.reply(550, "File system is not available.")
		return false
	}
	c.cwd = fs
	c.reply(200, "File system mounted.")
	return false
}

// resolve turns a file argument into a device path in the current file
// system (or an absolute one). In TEST mode only the test file system is
// reachable.
func (c *session) resolve(arg string) (string, bool) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		c.reply(501, "Invalid filename.")
		return "", false
	}
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = "/" + c.cwd + "/" + p
	}
	p = path.Clean(p)
	fs, _, err := vfs.Split(p, c.srv.pol.Names.MaxLen)
	if err != nil {
		code, text := ftpStatus(opRetr, err)
		c.reply(code, text)
		return "", false
	}
	if c.testFS != "" && fs != c.testFS {
		c.reply(501, "File system not allowed in test mode.")
		return "", false
	}
	return p, true
}

// --- File operations (manual §1.4.3) ---

func (c *session) cmdDELE(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	if err := c.srv.cfg.Store.Remove(c.vs, p); err != nil {
		c.log.Debug("DELE refused", "path", p, "error", err)
		c.reply(ftpStatus(opDele, err))
		return false
	}
	c.reply(250, "File deleted.")
	return false
}

func (c *session) cmdRNFR(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, p); err != nil {
		c.reply(ftpStatus(opRnfr, err))
		return false
	}
	c.rnfr = p
	c.reply(350, "Rename pending information.")
	return false
}

func (c *session) cmdRNTO(arg string) bool {
	from := c.rnfr
	c.rnfr = ""
	if from == "" {
		c.reply(503, "Bad sequence of RNFR and RNTD commands.")
		return false
	}
	to, ok := c.resolve(arg)
	if !ok {
		return false
	}
	if _, err := c.srv.cfg.Store.Rename(c.vs, from, to); err != nil {
		c.log.Debug("RNTO refused", "from", from, "to", to, "error", err)
		c.reply(ftpStatus(opRnto, err))
		return false
	}
	c.reply(250, "File successfully renamed.")
	return false
}

func (c *session) cmdSIZE(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	i, err := c.srv.cfg.Store.Stat(c.vs, p)
	if err != nil || i.IsDir {
		c.reply(550, "File not found.")
		return false
	}
	c.replyf(213, "%d", i.Size)
	return false
}

func (c *session) cmdMDTM(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	i, err := c.srv.cfg.Store.Stat(c.vs, p)
	if err != nil || i.IsDir {
		c.reply(550, "File not found.")
		return false
	}
	c.reply(213, i.ModTime.UTC().Format("20060102150405"))
	return false
}

func (c *session) cmdXCRC(arg string) bool {
	return c.checksum(arg, crc32.NewIEEE(), func(sum []byte) string {
		return fmt.Sprintf("%08X", sum)
	})
}

func (c *session) cmdXMD5(arg string) bool {
	return c.checksum(arg, md5.New(), func(sum []byte) string { return strings.ToUpper(hex.EncodeToString(sum)) })
}

// checksum serves XCRC and XMD5: [["name"] [offset [length]]] over the
// named file (or the last file transferred, when no name is given).
func (c *session) checksum(arg string, h hash.Hash, format func([]byte) string) bool {
	name, off, length, hasLen, err := parseCRCArgs(arg)
	if err != nil {
		c.reply(501, "Invalid filename.")
		return false
	}
	p, ok := c.resolve(name)
	if !ok {
		return false
	}
	r, err := c.srv.cfg.Store.OpenRead(c.vs, p)
	if err != nil {
		c.reply(ftpStatus(opInfo, err))
		return false
	}
	defer r.Close()
	if off > r.Size() {
		c.reply(550, "CRC offset past eof.")
		return false
	}
	if !hasLen {
		length = r.Size() - off
	}
	if length > r.Size()-off {
		c.reply(550, "CRC size past eof.")
		return false
	}
	if _, err := io.Copy(h, io.NewSectionReader(r, off, length)); err != nil {
		c.reply(550, "Error reading file.")
		return false
	}
	c.reply(250, format(h.Sum(nil)))
	return false
}

// sortedInfos sorts a listing by name.
func sortedInfos(l []vfs.Info) []vfs.Info {
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}
