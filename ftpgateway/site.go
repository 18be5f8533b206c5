package ftpgateway

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/vfs"
)

// deviceInfo is what SITE's device-information commands read; the vfs
// tree provides it.
type deviceInfo interface {
	Checks() image.Check
	Device() image.Device
	ActiveApp() (string, []image.FirmwareReq, bool)
	FreeSpace(s *vfs.Session, fs string) (int64, error)
	Coherence(s *vfs.Session) ([]vfs.CoherenceLine, bool, error)
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// parseOnOff reads "ON"/"OFF".
func parseOnOff(s string) (bool, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ON":
		return true, true
	case "OFF":
		return false, true
	}
	return false, false
}

// siteFileOps are the SITE subcommands that are file operations: the
// shared policy decides them for every logged-in user (docs/ftp.md §2).
var siteFileOps = map[string]bool{"STATBUFFER": true, "STOREDEVICE": true, "GETFILEVER": true,
	"CLEARBUFFER": true, "SAVEBUFFER": true}

// siteTestRefused are the risky SITE commands TEST mode refuses (D16).
var siteTestRefused = map[string]bool{"SAVEBUFFER": true, "CLEARBUFFER": true, "BACKUP": true,
	"COHERENCE": true, "DIRECT": true, "RELOAD": true}

// cmdSITE runs the manual's chapter 3 commands and mTCP's WHO, STATS,
// DISKFREE and HELP. SITE is §1.4.3 (supervisor); see siteFileOps.
func (c *session) cmdSITE(arg string) bool {
	sub, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	sub, rest = strings.ToUpper(sub), strings.TrimSpace(rest)
	lvl, known := commandLevels["SITE "+sub]
	if !known {
		lvl = accessSupervisor
	}
	if lvl == accessSupervisor && !siteFileOps[sub] && !c.user.IsSupervisor() {
		c.srv.audit.Warn("refused", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote,
			"op", "SITE "+sub, "kind", "denied", "error", "supervisor only", "text", string(replyNotLoggedIn))
		c.send(replyNotLoggedIn)
		return false
	}
	if c.testFS != "" && siteTestRefused[sub] {
		c.send(replySiteDTPCannot)
		return false
	}
	switch sub {
	case "DIRECT", "REPLY", "IMMEDIATE", "KEEPALIVE", "RELOAD", "COMPATIBLE":
		c.siteMode(sub, rest)
	case "SYSTMODE":
		switch strings.ToUpper(rest) {
		case "UNIX":
			c.systMode = "unix"
		case "MSDOS", "MS-DOS":
			c.systMode = "msdos"
		default:
			c.send(replySiteSystmodeBad)
			return false
		}
		c.send(replySiteSystmodeOK, strings.ToUpper(c.systMode))
	case "CHECK":
		c.siteCheck(rest)
	case "SAVEBUFFER":
		c.siteSaveBuffer(rest)
	case "STATBUFFER":
		st := c.srv.cfg.Store.BufferStats()
		name := ""
		if i, ok := c.stagedFile(); ok {
			name = i.Name
			if i.Incomplete {
				name += " (incomplete)"
			}
		}
		c.send(replyBufferStatus, st.Max, st.Req, st.Busy, name)
	case "CLEARBUFFER":
		i, ok := c.stagedFile()
		if !ok {
			c.send(replyBufferNone)
			return false
		}
		if err := c.srv.cfg.Store.Remove(c.vs, i.Path); err != nil {
			c.send(replyBufferLocked)
			return false
		}
		c.send(replyBufferCleared)
	case "STOREDEVICE":
		fs := c.cwd
		if !c.srv.cfg.Store.Permanent(fs) {
			// "/", mem and the sinks are no SAVEBUFFER target.
			c.send(replySaveTargetBad)
			return false
		}
		c.send(replyStoreDevice, fsLabel(fs), onOff(c.direct))
	case "BACKUP":
		c.siteBackup()
	case "COHERENCE":
		c.siteCoherence()
	case "GETAPPNAME":
		if name, _, ok := c.info().ActiveApp(); ok {
			c.send(replyAppName, name)
		} else {
			c.send(replySiteInfoNA504)
		}
	case "GETCFGNAME":
		if name, ok := c.configName(); ok {
			c.send(replyAppName, name)
		} else {
			c.send(replySiteInfoNA504)
		}
	case "GETBIOSVER":
		c.send(replyBIOSVer, c.info().Device().BIOSVersion.String())
	case "GETFILEVER":
		c.siteFileVersion(rest)
	case "GETHDWLVL":
		d := c.info().Device()
		bios := d.BIOSHWLevel
		if bios == 0 {
			bios = d.HWLevel
		}
		c.sendLines(line1(replyHwLevelBIOS, bios), line1(replyHwLevelAppl, d.HWLevel))
	case "LISTFIRMWARES":
		_, fw, ok := c.info().ActiveApp()
		if !ok {
			c.send(replySiteInfoNA504)
			return false
		}
		if len(fw) == 0 {
			c.send(replyFirmwaresNone)
			return false
		}
		names := make([]string, len(fw))
		for i, f := range fw {
			names[i] = f.Name
		}
		c.send(replyFirmwares, strings.Join(names, ";"))
	case "SYSTID":
		if id := c.info().Device().SystemID; id != "" {
			c.send(replySystID, id)
		} else {
			c.send(replySystIDUnknown)
		}
	case "SAVESLAVES":
		c.send(replyFeatureAbsent)
	case "WHO":
		c.siteWho()
	case "STATS":
		c.siteStats()
	case "DISKFREE":
		c.siteDiskFree(rest)
	case "HELP":
		c.siteHelp(rest)
	default:
		c.send(replySiteUnknown)
	}
	return false
}

