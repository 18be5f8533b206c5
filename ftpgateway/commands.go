package ftpgateway

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/policy"
	"github.com/sluice/sluice/vfs"
)

type handler func(c *session, arg string) (quit bool)

type spec struct {
	h    handler
	help string // HELP <cmd> syntax (a helpSyntax* constant)
}

// fileOps are §1.4.3 commands that are file operations: for them the
// shared policy decides, for every logged-in user, instead of the
// manual's supervisor level (docs/ftp.md §2, D1), so that FTP and SFTP
// allow the same things.
var fileOps = map[string]bool{"RETR": true, "STOR": true, "APPE": true, "ALLO": true, "DELE": true,
	"RNFR": true, "RNTO": true, "CDUP": true, "XCUP": true, "CWD": true, "XCWD": true, "REST": true,
	"MDTM": true, "SIZE": true, "XCRC": true, "XMD5": true, "SITE": true, "MFMT": true}

// levelOf is the access level the session must have for verb.
func levelOf(verb string) accessLevel {
	l := commandLevels[verb]
	if l == accessSupervisor && fileOps[verb] {
		return accessRegistered
	}
	return l
}

// lookup is the command table. A switch, not a map, so that the table is
// immutable and HELP can refer to it.
func lookup(verb string) (spec, bool) {
	switch verb {
	case "USER":
		return spec{(*session).cmdUSER, helpSyntaxUSER}, true
	case "PASS":
		return spec{(*session).cmdPASS, helpSyntaxPASS}, true
	case "ACCT":
		return spec{(*session).cmdACCT, helpSyntaxACCT}, true
	case "REIN":
		return spec{(*session).cmdREIN, helpSyntaxREIN}, true
	case "QUIT":
		return spec{(*session).cmdQUIT, helpSyntaxQUIT}, true
	case "NOOP":
		return spec{(*session).cmdNOOP, helpSyntaxNOOP}, true
	case "SYST":
		return spec{(*session).cmdSYST, helpSyntaxSYST}, true
	case "HELP":
		return spec{(*session).cmdHELP, helpSyntaxHELP}, true
	case "STAT":
		return spec{(*session).cmdSTAT, helpSyntaxSTAT}, true
	case "FEAT":
		return spec{(*session).cmdFEAT, helpSyntaxFEAT}, true
	case "OPTS":
		return spec{(*session).cmdOPTS, helpSyntaxOPTS}, true
	case "AUTH":
		return spec{(*session).cmdAUTH, helpSyntaxAUTH}, true
	case "PBSZ":
		return spec{(*session).cmdPBSZ, helpSyntaxPBSZ}, true
	case "PROT":
		return spec{(*session).cmdPROT, helpSyntaxPROT}, true
	case "PORT":
		return spec{(*session).cmdPORT, helpSyntaxPORT}, true
	case "PASV":
		return spec{(*session).cmdPASV, helpSyntaxPASV}, true
	case "EPRT":
		return spec{(*session).cmdEPRT, helpSyntaxEPRT}, true
	case "EPSV":
		return spec{(*session).cmdEPSV, helpSyntaxEPSV}, true
	case "TYPE":
		return spec{(*session).cmdTYPE, helpSyntaxTYPE}, true
	case "MODE":
		return spec{(*session).cmdMODE, helpSyntaxMODE}, true
	case "STRU":
		return spec{(*session).cmdSTRU, helpSyntaxSTRU}, true
	case "ABOR":
		return spec{(*session).cmdABOR, helpSyntaxABOR}, true
	case "LIST":
		return spec{(*session).cmdLIST, helpSyntaxLIST}, true
	case "NLST":
		return spec{(*session).cmdNLST, helpSyntaxNLST}, true
	case "PWD", "XPWD":
		return spec{(*session).cmdPWD, helpSyntaxOf(verb)}, true
	case "CWD", "XCWD":
		return spec{(*session).cmdCWD, helpSyntaxOf(verb)}, true
	case "CDUP", "XCUP":
		return spec{(*session).cmdCDUP, helpSyntaxOf(verb)}, true
	case "SMNT":
		return spec{(*session).cmdSMNT, helpSyntaxSMNT}, true
	case "REST":
		return spec{(*session).cmdREST, helpSyntaxREST}, true
	case "RETR":
		return spec{(*session).cmdRETR, helpSyntaxRETR}, true
	case "STOR":
		return spec{(*session).cmdSTOR, helpSyntaxSTOR}, true
	case "APPE":
		return spec{(*session).cmdAPPE, helpSyntaxAPPE}, true
	case "DELE":
		return spec{(*session).cmdDELE, helpSyntaxDELE}, true
	case "RNFR":
		return spec{(*session).cmdRNFR, helpSyntaxRNFR}, true
	case "RNTO":
		return spec{(*session).cmdRNTO, helpSyntaxRNTO}, true
	case "SIZE":
		return spec{(*session).cmdSIZE, helpSyntaxSIZE}, true
	case "MDTM":
		return spec{(*session).cmdMDTM, helpSyntaxMDTM}, true
	case "XCRC":
		return spec{(*session).cmdXCRC, helpSyntaxXCRC}, true
	case "XMD5":
		return spec{(*session).cmdXMD5, helpSyntaxXMD5}, true
	case "ALLO":
		return spec{(*session).cmdALLO, helpSyntaxALLO}, true
	case "MLSD":
		return spec{(*session).cmdMLSD, helpSyntaxMLSD}, true
	case "MLST":
		return spec{(*session).cmdMLST, helpSyntaxMLST}, true
	case "MFMT":
		return spec{(*session).cmdMFMT, helpSyntaxMFMT}, true
	case "MKD", "XMKD", "RMD", "XRMD", "STOU":
		return spec{(*session).cmdNotImplemented, helpSyntaxOf(verb)}, true
	case "SITE":
		return spec{(*session).cmdSITE, helpSyntaxSITE}, true
	}
	return spec{}, false
}

