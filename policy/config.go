// Package policy holds sluice's configuration model (listeners, limits,
// mounts, the staging buffer, users) and the one decision function, Allow,
// that every front end reaches through vfs before it touches a file.
//
// The configuration is one TOML file, decoded strictly: an unknown key is an
// error that names the file and the line, so a typo never silently turns a
// restriction off (DESIGN §7). Zero values mean safe defaults; Load fills
// them in on a copy and validates the result.
package policy

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/sluice/sluice/image"
)

// Config is the whole configuration file. Field comments are the reference
// for docs/configuration.md.
type Config struct {
	// DataDir holds host-backed file systems, host keys and device state.
	// Relative paths are taken relative to the configuration file.
	DataDir string `toml:"data_dir,omitempty,omitzero"`

	SSH    SSH     `toml:"ssh,omitempty,omitzero"`
	FTP    FTP     `toml:"ftp,omitempty,omitzero"`
	Limits Limits  `toml:"limits,omitempty,omitzero"`
	Mem    Mem     `toml:"mem,omitempty,omitzero"`
	Names  Names   `toml:"names,omitempty,omitzero"`
	Device Device  `toml:"device,omitempty,omitzero"`
	Checks Checks  `toml:"checks,omitempty,omitzero"`
	Mounts []Mount `toml:"mount,omitempty,omitzero"`
	Users  []User  `toml:"user,omitempty,omitzero"`
}

// SSH configures the SSH/SFTP front end.
type SSH struct {
	// Listen is the address, e.g. "127.0.0.1:2222"; empty turns SSH off.
	// The --ssh-addr flag overrides it.
	Listen string `toml:"listen,omitempty,omitzero"`
	// HostKeyRSA also generates and offers an RSA-3072 host key
	// (rsa-sha2-256/512 only, never ssh-rsa with SHA-1).
	HostKeyRSA bool `toml:"host_key_rsa,omitempty,omitzero"`
	// ChaCha20 offers chacha20-poly1305@openssh.com. Off by default:
	// OpenSSH clients prefer it and x/crypto's implementation is several
	// times slower than AES-GCM (DESIGN §5).
	ChaCha20 bool `toml:"chacha20"`
	// MaxAuthTries is the number of authentication attempts per
	// connection (default 3).
	MaxAuthTries int `toml:"max_auth_tries,omitempty,omitzero"`
	// WinSCPSetstat answers a times-only SETSTAT with OK without doing it:
	// "auto" (default) for clients whose version string names WinSCP,
	// "on" for all clients, "off" for none.
	WinSCPSetstat string `toml:"winscp_setstat,omitempty,omitzero"`
}