func fsLabel(fs string) string {
	if fs == "" {
		return "NUL"
	}
	return strings.ToUpper(fs)
}

func (c *session) info() deviceInfo {
	if d, ok := c.srv.cfg.Store.(deviceInfo); ok {
		return d
	}
	return noInfo{}
}

// noInfo answers for a store without device information.
type noInfo struct{}

func (noInfo) Checks() image.Check                            { return 0 }
func (noInfo) Device() image.Device                           { return image.Device{} }
func (noInfo) ActiveApp() (string, []image.FirmwareReq, bool) { return "", nil, false }
func (noInfo) FreeSpace(*vfs.Session, string) (int64, error)  { return 0, os.ErrNotExist }
func (noInfo) Coherence(*vfs.Session) ([]vfs.CoherenceLine, bool, error) {
	return []vfs.CoherenceLine{{Text: "No active application"}}, false, nil
}

func (c *session) siteMode(sub, arg string) {
	v, ok := parseOnOff(arg)
	if !ok {
		c.send(map[string]reply{"DIRECT": replySiteDirectBad, "REPLY": replySiteReplyBad,
			"IMMEDIATE": replySiteImmediateBad, "KEEPALIVE": replySiteKeepaliveBad, "RELOAD": replySiteReloadBad,
			"COMPATIBLE": replySiteCompatibleBad}[sub])
		return
	}
	switch sub {
	case "DIRECT":
		if !v && c.testFS != "" {
			c.send(replySiteFSTestMode)
			return
		}
		c.direct = v
		c.send(replySiteDirectOK, onOff(v))
	case "REPLY":
		c.reply119 = v
		c.send(replySiteReplyOK, onOff(v))
	case "IMMEDIATE":
		c.imm = v
		c.send(replySiteImmediateOK, onOff(v))
	case "KEEPALIVE":
		c.keepOn = v
		c.send(replySiteKeepaliveOK, onOff(v))
	case "RELOAD":
		if v && c.srv.cfg.Reload == nil {
			c.send(replyFeatureAbsent)
			return
		}
		if v && c.srv.cfg.ReloadReady != nil {
			if err := c.srv.cfg.ReloadReady(); err != nil {
				c.log.Warn("SITE RELOAD ON: the reload command cannot run", "error", err)
				c.send(replySiteCreateOrder)
				return
			}
		}
		c.reload = v
		if v {
			c.srv.audit.Info("reload ordered", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote)
		}
		c.send(replySiteReloadOK, onOff(v))
	case "COMPATIBLE":
		// Obsolete (manual §3.7): since 10.6.69 it switches only what
		// SITE CHECK's PATH, CRC, LENGTH and RENAME do not (D23).
		const compat = image.CheckBIOS | image.CheckDelete | image.CheckFirmware | image.CheckSystem | image.CheckVersion
		on := c.checks()
		if v {
			on |= compat
		} else {
			on &^= compat
		}
		c.setChecks(on, "SITE COMPATIBLE "+onOff(v))
		c.send(replySiteCompatibleOK, onOff(v))
	}
}

// checks returns the checks in force for this session.
func (c *session) checks() image.Check {
	if c.vs != nil && c.vs.Checks != nil {
		return *c.vs.Checks
	}
	return c.info().Checks()
}