// helpVerbs are listed by HELP, in the manual's order of sections, then
// sluice's RFC 3659 and MFMT commands.
var helpVerbs = []string{"USER", "PASS", "ACCT", "REIN", "QUIT", "NOOP", "SYST", "HELP", "STAT", "FEAT",
	"OPTS", "AUTH", "PBSZ", "PROT", "PORT", "PASV", "EPRT", "EPSV", "TYPE", "MODE", "STRU", "ABOR", "LIST",
	"NLST", "PWD", "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "SMNT", "REST", "RETR", "STOR", "APPE", "DELE",
	"RNFR", "RNTO", "SIZE", "MDTM", "XCRC", "XMD5", "ALLO", "MKD", "RMD", "STOU", "SITE", "MLSD", "MLST", "MFMT"}

func (c *session) dispatch(cmd command) bool {
	sp, ok := lookup(cmd.verb)
	if !ok {
		c.send(replyUnrecognized)
		return false
	}
	lvl := levelOf(cmd.verb)
	if lvl > accessAll && c.user == nil {
		c.send(replyNotLoggedIn)
		return false
	}
	if lvl == accessSupervisor && !c.user.IsSupervisor() {
		c.srv.audit.Warn("refused", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote,
			"op", cmd.verb, "kind", "denied", "error", "supervisor only", "text", string(replyNotLoggedIn))
		c.send(replyNotLoggedIn)
		return false
	}
	return sp.h(c, cmd.arg)
}

// helpSyntaxOf is the HELP syntax of the commands with X aliases and the
// unimplemented ones.
func helpSyntaxOf(verb string) string {
	switch verb {
	case "PWD":
		return helpSyntaxPWD
	case "XPWD":
		return helpSyntaxXPWD
	case "CWD":
		return helpSyntaxCWD
	case "XCWD":
		return helpSyntaxXCWD
	case "CDUP":
		return helpSyntaxCDUP
	case "XCUP":
		return helpSyntaxXCUP
	}
	return ""
}

// --- Session and login (manual §1.4.1) ---

func (c *session) cmdUSER(arg string) bool {
	if c.srv.pol().FTP.RequireTLS && !c.tlsOn {
		c.send(replyLoginTLSNeeded)
		return false
	}
	if len(arg) > 64 {
		c.userName, c.user, c.vs = "", nil, nil
		c.send(replyUserTooLong)
		return false
	}
	// Always 331, whether the user exists or not (RFC 2577 §5).
	c.userName, c.user, c.vs = arg, nil, nil
	c.send(replyUserOK)
	return false
}