// FTP configures the legacy FTP gateway (manual chapter 2, mTCP's
// firewall settings).
type FTP struct {
	// Listen is the control address, e.g. "127.0.0.1:2121"; empty means
	// the default, and the --ftp-addr flag overrides it ("" turns FTP off).
	Listen string `toml:"listen,omitempty,omitzero"`
	// DataPort is the local port active-mode data connections come from
	// (the manual's DATA-PORT). 0: the control port minus one, which needs
	// no privileges with the default 2121; -1: any port.
	DataPort int `toml:"data_port,omitempty,omitzero"`
	// PasvMin..PasvMax is the passive port range (mTCP PASV_BASE and
	// PASV_PORTS); each PASV picks a random port in it. 0: any port.
	PasvMin int `toml:"pasv_min_port,omitempty,omitzero"`
	PasvMax int `toml:"pasv_max_port,omitempty,omitzero"`
	// PasvAddress is the address advertised to passive clients outside the
	// server's own network (mTCP EXT_IPADDR), for NAT.
	PasvAddress string `toml:"pasv_address,omitempty,omitzero"`
	// InactivityTimer closes an idle control connection with "221
	// Inactivity Timer Expired. Goodbye." (manual TIMER; default 360s).
	// It never fires during a transfer.
	InactivityTimer time.Duration `toml:"inactivity_timer,omitempty,omitzero"`
	OS              string        `toml:"os,omitempty,omitzero"`         // LIST format: "unix" (default) or "msdos"
	DefaultFS       string        `toml:"default_fs,omitempty,omitzero"` // file system at login (manual SYST); "" = root (NUL)
	Direct          bool          `toml:"direct,omitempty,omitzero"`     // DIRECT ON at login: STOR writes to the file system (verified, atomic)
	Reply           bool          `toml:"reply,omitempty,omitzero"`      // 119 preliminary replies on slow commands
	Keepalive       bool          `toml:"keepalive,omitempty,omitzero"`  // TCP keepalive on data connections
	MSS             int           `toml:"mss,omitempty,omitzero"`        // TCP_MAXSEG on data connections; 0 = system default
	RxBuff          int           `toml:"rx_buff,omitempty,omitzero"`    // SO_RCVBUF on data connections; 0 = system default
	TxBuff          int           `toml:"tx_buff,omitempty,omitzero"`    // SO_SNDBUF on data connections; 0 = system default
	MOTD            string        `toml:"motd,omitempty,omitzero"`       // file sent as 230- lines at login
	// MaxLoginFailures closes the control connection after this many bad
	// passwords (default 3).
	MaxLoginFailures int `toml:"max_login_failures,omitempty,omitzero"`
	// Anonymous allows USER anonymous / ftp (viewer level) with any
	// password. Off by default.
	Anonymous bool `toml:"anonymous,omitempty,omitzero"`
	// TLSCert and TLSKey are PEM files for explicit FTPS (AUTH TLS). Empty:
	// a self-signed certificate is generated on first run and kept in
	// data_dir. RequireTLS refuses USER before AUTH TLS and data without
	// PROT P.
	TLSCert    string `toml:"tls_cert,omitempty,omitzero"`
	TLSKey     string `toml:"tls_key,omitempty,omitzero"`
	RequireTLS bool   `toml:"require_tls,omitempty,omitzero"`
	// ReloadCommand runs (no shell) after the control connection that
	// ordered SITE RELOAD closes. Empty: SITE RELOAD only records the order.
	ReloadCommand []string `toml:"reload_command,omitempty,omitzero"`
	// BackupDir is the reserve file system SITE BACKUP copies the active
	// one to. Empty: SITE BACKUP answers "504 Feature not present.".
	BackupDir string `toml:"backup_dir,omitempty,omitzero"`
}

// Limits bound what peers can hold.
type Limits struct {
	MaxSessions      int           `toml:"max_sessions,omitempty,omitzero"`        // all front ends together (default 16)
	MaxSessionsPerIP int           `toml:"max_sessions_per_ip,omitempty,omitzero"` // default 4
	IdleTimeout      time.Duration `toml:"idle_timeout,omitempty,omitzero"`        // no traffic at all (default 10m)
	HandshakeTimeout time.Duration `toml:"handshake_timeout,omitempty,omitzero"`   // connect to authenticated (default 20s)
	LoginFailDelay   time.Duration `toml:"login_fail_delay,omitempty,omitzero"`    // after each failed attempt (default 1s)
	MaxFileBytes     int64         `toml:"max_file_bytes,omitempty,omitzero"`      // largest file any upload may create (default 4 GiB)
}

// Mem sizes the staging buffer (the manual's TEMP-BUFF).
type Mem struct {
	MaxBytes int64 `toml:"max_bytes,omitempty,omitzero"` // default 256 MiB
}

// Names limits file names.
type Names struct {
	MaxLen int `toml:"max_len,omitempty,omitzero"` // default 64 bytes
}

// Device is the identity the image checks compare known files with
// (DESIGN §4). Zero values are the strictest, not "anything goes".
type Device struct {
	SystemID    string   `toml:"system_id,omitempty,omitzero"`     // SITE SYSTID
	HardwareID  uint32   `toml:"hardware_id,omitempty,omitzero"`   // must be among an image's hardware IDs
	HWLevel     uint32   `toml:"hw_level,omitempty,omitzero"`      // level applications, firmware and boot images must reach
	BIOSHWLevel uint32   `toml:"bios_hw_level,omitempty,omitzero"` // level BIOS images must reach; 0: hw_level
	BIOSVersion string   `toml:"bios_version,omitempty,omitzero"`  // running BIOS, e.g. "2.1"
	Profile     string   `toml:"profile,omitempty,omitzero"`       // profile extension, e.g. "STD"
	TrustedKeys []string `toml:"trusted_keys,omitempty,omitzero"`  // ed25519 public keys ("ssh-ed25519 AAAA..." lines)

	// Parsed forms, filled by Load.
	BIOS image.Version       `toml:"-"`
	Keys []ed25519.PublicKey `toml:"-"`
}