func (c *session) siteCheck(arg string) {
	f := strings.Fields(arg)
	if len(f) == 0 {
		c.send(replySiteCheckBad)
		return
	}
	if len(f) == 1 {
		if ck, err := image.ParseChecks(f); err == nil && ck != 0 {
			c.send(replySiteCheckModeBad, strings.ToUpper(f[0]))
		} else {
			c.send(replySiteCheckBad)
		}
		return
	}
	name := strings.Join(f[:len(f)-1], "-") // "HW SUPPORTED" → "HW-SUPPORTED"
	v, ok := parseOnOff(f[len(f)-1])
	ck, err := image.ParseChecks([]string{name})
	// SIGNATURE is not switchable from FTP: a stolen supervisor password
	// must not turn signature verification off (D3).
	ck &^= image.CheckSignature
	if err != nil || ck == 0 {
		c.send(replySiteCheckBad)
		return
	}
	if !ok {
		c.send(replySiteCheckModeBad, strings.ToUpper(name))
		return
	}
	on := c.checks()
	if v {
		on |= ck
	} else {
		on &^= ck
	}
	c.setChecks(on, "SITE CHECK "+strings.ToUpper(name)+" "+onOff(v))
	c.send(replySiteCheckOK, strings.ToUpper(name), onOff(v))
}

// setChecks makes on the session's checks and audits the change: who,
// the command, the new set and the one it replaces.
func (c *session) setChecks(on image.Check, by string) {
	old := c.checks()
	c.vs.Checks = &on
	c.srv.audit.Info("checks changed", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote,
		"command", by, "checks", on.String(), "previous", old.String())
}

// stagedFile is the user's newest staged file (DESIGN §3: STATBUFFER,
// SAVEBUFFER and CLEARBUFFER act on it from any of the user's
// connections).
func (c *session) stagedFile() (vfs.Staged, bool) {
	if c.vs == nil {
		return vfs.Staged{}, false
	}
	return c.srv.cfg.Store.Staged(c.vs)
}

// siteSaveBuffer commits the session's staged file to a file system (the
// current one by default) through the verified commit (manual §3.5).
func (c *session) siteSaveBuffer(arg string) {
	i, ok := c.stagedFile()
	if !ok {
		c.send(replyBufferNone)
		return
	}
	if i.Size == 0 {
		c.send(replyBufferEmpty)
		return
	}
	if i.Writing {
		c.send(replyBufferLocked)
		return
	}
	if i.Incomplete {
		c.send(replyBufferIncomplete)
		return
	}
	fs := strings.ToLower(strings.Trim(arg, "/ "))
	if fs == "" {
		fs = c.cwd
	}
	if fs != "" && !c.srv.pol().HasMount(fs) {
		c.send(replySmntUnknown)
		return
	}
	if !c.srv.cfg.Store.Permanent(fs) {
		c.send(replySaveTargetBad)
		return
	}
	if c.reply119 {
		c.send(replySaveProgress)
	}
	commit := c.srv.cfg.Store.Rename
	if c.checks()&image.CheckDelete == 0 {
		commit = c.srv.cfg.Store.Copy // CHECK DELETE off: the staged file stays (D22)
	}
	if _, err := commit(c.vs, i.Path, "/"+fs+"/"+i.Name); err != nil {
		c.log.Info("SAVEBUFFER refused", "name", i.Name, "fs", fs, "error", err)
		c.sendLines(ftpStatus(opStor, err))
		return
	}
	c.send(replySaveOK)
}

// siteBackup copies the active file system to the configured reserve
// (manual §3.4), each file atomically.
func (c *session) siteBackup() {
	dir := c.srv.pol().FTP.BackupDir
	if dir == "" {
		c.send(replyFeatureAbsent)
		return
	}
	fs := c.cwd
	if !c.srv.cfg.Store.Permanent(fs) {
		c.send(replySmntNotAvail)
		return
	}
	if c.reply119 {
		c.send(replyBackupProgress)
	}
	if err := c.backup(fs, filepath.Join(dir, fs)); err != nil {
		c.log.Warn("backup failed", "fs", fs, "error", err)
		c.send(replyBackupFailed)
		return
	}
	c.srv.audit.Info("backup", "user", c.user.Name, "session", c.vs.ID, "remote_addr", c.remote, "fs", fs, "target", dir)
	c.send(replyBackupOK)
}

func (c *session) backup(fs, dst string) error {
	return c.srv.cfg.Store.Backup(c.vs, fs, dst)
}