func (c *session) cmdPASS(arg string) bool {
	if c.userName == "" {
		c.send(replyUserRequired)
		return false
	}
	if c.user != nil {
		c.send(replyLoginComplete)
		return false
	}
	if len(arg) > 128 {
		c.send(replyPassTooLong)
		return false
	}
	s := c.srv
	// One guess at a time per source, from the ban check to the scoring.
	unlock := s.def.Serialize(c.peerIP)
	if _, banned := s.def.Banned(c.peerIP); banned {
		unlock()
		// Banned meanwhile (by this connection or another one): the
		// password is not even evaluated.
		c.log.Warn("login from a banned source refused")
		c.refuse(capital(policy.ErrSourceBanned.Error()) + ".")
		return true
	}
	u, err := s.pol().CheckPassword(c.userName, arg)
	if err != nil && s.pol().FTP.Anonymous && (strings.EqualFold(c.userName, "anonymous") || strings.EqualFold(c.userName, "ftp")) {
		u, err = &policy.User{Name: "anonymous", Level: policy.Viewer}, nil
	}
	if err != nil {
		c.failures++
		s.count(func(st *stats) { st.failedLogins++ })
		s.audit.Info("login failed", "user", c.userName, "remote_addr", c.remote, "method", "ftp-password")
		ev := policy.EventPassword
		if s.pol().User(c.userName) == nil {
			ev = policy.EventUnknownUser
		}
		c.scored = true
		banned := s.def.Add(c.peerIP, ev)
		unlock()
		time.Sleep(s.pol().Limits.LoginFailDelay)
		c.send(replyLoginRefused)
		switch {
		case banned:
			c.refuse(capital(policy.ErrSourceBanned.Error()) + ".")
			return true
		case c.failures >= s.pol().FTP.MaxLoginFailures:
			c.log.Warn("too many failed logins; closing", "failures", c.failures)
			c.refuse(whyFailures) // D21
			return true
		}
		return false
	}
	unlock()
	// The session limit applies from the login on: connections that never
	// log in cannot take its slots.
	release, err := s.sessions.Acquire(c.peerIP.String())
	if err != nil {
		n, max := s.sessions.Active()
		c.log.Warn("session refused", "reason", err)
		s.count(func(st *stats) { st.refused++ })
		c.scored = true
		s.def.Add(c.peerIP, policy.EventLimit)
		c.refuse(fmt.Sprintf("%s (%d of %d sessions in use); try again later.", capital(err.Error()), n, max))
		return true
	}
	c.releaseSess = release
	c.releasePre()
	c.releasePre, c.loginBy = nil, time.Time{}
	c.user = u
	c.vs = &vfs.Session{User: u, ID: "ftp-" + c.id, Remote: c.remote, Text: auditText}
	c.vsEnded = false
	c.mu.Lock()
	c.whoName = u.Name
	c.mu.Unlock()
	c.loggedAt = time.Now()
	c.resetSettings()
	c.cwd = loginDir(s.pol().FTP.DefaultFS, c.checks(), u, s.pol().HasMount)
	s.count(func(st *stats) { st.logins++ })
	s.audit.Info("login", "user", u.Name, "session", c.vs.ID, "remote_addr", c.remote, "method", "ftp-password",
		"tls", c.tlsOn)
	s.audit.Info("session start", "user", u.Name, "session", c.vs.ID, "remote_addr", c.remote)
	var lines []string
	for _, l := range c.motd() {
		lines = append(lines, line1(replyMOTDLine, l))
	}
	if u.Name == "anonymous" && u.PasswordHash == "" {
		lines = append(lines, string(replyLoginComplete))
	} else {
		lines = append(lines, string(replyLoginOK))
	}
	c.sendLines(lines...)
	return false
}

// motd reads the optional MOTD file (mTCP) as 230- lines, bounded.
func (c *session) motd() []string {
	p := c.srv.pol().FTP.MOTD
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
	if c.user == nil {
		// TEST mode needs a login first (manual §3.3); PASS would clear it.
		c.send(replyAcctNotUsed)
		return false
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TEST0":
		c.testFS, c.cwd = "tst", "tst"
	case "TEST1":
		c.testFS, c.cwd = "ts1", "ts1"
	default:
		c.send(replyAcctNotUsed)
		return false
	}
	// TEST mode behaves as a standard server: DIRECT ON (manual §3.5).
	c.direct = true
	c.send(replyTestEnabled)
	return false
}

func (c *session) cmdREIN(string) bool {
	c.endSession("rein")
	// The failures stay: REIN must not buy new guesses.
	c.userName, c.user, c.vs = "", nil, nil
	if c.releaseSess != nil {
		// Logged out: back to the pre-authentication budget and a new
		// login deadline.
		c.releaseSess()
		c.releaseSess = nil
		release, err := c.srv.budget.Admit(c.peerIP)
		if err != nil {
			c.refuse(capital(err.Error()) + ".")
			return true
		}
		c.releasePre, c.loginBy = release, time.Now().Add(c.srv.pol().Limits.LoginGraceTime)
	}
	c.mu.Lock()
	c.whoName = ""
	c.mu.Unlock()
	c.resetSettings()
	c.send(replyReinOK)
	return false
}

