package ftpgateway

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluice/sluice/atomicfile"
	"github.com/sluice/sluice/image"
	"github.com/sluice/sluice/mem"
	"github.com/sluice/sluice/vfs"
)

// deviceInfo is what SITE's device-information commands read; the vfs
// tree provides it.
type deviceInfo interface {
	Checks() image.Check
	Device() image.Device
	ActiveApp() (string, []image.FirmwareReq, bool)
	FreeSpace(s *vfs.Session, fs string) (int64, error)
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

// cmdSITE runs the manual's chapter 3 commands and mTCP's WHO, STATS,
// DISKFREE and HELP. SITE is a supervisor command (manual §1.4.3).
func (c *session) cmdSITE(arg string) bool {
	if !c.user.IsSupervisor() {
		c.reply(530, "Access denied, not logged in.")
		return false
	}
	sub, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	sub, rest = strings.ToUpper(sub), strings.TrimSpace(rest)
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
			c.reply(500, "SITE SYSTMODE mode not recognized.")
			return false
		}
		c.replyf(200, "SYST is set to %s.", strings.ToUpper(c.systMode))
	case "CHECK":
		c.siteCheck(rest)
	case "SAVEBUFFER":
		c.siteSaveBuffer(rest)
	case "STATBUFFER":
		st := c.srv.cfg.Store.Mem().Stats()
		name := ""
		if i, ok := c.stagedFile(); ok {
			name = i.Name
		}
		c.replyf(211, "Buffer status: MAX-REQ-BUSY %d-%d-%d filename: \"%s\".", st.Max, st.Req, st.Busy, name)
	case "CLEARBUFFER":
		i, ok := c.stagedFile()
		if !ok {
			c.reply(503, "Temporal buffer is empty.")
			return false
		}
		if err := c.srv.cfg.Store.Remove(c.vs, "/mem/"+i.Name); err != nil {
			c.reply(503, "Temporal buffer is locked.")
			return false
		}
		c.reply(211, "Temporal buffer cleared and deallocated.")
	case "STOREDEVICE":
		fs := c.cwd
		if fs == "" || fs == "mem" || fs == "tst" || fs == "ts1" {
			c.replyf(211, "%s: is not a permanent storage device, direct mode is %s.", fsLabel(fs), onOff(c.direct))
			return false
		}
		c.replyf(211, "%s: is permanent storage device, direct mode is %s.", fsLabel(fs), onOff(c.direct))
	case "BACKUP":
		c.siteBackup()
	case "COHERENCE":
		c.siteCoherence()
	case "GETAPPNAME":
		if name, _, ok := c.info().ActiveApp(); ok {
			c.reply(204, name)
		} else {
			c.reply(504, "Info not available.")
		}
	case "GETCFGNAME":
		if name, ok := c.configName(); ok {
			c.reply(204, name)
		} else {
			c.reply(504, "Info not available.")
		}
	case "GETBIOSVER":
		c.reply(214, c.info().Device().BIOSVersion.String())
	case "GETFILEVER":
		c.siteFileVersion(rest)
	case "GETHDWLVL":
		d := c.info().Device()
		bios := d.BIOSHWLevel
		if bios == 0 {
			bios = d.HWLevel
		}
		c.replyLines(213, fmt.Sprintf("BIOS: %d", bios), nil, fmt.Sprintf("APPL: %d", d.HWLevel))
	case "LISTFIRMWARES":
		_, fw, ok := c.info().ActiveApp()
		if !ok || len(fw) == 0 {
			c.reply(200, "None")
			return false
		}
		names := make([]string, len(fw))
		for i, f := range fw {
			names[i] = f.Name
		}
		c.reply(211, strings.Join(names, ";"))
	case "SYSTID":
		if id := c.info().Device().SystemID; id != "" {
			c.reply(211, id)
		} else {
			c.reply(550, "Unknown")
		}
	case "SAVESLAVES":
		c.reply(504, "Feature not present.")
	case "WHO":
		c.siteWho()
	case "STATS":
		c.siteStats()
	case "DISKFREE":
		c.siteDiskFree(rest)
	case "HELP":
		c.replyLines(214, "SITE commands:", []string{
			"DIRECT ON|OFF, SAVEBUFFER [fs], STATBUFFER, CLEARBUFFER, STOREDEVICE",
			"CHECK <name>|ALL ON|OFF, COMPATIBLE ON|OFF, REPLY ON|OFF, RELOAD ON|OFF",
			"IMMEDIATE ON|OFF, KEEPALIVE ON|OFF, SYSTMODE UNIX|MSDOS",
			"BACKUP, COHERENCE, GETAPPNAME, GETCFGNAME, GETBIOSVER, GETFILEVER <file>",
			"GETHDWLVL, LISTFIRMWARES, SYSTID, SAVESLAVES, WHO, STATS, DISKFREE [fs], HELP",
		}, "End of SITE help.")
	default:
		c.reply(500, "SITE command not recognized.")
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

func (c *session) siteMode(sub, arg string) {
	v, ok := parseOnOff(arg)
	if !ok {
		c.replyf(500, "SITE %s mode not recognized.", sub)
		return
	}
	switch sub {
	case "DIRECT":
		if !v && c.testFS != "" {
			c.reply(501, "File system not allowed in test mode.")
			return
		}
		c.direct = v
		c.replyf(200, "DIRECT is set to %s.", onOff(v))
	case "REPLY":
		c.reply119 = v
		c.replyf(200, "REPLY mode is set to %s.", onOff(v))
	case "IMMEDIATE":
		c.imm = v
		c.replyf(200, "IMMEDIATE mode is set to %s.", onOff(v))
	case "KEEPALIVE":
		c.keepOn = v
		c.replyf(200, "KEEPALIVE mode is set to %s.", onOff(v))
	case "RELOAD":
		c.reload = v
		if v {
			c.srv.audit.Info("reload ordered", "user", c.user.Name, "remote_addr", c.remote)
		}
		c.replyf(200, "RELOAD mode is set to %s.", onOff(v))
	case "COMPATIBLE":
		// Obsolete (manual §3.7): its checks are SITE CHECK's now.
		c.replyf(200, "COMPATIBLE mode is set to %s", onOff(v))
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
	if len(f) < 2 {
		c.reply(500, "SITE CHECK control not recognized.")
		return
	}
	name := strings.Join(f[:len(f)-1], "-") // "HW SUPPORTED" → "HW-SUPPORTED"
	v, ok := parseOnOff(f[len(f)-1])
	ck, err := image.ParseChecks([]string{name})
	if err != nil || ck == 0 {
		c.reply(500, "SITE CHECK control not recognized.")
		return
	}
	if !ok {
		c.replyf(500, "SITE CHECK %s control mode not recognized.", strings.ToUpper(name))
		return
	}
	on := c.checks()
	if v {
		on |= ck
	} else {
		on &^= ck
	}
	c.vs.Checks = &on
	c.replyf(200, "CHECK %s control is set to %s.", strings.ToUpper(name), onOff(v))
}

// stagedFile is the session's own most recent staged file (DESIGN §3:
// STATBUFFER, SAVEBUFFER and CLEARBUFFER act on it).
func (c *session) stagedFile() (mem.Info, bool) {
	var best mem.Info
	found := false
	for _, i := range c.srv.cfg.Store.Mem().List() {
		if i.Owner.Session != c.vs.ID {
			continue
		}
		if !found || i.ModTime.After(best.ModTime) {
			best, found = i, true
		}
	}
	return best, found
}

// siteSaveBuffer commits the session's staged file to a file system (the
// current one by default) through the verified commit (manual §3.5).
func (c *session) siteSaveBuffer(arg string) {
	i, ok := c.stagedFile()
	if !ok {
		c.reply(503, "Temporal buffer is empty.")
		return
	}
	if i.Writing {
		c.reply(503, "Temporal buffer is locked.")
		return
	}
	fs := strings.ToLower(strings.Trim(arg, "/ "))
	if fs == "" {
		fs = c.cwd
	}
	if fs != "" && !c.srv.pol.HasMount(fs) {
		c.reply(501, "File system not recognized.")
		return
	}
	if fs == "" || fs == "mem" || fs == "tst" || fs == "ts1" {
		c.reply(503, "Target file system not supports SAVEBUFFER.")
		return
	}
	if c.reply119 {
		c.reply(119, "Saving temporal buffer...")
	}
	if _, err := c.srv.cfg.Store.Rename(c.vs, "/mem/"+i.Name, "/"+fs+"/"+i.Name); err != nil {
		c.log.Info("SAVEBUFFER refused", "name", i.Name, "fs", fs, "error", err)
		c.reply(ftpStatus(opStor, err))
		return
	}
	c.reply(200, "SAVEBUFFER completed O.K.")
}

// siteBackup copies the active file system to the configured reserve
// (manual §3.4), each file atomically.
func (c *session) siteBackup() {
	dir := c.srv.pol.FTP.BackupDir
	if dir == "" {
		c.reply(504, "Feature not present.")
		return
	}
	fs := c.cwd
	if fs == "" || fs == "mem" || fs == "tst" || fs == "ts1" {
		c.reply(550, "File system is not available.")
		return
	}
	if c.reply119 {
		c.reply(119, "Backup in process...")
	}
	if err := c.backup(fs, filepath.Join(dir, fs)); err != nil {
		c.log.Warn("backup failed", "fs", fs, "error", err)
		c.reply(550, "Unable to backup operation.")
		return
	}
	c.srv.audit.Info("backup", "user", c.user.Name, "fs", fs, "target", dir)
	c.reply(250, "Backup successful.")
}

func (c *session) backup(fs, dst string) error {
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return err
	}
	infos, err := c.srv.cfg.Store.List(c.vs, "/"+fs)
	if err != nil {
		return err
	}
	for _, i := range infos {
		r, err := c.srv.cfg.Store.OpenRead(c.vs, "/"+fs+"/"+i.Name)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
		r.Close()
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dst, i.Name), data, 0o640); err != nil {
			return err
		}
	}
	return nil
}