// siteCoherence checks whether the device can boot with what is stored
// (manual §3.6, vfs.FS.Coherence): the active application in /dsk, each
// firmware it requires, and the known files in /bio, one line each with
// the manual's text for what is wrong. 211 when all are good, 550 with
// the findings otherwise.
func (c *session) siteCoherence() {
	lines, good, err := c.info().Coherence(c.vs)
	if errors.Is(err, vfs.ErrCoherenceBusy) {
		c.send(replyCoherenceBusy)
		return
	}
	if c.reply119 {
		c.send(replyCoherenceProgress)
	}
	first, last := replyCoherenceBadFirst, replyCoherenceBadLast
	if good && err == nil {
		first, last = replyCoherenceOKFirst, replyCoherenceOKLast
	}
	out := []string{string(first)}
	for _, l := range lines {
		if l.Name == "" {
			out = append(out, " "+l.Text)
		} else {
			out = append(out, fmt.Sprintf(string(replyCoherenceLine), l.Name, l.Text))
		}
	}
	c.sendLines(append(out, string(last))...)
}

// configName is the configuration file used to boot: the first .CFG file
// of /dsk.
func (c *session) configName() (string, bool) {
	infos, err := c.srv.cfg.Store.List(c.vs, "/dsk")
	if err != nil {
		return "", false
	}
	for _, i := range sortedInfos(infos) {
		if strings.EqualFold(path.Ext(i.Name), ".cfg") {
			return i.Name, true
		}
	}
	return "", false
}

func (c *session) siteFileVersion(arg string) {
	p, ok := c.resolve(strings.Trim(arg, `"`))
	if !ok {
		return
	}
	r, err := c.srv.cfg.Store.OpenRead(c.vs, p)
	if err != nil {
		c.send(replyOpenFailed)
		return
	}
	defer r.Close()
	if r.Size() < image.HeaderSize {
		c.send(replySiteFileTooShort)
		return
	}
	im, err := image.Parse(r, r.Size())
	var pe *image.ParseError
	switch {
	case errors.As(err, &pe):
		c.send(replySiteInfoNA530) // not an image (D24)
		return
	case err != nil:
		c.send(replySiteReadFailed)
		return
	}
	c.send(replyFileVer, im.Version.String())
}

// siteWho lists the connected sessions (mTCP SITE WHO).
func (c *session) siteWho() {
	n, max := c.srv.sessions.Active()
	c.srv.mu.Lock()
	var lines []string
	for s := range c.srv.clients {
		who, cwd, state := "-", "/", "idle"
		if s == c {
			who, cwd = c.user.Name, "/"+c.cwd
		} else if u := s.whoUser(); u != "" {
			who = u
		}
		if s.busyVerb() != "" {
			state = s.busyVerb()
		}
		lines = append(lines, line1(replyWhoLine, who, s.remote, cwd, state))
	}
	c.srv.mu.Unlock()
	sort.Strings(lines)
	lines = append(lines, c.banLines()...)
	c.sendLines(append(append([]string{line1(replyWhoFirst, n, max)}, lines...), string(replyInfoLast))...)
}

// banLines lists the banned sources, for a supervisor only.
func (c *session) banLines() []string {
	if c.user == nil || !c.user.IsSupervisor() {
		return nil
	}
	var lines []string
	for _, b := range c.srv.def.Bans() {
		lines = append(lines, line1(replyBanLine, b.Source, b.Until.UTC().Format(time.RFC3339), b.Count, b.Reason))
	}
	return lines
}

// whoUser and busyVerb read another session's state for SITE WHO.
func (c *session) whoUser() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.whoName
}

func (c *session) busyVerb() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.xfer != nil {
		return c.xfer.verb
	}
	return ""
}

// siteStats reports the server's counters (mTCP SITE STATS).
func (c *session) siteStats() {
	c.srv.mu.Lock()
	st := c.srv.stats
	c.srv.mu.Unlock()
	n, _ := c.srv.sessions.Active()
	lines := []string{
		line1(replyStatsFirst, c.srv.started.UTC().Format(time.RFC3339)),
		line1(replyStatsConns, st.sessions, n, st.refused),
		line1(replyStatsLogins, st.logins, st.failedLogins),
		line1(replyStatsFiles, st.filesReceived, st.filesSent),
		line1(replyStatsBytes, st.bytesReceived, st.bytesSent)}
	if bans := c.banLines(); c.user.IsSupervisor() {
		lines = append(append(lines, line1(replyStatsBans, len(bans))), bans...)
	}
	c.sendLines(append(lines, string(replyInfoLast))...)
}