func (c *session) cmdQUIT(string) bool {
	c.endSession("quit")
	c.send(replyGoodbye)
	return true
}

func (c *session) cmdNOOP(string) bool { c.send(replyNoopOK); return false }

func (c *session) cmdSYST(string) bool {
	if c.systMode == "msdos" {
		c.send(replySystMSDOS)
	} else {
		c.send(replySystUnix)
	}
	return false
}

func (c *session) cmdHELP(arg string) bool {
	arg = strings.ToUpper(strings.TrimSpace(arg))
	if arg == "" {
		verbs := append([]string(nil), helpVerbs...)
		sort.Strings(verbs)
		lines := []string{string(replyHelpGeneralFirst)}
		for i := 0; i < len(verbs); i += 14 {
			lines = append(lines, line1(replyHelpGeneralLine, strings.Join(verbs[i:min(i+14, len(verbs))], " ")))
		}
		c.sendLines(append(lines, string(replyHelpGeneralLast))...)
		return false
	}
	sp, ok := lookup(arg)
	switch {
	case !ok:
		c.send(replyHelpUnknown)
	case sp.help == "":
		c.send(replyHelpNotImpl)
	default:
		c.send(replyHelpSyntax, arg, sp.help)
	}
	return false
}

func (c *session) cmdFEAT(string) bool {
	lines := []string{string(replyFeatFirst)}
	if c.srv.cfg.TLS != nil {
		lines = append(lines, string(replyFeatAuthTLS), string(replyFeatPBSZ), string(replyFeatPROT))
	}
	lines = append(lines, string(replyFeatMDTM), string(replyFeatRestStream), string(replyFeatSIZE),
		string(replyFeatXCRC), string(replyFeatXMD5), line1(replyFeatMLST, c.mlstFeat()), string(replyFeatUTF8),
		string(replyFeatMFMT), string(replyFeatLast))
	c.sendLines(lines...)
	return false
}

func (c *session) cmdALLO(string) bool {
	c.send(replyAllo)
	return false
}

func (c *session) cmdNotImplemented(string) bool {
	c.send(replyNotImplemented)
	return false
}

// --- Transfer parameters (manual §1.4.2) ---

func (c *session) cmdTYPE(arg string) bool {
	f := strings.Fields(strings.ToUpper(arg))
	if len(f) == 0 {
		c.send(replyTypeArg)
		return false
	}
	switch f[0] {
	case "A":
		switch {
		case len(f) == 1 || f[1] == "N":
			c.ascii = true
			c.send(replyTypeASCII)
		case f[1] == "T":
			c.ascii = true
			c.send(replyTypeASCIITelnt)
		case f[1] == "C":
			c.send(replyTypeCarriage)
		default:
			c.send(replyTypeASCIIFmt)
		}
	case "I":
		c.ascii = false
		c.send(replyTypeImage)
	case "L":
		if len(f) == 2 && f[1] == "8" {
			c.ascii = false
			c.send(replyTypeLocal8)
		} else {
			c.send(replyTypeLocalSize)
		}
	case "E":
		c.send(replyTypeEBCDIC)
	default:
		c.send(replyTypeFormat)
	}
	return false
}

// cmdMODE and cmdSTRU only accept stream mode and file structure; the
// manual gives a reply for every other value.
func (c *session) cmdMODE(arg string) bool {
	c.answer(arg, replyModeArg, replyModeFormat,
		map[string]reply{"S": replyModeStream, "B": replyModeBlock, "C": replyModeCompressed})
	return false
}

func (c *session) cmdSTRU(arg string) bool {
	c.answer(arg, replyStruArg, replyStruFormat,
		map[string]reply{"F": replyStruFile, "R": replyStruRecord, "P": replyStruPage})
	return false
}

// answer sends the reply a one-word argument selects: none for an empty
// argument, unknown for a word not in the table.
func (c *session) answer(arg string, none, unknown reply, table map[string]reply) {
	w := strings.ToUpper(strings.TrimSpace(arg))
	r, ok := table[w]
	switch {
	case w == "":
		r = none
	case !ok:
		r = unknown
	}
	c.send(r)
}