// Checks is the manual's CHECK set (§2.1.4) plus SIGNATURE.
type Checks struct {
	// Enabled lists check names applied in order from none: "all", "none",
	// a name, or "no NAME" to remove one. Default ["all"] (without
	// "signature" while device.trusted_keys is empty).
	Enabled []string `toml:"enabled,omitempty,omitzero"`
	// AllowDeleteActive lets a supervisor delete the active boot
	// application. Default false: refused.
	AllowDeleteActive bool `toml:"allow_delete_active,omitempty,omitzero"`

	On image.Check `toml:"-"` // parsed Enabled, filled by Load
}

// Mount is a host-backed file system. mem, tst and ts1 are built in and
// always mounted; they may not be listed here.
type Mount struct {
	Name      string `toml:"name,omitempty,omitzero"`      // dsk, bio, fda, fco or smc
	Path      string `toml:"path,omitempty,omitzero"`      // host directory; default DataDir/Name
	Exclusive bool   `toml:"exclusive,omitempty,omitzero"` // one operation at a time: others get "Filesystem busy"
}

// User is an account. Passwords are stored only as hashes.
type User struct {
	Name string `toml:"name,omitempty,omitzero"`
	// PasswordHash is a bcrypt ("$2a$…") or argon2id ("$argon2id$…") hash.
	// Empty means no password login.
	PasswordHash   string   `toml:"password_hash,omitempty,omitzero"`
	AuthorizedKeys []string `toml:"authorized_keys,omitempty,omitzero"` // authorized_keys lines
	Level          Level    `toml:"level,omitempty,omitzero"`
	// FileSystems is the sandbox: the file systems this user sees.
	// Empty means all.
	FileSystems []string `toml:"filesystems,omitempty,omitzero"`
	// Incoming is an upload-only file system (mTCP's "incoming"): the
	// user may write there but not read, list other files, or delete.
	Incoming string `toml:"incoming,omitempty,omitzero"`
	// Permissions override the level's defaults per operation.
	Permissions Permissions `toml:"permissions,omitempty,omitzero"`
}

// Permissions are per-operation overrides; nil keeps the level default.
type Permissions struct {
	List   *bool `toml:"list,omitempty,omitzero"`
	Read   *bool `toml:"read,omitempty,omitzero"`
	Write  *bool `toml:"write,omitempty,omitzero"`
	Delete *bool `toml:"delete,omitempty,omitzero"`
	Rename *bool `toml:"rename,omitempty,omitzero"`
	Commit *bool `toml:"commit,omitempty,omitzero"`
}

// Mount names known to the manual (§3.1). mem, tst and ts1 are built in.
var hostMountNames = map[string]bool{"dsk": true, "bio": true, "fda": true, "fco": true, "smc": true}

// BuiltinMounts are always present.
var BuiltinMounts = []string{"mem", "tst", "ts1"}

// Defaults used when a field is zero.
const (
	DefaultSSHListen     = "127.0.0.1:2222"
	DefaultFTPListen     = "127.0.0.1:2121"
	DefaultMemMax        = 256 << 20
	DefaultNameMax       = 64
	DefaultMaxSessions   = 16
	DefaultMaxSessionsIP = 4
	DefaultMaxFile       = 4 << 30
)

// ErrConfig marks configuration errors.
var ErrConfig = errors.New("invalid configuration")

// Load reads, strictly decodes, defaults and validates the file at path.
// Every error names the file, and the line where the decoder knows it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return Parse(path, data)
}

// Parse is Load on bytes already read; name is used in errors and to resolve
// a relative data_dir.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// Count lines up to the error's offset: at the end of a line
			// the decoder's own line number is already the next one.
			line := pe.Position.Line
			if st := pe.Position.Start; st > 0 && st <= len(data) {
				line = 1 + bytes.Count(bytes.TrimRight(data[:st], "\n"), []byte("\n"))
			}
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrConfig, name, line, pe.Message)
		}
		msg := strings.TrimPrefix(err.Error(), "toml: ")
		if m := lineErr.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%w: %s:%s: %s", ErrConfig, name, m[1], m[2])
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, name, msg)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, fmt.Errorf("%w: %s:%d: unknown key %q", ErrConfig, name, keyLine(data, k), k.String())
	}
	if err := c.fill(filepath.Dir(name)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
	}
	return &c, nil
}

// lineErr matches the decoder's type errors, "line N (last key ...): ...".
var lineErr = regexp.MustCompile(`^line (\d+) (.*)$`)