// siteCoherence checks that the active application is present in /dsk and
// that the firmware it requires is there (manual §3.6).
func (c *session) siteCoherence() {
	if c.reply119 {
		c.reply(119, "Checking firmware coherence...")
	}
	name, fw, ok := c.info().ActiveApp()
	var problems, lines []string
	if !ok {
		problems = append(problems, "No active application")
	} else {
		lines = append(lines, "Application "+name)
		if _, err := c.srv.cfg.Store.Stat(c.vs, "/dsk/"+name); err != nil {
			problems = append(problems, "Application "+name+" not found")
		}
		for _, f := range fw {
			if _, err := c.srv.cfg.Store.Stat(c.vs, "/dsk/"+f.Name); err != nil {
				problems = append(problems, "Firmware "+f.Name+" not found")
			} else {
				lines = append(lines, "Firmware "+f.Name+" present")
			}
		}
	}
	if len(problems) > 0 {
		c.replyLines(550, "COHERENCE results", append(lines, problems...), "COHERENCE results end")
		return
	}
	c.replyLines(211, "COHERENCE results", lines, "COHERENCE results end")
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
		c.reply(550, "Unable to open file.")
		return
	}
	defer r.Close()
	im, err := image.Parse(r, r.Size())
	if err != nil {
		c.reply(504, "Info not available.")
		return
	}
	c.reply(214, im.Version.String())
}