func (c *session) cmdREST(arg string) bool {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		c.send(replyNotImplParam) // D19
		return false
	}
	c.rest = n
	if n == 0 {
		c.send(replyRestZero)
	} else {
		c.send(replyRestOK, n)
	}
	return false
}

// --- Navigation (manual §1.4.2–1.4.3): file systems are directories ---

func (c *session) cmdPWD(string) bool {
	c.send(replyPwd, "/"+c.cwd)
	return false
}

func (c *session) cmdCWD(arg string) bool {
	arg = strings.TrimSpace(arg)
	switch arg {
	case "":
		c.send(replyCwdNoPath)
		return false
	case ".":
		c.send(replyCwdCurrentDir)
		return false
	}
	p := path.Clean("/" + c.cwd + "/" + arg)
	if strings.HasPrefix(arg, "/") {
		p = path.Clean(arg)
	} else if c.cwd != "" && strings.Count(p, "/") > 1 {
		// File systems are flat, so a relative name inside one is never a
		// directory: a bare file-system name means that file system from
		// anywhere (CWD bio from /dsk; curl's ftp://host/dsk/file after a
		// login in /dsk).
		if q := path.Clean("/" + arg); strings.Count(q, "/") == 1 {
			p = q
		}
	}
	fs, below, ok := c.cwdTarget(p)
	if !ok {
		c.send(replyInvalidPath)
		return false
	}
	if fs == "nul" { // the manual's name for the root
		fs = ""
	}
	if c.testFS != "" && fs != c.testFS {
		c.send(replyCwdTestMode)
		return false
	}
	switch {
	case below:
		// Below a file system: there are no directories there (docs/ftp.md §6).
		c.send(replyCwdNotAvail)
		return false
	case fs == "":
		c.cwd = ""
		c.send(replyCwdRootDir)
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, "/"+fs); err != nil {
		c.send(replyCwdNotAvail)
		return false
	}
	c.cwd = fs
	c.send(replyCwdOK)
	return false
}

// cwdTarget splits a cleaned absolute CWD path into its file system and
// whether it goes below one (a file, or a directory that cannot exist). ok
// is false for a name no path may hold: control characters, "\", an
// over-long or non-ASCII file-system name.
func (c *session) cwdTarget(p string) (fs string, below, ok bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	fs, _, err := vfs.Split("/"+segs[0], c.srv.pol().Names.MaxLen)
	if err != nil || len(segs[0]) > c.srv.pol().Names.MaxLen {
		return "", false, false
	}
	for _, s := range segs[1:] {
		if err := vfs.ValidateName(s, c.srv.pol().Names.MaxLen); err != nil {
			return "", false, false
		}
	}
	return fs, len(segs) > 1, true
}

func (c *session) cmdCDUP(string) bool {
	if c.cwd == "" {
		c.send(replyCdupTop)
		return false
	}
	if c.testFS != "" {
		c.send(replyCwdTestMode)
		return false
	}
	c.cwd = ""
	c.send(replyCdupOK)
	return false
}

func (c *session) cmdSMNT(arg string) bool {
	fs := strings.ToLower(strings.Trim(strings.TrimSpace(arg), "/"))
	if fs == "nul" { // the manual's root (docs/ftp.md §6)
		if c.testFS != "" {
			c.send(replySiteFSTestMode)
			return false
		}
		c.cwd = ""
		c.send(replySmntOK)
		return false
	}
	if fs == "" || strings.Contains(fs, "/") || !slices.Contains(fileSystems, fs) {
		c.send(replySmntUnknown)
		return false
	}
	if !c.srv.pol().HasMount(fs) {
		// Known to the manual, but this device has no such mount.
		c.send(replySmntNotAvail)
		return false
	}
	if c.testFS != "" && fs != c.testFS {
		c.send(replySiteFSTestMode)
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, "/"+fs); err != nil {
		c.send(replySmntNotAvail)
		return false
	}
	c.cwd = fs
	c.send(replySmntOK)
	return false
}

// resolve turns a file argument into a device path in the current file
// system (or an absolute one). In TEST mode only the test file system is
// reachable.
func (c *session) resolve(arg string) (string, bool) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		c.send(replyInvalidName)
		return "", false
	}
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = "/" + c.cwd + "/" + p
	}
	p = path.Clean(p)
	fs, _, err := vfs.Split(p, c.srv.pol().Names.MaxLen)
	if err != nil {
		c.sendLines(ftpStatus(opRetr, err))
		return "", false
	}
	if c.testFS != "" && fs != c.testFS {
		// RETR, STOR and the others list "501 Invalid pathname." (§1.4.3);
		// "File system not allowed in test mode." is SITE's and SMNT's.
		c.send(replyInvalidPath)
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
		c.sendLines(ftpStatus(opDele, err))
		return false
	}
	c.send(replyDeleOK)
	return false
}