// siteDiskFree reports the free space of a file system (mTCP SITE
// DISKFREE), the current one by default.
func (c *session) siteDiskFree(arg string) {
	fs := strings.ToLower(strings.Trim(arg, "/ "))
	if fs == "" {
		fs = c.cwd
	}
	if fs == "" || !c.srv.pol().HasMount(fs) {
		c.send(replySmntUnknown)
		return
	}
	if fs == "tst" || fs == "ts1" {
		c.send(replySiteDiskNotAvail)
		return
	}
	n, err := c.info().FreeSpace(c.vs, fs)
	if err != nil {
		c.send(replySiteNoFreeSpace)
		return
	}
	c.send(replyDiskFree, fs, n)
}

// siteHelp lists the SITE commands, or one's syntax.
func (c *session) siteHelp(arg string) {
	arg = strings.ToUpper(strings.TrimSpace(arg))
	if arg != "" {
		if syn, ok := siteSyntax[arg]; ok {
			c.send(replySiteHelpCmdSyntax, arg, syn)
		} else {
			c.send(replyHelpUnknown)
		}
		return
	}
	names := make([]string, 0, len(siteSyntax))
	for n := range siteSyntax {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := []string{string(replySiteHelpFirst)}
	for i := 0; i < len(names); i += 8 {
		lines = append(lines, line1(replyHelpGeneralLine, strings.Join(names[i:min(i+8, len(names))], " ")))
	}
	c.sendLines(append(lines, string(replySiteHelpLast))...)
}

var siteSyntax = map[string]string{
	"BACKUP": helpSyntaxSiteBACKUP, "CHECK": helpSyntaxSiteCHECK, "CLEARBUFFER": helpSyntaxSiteCLEARBUFFER,
	"COHERENCE": helpSyntaxSiteCOHERENCE, "COMPATIBLE": helpSyntaxSiteCOMPATIBLE, "DIRECT": helpSyntaxSiteDIRECT,
	"DISKFREE": helpSyntaxSiteDISKFREE, "GETAPPNAME": helpSyntaxSiteGETAPPNAME, "GETBIOSVER": helpSyntaxSiteGETBIOSVER,
	"GETCFGNAME": helpSyntaxSiteGETCFGNAME, "GETFILEVER": helpSyntaxSiteGETFILEVER, "GETHDWLVL": helpSyntaxSiteGETHDWLVL,
	"HELP": helpSyntaxSiteHELP, "IMMEDIATE": helpSyntaxSiteIMMEDIATE, "KEEPALIVE": helpSyntaxSiteKEEPALIVE,
	"LISTFIRMWARES": helpSyntaxSiteLISTFIRMWARES, "RELOAD": helpSyntaxSiteRELOAD, "REPLY": helpSyntaxSiteREPLY,
	"SAVEBUFFER": helpSyntaxSiteSAVEBUFFER, "SAVESLAVES": helpSyntaxSiteSAVESLAVES, "STATBUFFER": helpSyntaxSiteSTATBUFFER,
	"STATS": helpSyntaxSiteSTATS, "STOREDEVICE": helpSyntaxSiteSTOREDEVICE, "SYSTID": helpSyntaxSiteSYSTID,
	"SYSTMODE": helpSyntaxSiteSYSTMODE, "WHO": helpSyntaxSiteWHO,
}

// cmdSTAT without a transfer: the manual's status fields (§1.4.1, D6) as
// one multi-line reply.
func (c *session) cmdSTAT(arg string) bool {
	if strings.TrimSpace(arg) != "" {
		c.send(replyNotImplParam) // D6: STAT with an argument
		return false
	}
	if c.user == nil {
		// Before the login STAT reveals no mode and no check.
		c.send(replyStatPreLogin, wordReady)
		return false
	}
	c.sendLines(c.statLines(nil)...)
	return false
}

// statLines are STAT's fields; t is the running transfer, if any.
func (c *session) statLines(t *transfer) []string {
	state := wordReady
	lines := []string{}
	if t != nil {
		state = wordBusy
	}
	lines = append(lines, line1(replyStatServer, state))
	if t != nil {
		lines = append(lines, line1(replyStatTransfer, t.verb, t.path, t.n.Load()))
	}
	_, staged := c.stagedFile()
	return append(lines,
		line1(replyStatDirect, onOff(c.direct)),
		line1(replyStatImmediate, onOff(c.imm)),
		line1(replyStatKeepalive, onOff(c.keepOn)),
		line1(replyStatReply, onOff(c.reply119)),
		line1(replyStatReload, onOff(c.reload)),
		line1(replyStatSavebuffer, onOff(staged && c.vs != nil)),
		line1(replyStatChecks, c.checks().Letters()))
}