// keyLine finds the line of an undecoded key; the decoder does not report
// positions for keys it did not use. Tables are matched by their header.
func keyLine(data []byte, k toml.Key) int {
	last := regexp.QuoteMeta(k[len(k)-1])
	res := []*regexp.Regexp{
		regexp.MustCompile(`^\s*"?` + last + `"?\s*=`),
		regexp.MustCompile(`^\s*\[\[?\s*` + regexp.QuoteMeta(k.String()) + `\s*\]`),
		regexp.MustCompile(`[{,]\s*"?` + last + `"?\s*=`),
	}
	for _, re := range res {
		for i, line := range strings.Split(string(data), "\n") {
			if re.MatchString(line) {
				return i + 1
			}
		}
	}
	return 0
}

// fill applies defaults and validates. base resolves relative paths.
func (c *Config) fill(base string) error {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(base, c.DataDir)
	}
	if c.SSH.MaxAuthTries == 0 {
		c.SSH.MaxAuthTries = 3
	}
	if c.SSH.MaxAuthTries < 0 {
		return errors.New("ssh.max_auth_tries must be positive")
	}
	switch c.SSH.WinSCPSetstat {
	case "":
		c.SSH.WinSCPSetstat = "auto"
	case "auto", "on", "off":
	default:
		return fmt.Errorf("ssh.winscp_setstat must be auto, on or off, not %q", c.SSH.WinSCPSetstat)
	}
	if err := c.fillFTP(base); err != nil {
		return err
	}
	l := &c.Limits
	setInt(&l.MaxSessions, DefaultMaxSessions)
	setInt(&l.MaxSessionsPerIP, DefaultMaxSessionsIP)
	setDur(&l.IdleTimeout, 10*time.Minute)
	setDur(&l.HandshakeTimeout, 20*time.Second)
	setDur(&l.LoginFailDelay, time.Second)
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = DefaultMaxFile
	}
	if l.MaxFileBytes < 0 ||
		l.MaxSessions < 0 || l.MaxSessionsPerIP < 0 || l.IdleTimeout < 0 || l.HandshakeTimeout < 0 || l.LoginFailDelay < 0 {
		return errors.New("limits must not be negative")
	}
	if c.Mem.MaxBytes == 0 {
		c.Mem.MaxBytes = DefaultMemMax
	}
	if c.Mem.MaxBytes < 0 {
		return errors.New("mem.max_bytes must be positive")
	}
	setInt(&c.Names.MaxLen, DefaultNameMax)
	if c.Names.MaxLen < 1 || c.Names.MaxLen > 255 {
		return errors.New("names.max_len must be 1..255")
	}
	if err := c.fillDevice(); err != nil {
		return err
	}
	if c.Mounts == nil {
		c.Mounts = []Mount{{Name: "dsk"}, {Name: "bio", Exclusive: true}}
	}
	seen := map[string]bool{}
	for i := range c.Mounts {
		m := &c.Mounts[i]
		m.Name = strings.ToLower(m.Name)
		if !hostMountNames[m.Name] {
			return fmt.Errorf("mount %q: name must be one of dsk, bio, fda, fco, smc (mem, tst and ts1 are built in)", m.Name)
		}
		if seen[m.Name] {
			return fmt.Errorf("mount %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Path == "" {
			m.Path = filepath.Join(c.DataDir, m.Name)
		} else if !filepath.IsAbs(m.Path) {
			m.Path = filepath.Join(base, m.Path)
		}
	}
	users := map[string]bool{}
	for i := range c.Users {
		u := &c.Users[i]
		if u.Name == "" || strings.ContainsAny(u.Name, " \t\r\n\x00:") {
			return fmt.Errorf("user %d: invalid name %q", i+1, u.Name)
		}
		if users[u.Name] {
			return fmt.Errorf("user %q listed twice", u.Name)
		}
		users[u.Name] = true
		if !u.Level.valid() {
			return fmt.Errorf("user %q: level must be supervisor, guest or viewer, not %q", u.Name, u.Level)
		}
		if u.PasswordHash != "" {
			if err := checkHashFormat(u.PasswordHash); err != nil {
				return fmt.Errorf("user %q: %v", u.Name, err)
			}
		}
		for j, fs := range u.FileSystems {
			u.FileSystems[j] = strings.ToLower(fs)
			if !c.HasMount(u.FileSystems[j]) {
				return fmt.Errorf("user %q: unknown file system %q", u.Name, fs)
			}
		}
		u.Incoming = strings.ToLower(u.Incoming)
		if u.Incoming != "" && !c.HasMount(u.Incoming) {
			return fmt.Errorf("user %q: unknown incoming file system %q", u.Name, u.Incoming)
		}
	}
	return nil
}