// siteWho lists the connected sessions (mTCP SITE WHO).
func (c *session) siteWho() {
	c.srv.mu.Lock()
	var lines []string
	for s := range c.srv.clients {
		who := "(not logged in)"
		if u := s.user; u != nil && s.vs != nil {
			who = u.Name
		}
		lines = append(lines, fmt.Sprintf("%-16s %s", who, s.remote))
	}
	c.srv.mu.Unlock()
	sort.Strings(lines)
	c.replyLines(211, fmt.Sprintf("%d connected:", len(lines)), lines, "End of list.")
}

// siteStats reports the server's counters (mTCP SITE STATS).
func (c *session) siteStats() {
	c.srv.mu.Lock()
	st := c.srv.stats
	c.srv.mu.Unlock()
	c.replyLines(211, "Server statistics:", []string{
		fmt.Sprintf("Up since %s", c.srv.started.UTC().Format(time.RFC3339)),
		fmt.Sprintf("Sessions: %d, logins: %d, failed logins: %d", st.sessions, st.logins, st.failedLogins),
		fmt.Sprintf("Files sent: %d (%d bytes), received: %d (%d bytes)", st.filesSent, st.bytesSent, st.filesReceived, st.bytesReceived),
	}, "End of statistics.")
}

// siteDiskFree reports the free space of a file system (mTCP SITE
// DISKFREE), the current one by default.
func (c *session) siteDiskFree(arg string) {
	fs := strings.ToLower(strings.Trim(arg, "/ "))
	if fs == "" {
		fs = c.cwd
	}
	if fs == "" {
		c.reply(550, "Disk not available")
		return
	}
	n, err := c.info().FreeSpace(c.vs, fs)
	if err != nil {
		c.reply(550, "Unable to get freespace.")
		return
	}
	c.replyf(211, "%d bytes free on %s", n, fsLabel(fs))
}

// cmdSTAT without a transfer: the manual's status fields (§1.4.1).
func (c *session) cmdSTAT(arg string) bool {
	if strings.TrimSpace(arg) != "" && c.user != nil {
		// STAT <path>: a listing over the control connection (RFC 959).
		p, ok := c.resolve(arg)
		if !ok {
			return false
		}
		i, err := c.srv.cfg.Store.Stat(c.vs, p)
		if err != nil {
			c.reply(ftpStatus(opInfo, err))
			return false
		}
		c.replyLines(213, "Status of "+p+":", []string{strings.TrimSuffix(unixLine(i), "\r\n")}, "End of status")
		return false
	}
	lines := []string{
		"Direct mode : " + onOff(c.direct),
		"Immediate : " + onOff(c.imm),
		"Keepalive : " + onOff(c.keepOn),
		"Reply 119 : " + onOff(c.reply119),
		"Reload code : " + onOff(c.reload),
		"Savebuffer : OFF",
		"Checks : " + c.checks().Letters(),
	}
	c.replyLines(211, "Server Status: READY", lines, "End of status")
	return false
}