func (c *session) cmdRNFR(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	if _, err := c.srv.cfg.Store.Stat(c.vs, p); err != nil {
		c.sendLines(ftpStatus(opRnfr, err))
		return false
	}
	c.rnfr = p
	c.send(replyRnfrOK)
	return false
}

func (c *session) cmdRNTO(arg string) bool {
	from := c.rnfr
	c.rnfr = ""
	if from == "" {
		c.send(replyRntoSequence)
		return false
	}
	to, ok := c.resolve(arg)
	if !ok {
		return false
	}
	if _, err := c.srv.cfg.Store.Rename(c.vs, from, to); err != nil {
		c.log.Debug("RNTO refused", "from", from, "to", to, "error", err)
		c.sendLines(ftpStatus(opRnto, err))
		return false
	}
	c.send(replyRntoOK)
	return false
}

func (c *session) cmdSIZE(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	i, err := c.srv.cfg.Store.Stat(c.vs, p)
	if err != nil || i.IsDir {
		c.send(replyNotFound)
		return false
	}
	c.send(replySize, i.Size)
	return false
}

func (c *session) cmdMDTM(arg string) bool {
	p, ok := c.resolve(arg)
	if !ok {
		return false
	}
	i, err := c.srv.cfg.Store.Stat(c.vs, p)
	if err != nil || i.IsDir {
		c.send(replyNotFound)
		return false
	}
	c.send(replyMdtm, i.ModTime.UTC().Format("20060102150405"))
	return false
}

func (c *session) cmdXCRC(arg string) bool {
	return c.checksum(arg, crc32.NewIEEE(), func(sum []byte) string {
		return line1(replyXcrc, binary.BigEndian.Uint32(sum))
	})
}

func (c *session) cmdXMD5(arg string) bool {
	return c.checksum(arg, md5.New(), func(sum []byte) string { return line1(replyXmd5, sum) })
}

// checksum serves XCRC and XMD5: [["name"] [offset [length]]] over the
// named file (or the last file transferred, when no name is given).
func (c *session) checksum(arg string, h hash.Hash, format func([]byte) string) bool {
	name, off, length, hasLen, err := parseCRCArgs(arg)
	if err != nil {
		c.send(replyInvalidName)
		return false
	}
	if name == "" {
		// No name: the last file transferred (D15).
		c.mu.Lock()
		name = c.lastFile
		c.mu.Unlock()
	}
	p, ok := c.resolve(name)
	if !ok {
		return false
	}
	r, err := c.srv.cfg.Store.OpenRead(c.vs, p)
	if err != nil {
		c.sendLines(ftpStatus(opRetr, err)) // XCRC/XMD5: "550 Unable to open file."
		return false
	}
	defer r.Close()
	if off > r.Size() {
		c.send(replyCrcOffsetEOF)
		return false
	}
	if !hasLen {
		length = r.Size() - off
	}
	if length > r.Size()-off {
		c.send(replyCrcSizeEOF)
		return false
	}
	if _, err := io.Copy(h, io.NewSectionReader(r, off, length)); err != nil {
		c.send(replyReadError)
		return false
	}
	c.sendLines(format(h.Sum(nil)))
	return false
}

// sortedInfos sorts a listing by name.
func sortedInfos(l []vfs.Info) []vfs.Info {
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

// loginDir is the file system a login starts in: the configured default;
// with none (the root, NUL) and CHECK SYSTEM on, the first file system the
// user sees in the manual's order (§2.1.4.12, §3.8), so that the manual's
// sequence (log in, STOR, SITE SAVEBUFFER) commits to the disk as written
// (DESIGN §6). A file system the user may not see is never the start.
// fileSystems are the file systems a device may have, in the manual's
// order (§2.1.4.12, §3.8): the host ones only when mounted.
var fileSystems = []string{"dsk", "fda", "smc", "fco", "bio", "mem", "tst", "ts1"}

func loginDir(def string, on image.Check, u *policy.User, mounted func(string) bool) string {
	if def != "" {
		if u.Sees(def) {
			return def
		}
		return ""
	}
	if on&image.CheckSystem == 0 {
		return ""
	}
	for _, fs := range fileSystems {
		if mounted(fs) && u.Sees(fs) {
			return fs
		}
	}
	return ""
}