// HasMount reports whether name (lower case) is mounted.
func (c *Config) HasMount(name string) bool {
	for _, b := range BuiltinMounts {
		if b == name {
			return true
		}
	}
	for _, m := range c.Mounts {
		if m.Name == name {
			return true
		}
	}
	return false
}

// User returns the named user, or nil.
func (c *Config) User(name string) *User {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i]
		}
	}
	return nil
}

func setInt(p *int, d int) {
	if *p == 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

func (c *Config) fillDevice() error {
	d := &c.Device
	var err error
	if d.BIOSVersion != "" {
		if d.BIOS, err = image.ParseVersion(d.BIOSVersion); err != nil {
			return fmt.Errorf("device.bios_version: %v", err)
		}
	}
	d.Keys = nil
	for i, k := range d.TrustedKeys {
		pk, err := image.ParsePublicKey([]byte(k))
		if err != nil {
			return fmt.Errorf("device.trusted_keys[%d]: %v", i, err)
		}
		d.Keys = append(d.Keys, pk)
	}
	enabled := c.Checks.Enabled
	if enabled == nil {
		// The default is ALL. SIGNATURE needs trusted keys; without any it
		// is left out of the default (cmd logs a warning) rather than
		// refusing every known file. Asking for it explicitly without
		// keys is an error below.
		enabled = []string{"all"}
		if len(d.Keys) == 0 {
			enabled = append(enabled, "no signature")
		}
	}
	if c.Checks.On, err = image.ParseChecks(enabled); err != nil {
		return fmt.Errorf("checks.enabled: %v", err)
	}
	if c.Checks.On&image.CheckSignature != 0 && len(d.Keys) == 0 {
		return errors.New(`checks: SIGNATURE is on but device.trusted_keys is empty (every known file would be refused); add a key or "no signature" to checks.enabled`)
	}
	return nil
}

// ImageDevice returns the device identity in the image package's terms.
func (c *Config) ImageDevice() image.Device {
	d := c.Device
	return image.Device{SystemID: d.SystemID, HardwareID: d.HardwareID, HWLevel: d.HWLevel,
		BIOSHWLevel: d.BIOSHWLevel, BIOSVersion: d.BIOS, Profile: d.Profile, TrustedKeys: d.Keys}
}

func (c *Config) fillFTP(base string) error {
	f := &c.FTP
	setDur(&f.InactivityTimer, 360*time.Second)
	setInt(&f.MaxLoginFailures, 3)
	switch strings.ToLower(f.OS) {
	case "", "unix":
		f.OS = "unix"
	case "msdos", "ms-dos":
		f.OS = "msdos"
	default:
		return fmt.Errorf("ftp.os must be unix or msdos, not %q", f.OS)
	}
	if f.DataPort < -1 || f.DataPort > 65535 {
		return fmt.Errorf("ftp.data_port %d out of range", f.DataPort)
	}
	if f.PasvMin < 0 || f.PasvMax > 65535 || f.PasvMin > f.PasvMax || (f.PasvMin == 0) != (f.PasvMax == 0) {
		return fmt.Errorf("ftp.pasv_min_port..pasv_max_port must be a range within 1..65535, or both 0")
	}
	if f.PasvAddress != "" {
		if ip := net.ParseIP(f.PasvAddress); ip == nil || ip.To4() == nil {
			return fmt.Errorf("ftp.pasv_address %q is not an IPv4 address", f.PasvAddress)
		}
	}
	if f.InactivityTimer < 0 || f.MaxLoginFailures < 0 || f.MSS < 0 || f.RxBuff < 0 || f.TxBuff < 0 {
		return errors.New("ftp limits must not be negative")
	}
	f.DefaultFS = strings.ToLower(f.DefaultFS)
	if f.DefaultFS != "" && !c.HasMount(f.DefaultFS) && !hostMountNames[f.DefaultFS] {
		return fmt.Errorf("ftp.default_fs: unknown file system %q", f.DefaultFS)
	}
	for _, p := range []*string{&f.TLSCert, &f.TLSKey, &f.MOTD, &f.BackupDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return errors.New("ftp.tls_cert and ftp.tls_key go together")
	}
	return nil
}
