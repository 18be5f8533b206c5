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
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/sluice/sluice/image"
)

// Config is the whole configuration file. Field comments are the reference
// for docs/configuration.md.
type Config struct {
	// DataDir holds host-backed file systems, host keys and device state.
	// Relative paths are taken relative to the configuration file.
	DataDir string `toml:"data_dir,omitempty,omitzero"`

	SSH    SSH    `toml:"ssh,omitempty,omitzero"`
	FTP    FTP    `toml:"ftp,omitempty,omitzero"`
	Limits Limits `toml:"limits,omitempty,omitzero"`
	// Penalties score misbehaving sources and ban them for a while
	// (shared by SSH and FTP).
	Penalties Penalties `toml:"penalties,omitempty,omitzero"`
	Mem       Mem       `toml:"mem,omitempty,omitzero"`
	Names     Names     `toml:"names,omitempty,omitzero"`
	Device    Device    `toml:"device,omitempty,omitzero"`
	Checks    Checks    `toml:"checks,omitempty,omitzero"`
	Mounts    []Mount   `toml:"mount,omitempty,omitzero"`
	Users     []User    `toml:"user,omitempty,omitzero"`

	// Audit configures the audit log's own file ([audit], next to
	// [limits] and [penalties] in the file).
	Audit Audit `toml:"audit,omitempty,omitzero"`
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
	// Banner is a file of text (a legal notice) sent as 220- lines before
	// the manual's 220 greeting, to every connection, before login.
	Banner string `toml:"banner,omitempty,omitzero"`
	// BannerLines is Banner's text, read by Load (and on reload).
	BannerLines []string `toml:"-"`
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
	// ordered SITE RELOAD closes. Empty: SITE RELOAD ON answers "504
	// Feature not present.".
	ReloadCommand []string `toml:"reload_command,omitempty,omitzero"`
	// BackupDir is the reserve file system SITE BACKUP copies the active
	// one to. Empty: SITE BACKUP answers "504 Feature not present.".
	BackupDir string `toml:"backup_dir,omitempty,omitzero"`
}

// Limits bound what peers can hold.
//
// A connection is first unauthenticated: it holds a slot of its front
// end's pre-authentication budget (MaxStartups, MaxStartupsPerSource) for
// at most LoginGraceTime. Only once it has logged in does it take one of
// the MaxSessions session slots, shared by SSH and FTP, so connections that
// never log in cannot keep an operator out.
type Limits struct {
	MaxSessions      int           `toml:"max_sessions,omitempty,omitzero"`        // authenticated sessions, all front ends together (default 16)
	MaxSessionsPerIP int           `toml:"max_sessions_per_ip,omitempty,omitzero"` // authenticated sessions per address (default 8)
	IdleTimeout      time.Duration `toml:"idle_timeout,omitempty,omitzero"`        // no traffic at all (default 10m)
	// LoginGraceTime is the time from connect to logged in, for SSH and
	// FTP alike (OpenSSH's LoginGraceTime; default 2m: long enough for a
	// person to accept a host key). Commands before the login do not
	// extend it.
	LoginGraceTime time.Duration `toml:"login_grace_time,omitempty,omitzero"`
	// HandshakeTimeout is the older name of LoginGraceTime.
	HandshakeTimeout time.Duration `toml:"handshake_timeout,omitempty,omitzero"`
	// MaxStartups is the pre-authentication budget of each front end,
	// "start:rate:full" as OpenSSH's MaxStartups (default "10:30:100"):
	// from start unauthenticated connections on, a new connection from a
	// source that already has one in progress is dropped with probability
	// rate %, rising linearly to 100 % at full; at full every new
	// connection is dropped. A source with none in progress is admitted
	// until full.
	MaxStartups string `toml:"max_startups,omitempty,omitzero"`
	// MaxStartupsPerSource bounds the unauthenticated connections of one
	// source per front end (default 8; ssh-keyscan opens 5).
	MaxStartupsPerSource int           `toml:"max_startups_per_source,omitempty,omitzero"`
	LoginFailDelay       time.Duration `toml:"login_fail_delay,omitempty,omitzero"` // after each failed attempt (default 1s)
	// DataTimeout bounds each read and write of an FTP data connection:
	// a peer that stops sending or reading for this long is disconnected
	// (default 1m). SSH connections use IdleTimeout.
	DataTimeout  time.Duration `toml:"data_timeout,omitempty,omitzero"`
	MaxFileBytes int64         `toml:"max_file_bytes,omitempty,omitzero"` // largest file any upload may create (default 4 GiB)

	// Startups is MaxStartups parsed, filled by Load.
	Startups Startups `toml:"-"`
}

// Audit configures where audit events go besides the log (docs/operations.md,
// "Logs and audit").
type Audit struct {
	// File, if set, receives every audit event (info and above, whatever
	// --log-level says) as one JSON object per line, appended; it is
	// created with mode 0600 and reopened on SIGHUP, so rotation is
	// logrotate's (without copytruncate) or journald's. A relative path is
	// taken relative to data_dir.
	File string `toml:"file,omitempty,omitzero"`
}

// Startups is a parsed MaxStartups.
type Startups struct{ Start, Rate, Full int }

// Penalties configure per-source penalties (DESIGN §6), after OpenSSH's
// PerSourcePenalties and SFTPGo's defender. A source is an IPv4 address or
// an IPv6 /64. Events add points; when a source's points within
// Observation reach Threshold, it is banned for BanTime, doubled with each
// further ban up to MaxBanTime.
type Penalties struct {
	// Enabled turns penalties on (default true).
	Enabled *bool `toml:"enabled,omitempty,omitzero"`
	// Threshold is the score that bans (default 20).
	Threshold int `toml:"threshold,omitempty,omitzero"`
	// Points per event.
	ScorePassword    int `toml:"score_password,omitempty,omitzero"`     // a failed password of a known user (default 2)
	ScoreUnknownUser int `toml:"score_unknown_user,omitempty,omitzero"` // a login as an unknown user (default 4)
	ScoreNoAuth      int `toml:"score_no_auth,omitempty,omitzero"`      // a connection that ended without logging in (default 1)
	ScoreLimit       int `toml:"score_limit,omitempty,omitzero"`        // a connection refused by a limit (default 2)
	// Observation is how long points count (default 10m).
	Observation time.Duration `toml:"observation,omitempty,omitzero"`
	BanTime     time.Duration `toml:"ban_time,omitempty,omitzero"`     // the first ban (default 1m)
	MaxBanTime  time.Duration `toml:"max_ban_time,omitempty,omitzero"` // the longest ban (default 1h)
	// Allow lists addresses or CIDR networks never penalised or limited
	// per source (the front ends' total budget still applies).
	Allow []string `toml:"allow,omitempty,omitzero"`
	// MaxSources bounds the sources tracked (default 16384); beyond it new
	// sources are not scored (OpenSSH's overflow:permissive).
	MaxSources int `toml:"max_sources,omitempty,omitzero"`

	// AllowNets is Allow parsed, filled by Load.
	AllowNets []*net.IPNet `toml:"-"`
}

// On reports whether penalties are enabled.
func (p Penalties) On() bool { return p.Enabled == nil || *p.Enabled }

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
	// TrustedKeysDir is a directory of trusted keys, one per file named
	// *.pub or *.pem (an authorized_keys line, a PEM "PUBLIC KEY" or the
	// base64 key), in addition to TrustedKeys; relative to data_dir.
	// Other files and sub-directories are ignored; a key file that does
	// not parse is an error. It is read at each load (start, reload).
	TrustedKeysDir string `toml:"trusted_keys_dir,omitempty,omitzero"`

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
	DefaultMaxSessionsIP = 8
	DefaultMaxStartups   = "10:30:100"
	DefaultMaxFile       = 4 << 30
)

// ErrConfig marks configuration errors.
var ErrConfig = errors.New("invalid configuration")

// Load reads, strictly decodes, defaults and validates the file at path.
// Every error names the file, and the line where the file has one.
func Load(path string) (*Config, error) { return LoadWith(path, Overrides{}) }

// Overrides are command-line settings that replace the file's before the
// defaults are filled in, so that what derives from them follows: with
// DataDir set, the mounts without a path move under it too.
type Overrides struct {
	DataDir string // "" keeps the file's data_dir; relative to the working directory
}

// LoadWith is Load with the command line's overrides.
func LoadWith(path string, o Overrides) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return ParseWith(path, data, o)
}

// Parse is Load on bytes already read; name is used in errors and to resolve
// a relative data_dir.
func Parse(name string, data []byte) (*Config, error) { return ParseWith(name, data, Overrides{}) }

// ParseWith is Parse with the command line's overrides.
func ParseWith(name string, data []byte, o Overrides) (*Config, error) {
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
	err = integerDurations(md, reflect.TypeOf(c), nil)
	if err == nil {
		if o.DataDir != "" {
			abs, aerr := filepath.Abs(o.DataDir)
			if aerr != nil {
				return nil, fmt.Errorf("%w: --data: %v", ErrConfig, aerr)
			}
			c.DataDir = abs
		}
		err = c.fill(filepath.Dir(name))
	}
	if err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			if line := findLine(data, ke.table, ke.index, ke.key); line > 0 {
				return nil, fmt.Errorf("%w: %s:%d: %v", ErrConfig, name, line, err)
			}
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
	}
	return &c, nil
}

// keyError is a semantic error about one key, for Parse to give its line.
// table is the dotted table ("" for the top level, "user" for [[user]]),
// index the element of an array of tables (-1: any), key the key in it
// ("" for the table itself).
type keyError struct {
	table string
	index int
	key   string
	err   error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// at ties err to table.key (see keyError).
func at(table, key string, err error) error {
	return &keyError{table: table, index: -1, key: key, err: err}
}

// atIndex ties err to key in the index-th [[table]].
func atIndex(table string, index int, key string, err error) error {
	return &keyError{table: table, index: index, key: key, err: err}
}

var durationType = reflect.TypeOf(time.Duration(0))

// integerDurations refuses a bare integer for a duration: the decoder
// would take idle_timeout = 5 as 5 ns, and drop every session at once.
// Durations are strings such as "5s" (time.ParseDuration). Only tables
// (not arrays of tables) hold durations.
func integerDurations(md toml.MetaData, t reflect.Type, path []string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := append(append([]string(nil), path...), name)
		switch {
		case f.Type == durationType:
			if md.Type(key...) == "Integer" {
				return at(strings.Join(path, "."), name, fmt.Errorf("%s: a duration is a string with a unit, such as \"5s\" or \"10m\", not a bare integer",
					strings.Join(key, ".")))
			}
		case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath():
			if err := integerDurations(md, f.Type, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// lineErr matches the decoder's type errors, "line N (last key ...): ...".
var lineErr = regexp.MustCompile(`^line (\d+) (.*)$`)

// keyLine finds the line of an undecoded key; the decoder does not report
// positions for keys it did not use.
func keyLine(data []byte, k toml.Key) int {
	if line := findLine(data, strings.Join(k[:len(k)-1], "."), -1, k[len(k)-1]); line > 0 {
		return line
	}
	// An unknown table, or a dotted key or an inline table.
	last := regexp.QuoteMeta(k[len(k)-1])
	res := []*regexp.Regexp{
		regexp.MustCompile(`^\s*\[\[?\s*` + regexp.QuoteMeta(k.String()) + `\s*\]`),
		regexp.MustCompile(`^\s*"?` + last + `"?\s*=`),
		regexp.MustCompile(`[{,.]\s*"?` + last + `"?\s*=`),
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

var (
	headerLine = regexp.MustCompile(`^\s*(\[\[?)\s*([A-Za-z0-9_."-]+?)\s*\]`)
	keyValLine = regexp.MustCompile(`^\s*"?([A-Za-z0-9_-]+)"?\s*=`)
)

// FindLine returns the line of key in a configuration file's data, for
// checks made outside Parse (see keyError for the arguments); 0 if unknown.
func FindLine(data []byte, table string, index int, key string) int {
	return findLine(data, table, index, key)
}

// findLine returns the line of key in table (see keyError), or of the
// table's header when key is "" or not written there; 0 if neither is
// found. Sub-tables of an array element ([user.permissions]) belong to the
// element before them.
func findLine(data []byte, table string, index int, key string) int {
	cur, elem := "", -1        // the current table and its array element
	counts := map[string]int{} // [[name]] headers seen
	header := 0
	for i, line := range strings.Split(string(data), "\n") {
		if m := headerLine.FindStringSubmatch(line); m != nil {
			name := strings.ReplaceAll(m[2], `"`, "")
			if m[1] == "[[" {
				elem = counts[name]
				counts[name]++
			} else if !strings.HasPrefix(name, cur+".") {
				elem = -1
			}
			cur = name
			if cur == table && (index < 0 || elem == index) && header == 0 {
				header = i + 1
				if key == "" {
					return header
				}
			}
			continue
		}
		if cur != table || (index >= 0 && elem != index) {
			continue
		}
		if m := keyValLine.FindStringSubmatch(line); m != nil && m[1] == key {
			return i + 1
		}
	}
	return header
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
		return at("ssh", "max_auth_tries", errors.New("ssh.max_auth_tries must be positive"))
	}
	switch c.SSH.WinSCPSetstat {
	case "":
		c.SSH.WinSCPSetstat = "auto"
	case "auto", "on", "off":
	default:
		return at("ssh", "winscp_setstat", fmt.Errorf("ssh.winscp_setstat must be auto, on or off, not %q", c.SSH.WinSCPSetstat))
	}
	if err := CheckListen(c.SSH.Listen); err != nil {
		return at("ssh", "listen", fmt.Errorf("ssh.listen: %v", err))
	}
	if err := c.fillFTP(base); err != nil {
		return err
	}
	if err := c.fillLimits(); err != nil {
		return err
	}
	if c.Audit.File != "" && !filepath.IsAbs(c.Audit.File) {
		c.Audit.File = filepath.Join(c.DataDir, c.Audit.File)
	}
	if err := c.fillPenalties(); err != nil {
		return err
	}
	if c.Mem.MaxBytes == 0 {
		c.Mem.MaxBytes = DefaultMemMax
	}
	if c.Mem.MaxBytes < 0 {
		return at("mem", "max_bytes", errors.New("mem.max_bytes must be positive"))
	}
	setInt(&c.Names.MaxLen, DefaultNameMax)
	if c.Names.MaxLen < 1 || c.Names.MaxLen > 255 {
		return at("names", "max_len", errors.New("names.max_len must be 1..255"))
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
			return atIndex("mount", i, "name", fmt.Errorf("mount %q: name must be one of dsk, bio, fda, fco, smc (mem, tst and ts1 are built in)", m.Name))
		}
		if seen[m.Name] {
			return atIndex("mount", i, "name", fmt.Errorf("mount %q listed twice", m.Name))
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
			return atIndex("user", i, "name", fmt.Errorf("user %d: invalid name %q", i+1, u.Name))
		}
		if users[u.Name] {
			return atIndex("user", i, "name", fmt.Errorf("user %q listed twice", u.Name))
		}
		users[u.Name] = true
		if !u.Level.valid() {
			return atIndex("user", i, "level", fmt.Errorf("user %q: level must be supervisor, guest or viewer, not %q", u.Name, u.Level))
		}
		if u.PasswordHash != "" {
			if err := checkHashFormat(u.PasswordHash); err != nil {
				return atIndex("user", i, "password_hash", fmt.Errorf("user %q: %v", u.Name, err))
			}
		}
		for j, fs := range u.FileSystems {
			u.FileSystems[j] = strings.ToLower(fs)
			if !c.HasMount(u.FileSystems[j]) {
				return atIndex("user", i, "filesystems", fmt.Errorf("user %q: unknown file system %q", u.Name, fs))
			}
		}
		u.Incoming = strings.ToLower(u.Incoming)
		if u.Incoming != "" && !c.HasMount(u.Incoming) {
			return atIndex("user", i, "incoming", fmt.Errorf("user %q: unknown incoming file system %q", u.Name, u.Incoming))
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

func (c *Config) fillLimits() error {
	l := &c.Limits
	setInt(&l.MaxSessions, DefaultMaxSessions)
	setInt(&l.MaxSessionsPerIP, DefaultMaxSessionsIP)
	setDur(&l.IdleTimeout, 10*time.Minute)
	if l.LoginGraceTime != 0 && l.HandshakeTimeout != 0 && l.LoginGraceTime != l.HandshakeTimeout {
		return at("limits", "handshake_timeout", errors.New("limits.login_grace_time and limits.handshake_timeout (its older name) disagree; keep one"))
	}
	setDur(&l.LoginGraceTime, l.HandshakeTimeout)
	setDur(&l.LoginGraceTime, 2*time.Minute)
	l.HandshakeTimeout = l.LoginGraceTime
	setDur(&l.LoginFailDelay, time.Second)
	setDur(&l.DataTimeout, time.Minute)
	setInt(&l.MaxStartupsPerSource, 8)
	if l.MaxStartups == "" {
		l.MaxStartups = DefaultMaxStartups
	}
	st, err := ParseStartups(l.MaxStartups)
	if err != nil {
		return at("limits", "max_startups", fmt.Errorf("limits.max_startups: %v", err))
	}
	l.Startups = st
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = DefaultMaxFile
	}
	for _, v := range []struct {
		key string
		neg bool
	}{
		{"max_file_bytes", l.MaxFileBytes < 0}, {"max_sessions", l.MaxSessions < 0}, {"max_sessions_per_ip", l.MaxSessionsPerIP < 0},
		{"idle_timeout", l.IdleTimeout < 0}, {"login_grace_time", l.LoginGraceTime < 0}, {"login_fail_delay", l.LoginFailDelay < 0},
		{"data_timeout", l.DataTimeout < 0}, {"max_startups_per_source", l.MaxStartupsPerSource < 0},
	} {
		if v.neg {
			return at("limits", v.key, fmt.Errorf("limits must not be negative (limits.%s)", v.key))
		}
	}
	return nil
}

// ParseStartups parses "start:rate:full" (or a single "full").
func ParseStartups(s string) (Startups, error) {
	var st Startups
	parts := strings.Split(s, ":")
	var v []int
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return st, fmt.Errorf("%q is not start:rate:full (three non-negative integers)", s)
		}
		v = append(v, n)
	}
	switch len(v) {
	case 1:
		st = Startups{Start: v[0], Rate: 100, Full: v[0]}
	case 3:
		st = Startups{Start: v[0], Rate: v[1], Full: v[2]}
	default:
		return st, fmt.Errorf("%q is not start:rate:full", s)
	}
	if st.Full < 1 || st.Start > st.Full || st.Rate > 100 || (st.Start == 0 && st.Full > 0 && len(v) == 3 && st.Rate == 0) {
		return st, fmt.Errorf("%q: need 1 <= full, start <= full and rate <= 100", s)
	}
	return st, nil
}

func (c *Config) fillPenalties() error {
	p := &c.Penalties
	setInt(&p.Threshold, 20)
	setInt(&p.ScorePassword, 2)
	setInt(&p.ScoreUnknownUser, 4)
	setInt(&p.ScoreNoAuth, 1)
	setInt(&p.ScoreLimit, 2)
	setInt(&p.MaxSources, 16384)
	setDur(&p.Observation, 10*time.Minute)
	setDur(&p.BanTime, time.Minute)
	setDur(&p.MaxBanTime, time.Hour)
	if p.Threshold < 1 || p.ScorePassword < 0 || p.ScoreUnknownUser < 0 || p.ScoreNoAuth < 0 || p.ScoreLimit < 0 ||
		p.MaxSources < 1 || p.Observation < 0 || p.BanTime < 0 || p.MaxBanTime < p.BanTime {
		return at("penalties", "", errors.New("penalties: threshold and max_sources must be positive, scores and times not negative, max_ban_time >= ban_time"))
	}
	p.AllowNets = nil
	for _, a := range p.Allow {
		n, err := parseNet(a)
		if err != nil {
			return at("penalties", "allow", fmt.Errorf("penalties.allow: %v", err))
		}
		p.AllowNets = append(p.AllowNets, n)
	}
	return nil
}

// parseNet parses an address or a CIDR network.
func parseNet(s string) (*net.IPNet, error) {
	if strings.Contains(s, "/") {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or network", s)
		}
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an address or network", s)
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
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
			return at("device", "bios_version", fmt.Errorf("device.bios_version: %v", err))
		}
	}
	d.Keys = nil
	for i, k := range d.TrustedKeys {
		pk, err := image.ParsePublicKey([]byte(k))
		if err != nil {
			return at("device", "trusted_keys", fmt.Errorf("device.trusted_keys[%d]: %v", i, err))
		}
		d.Keys = append(d.Keys, pk)
	}
	if dir := d.TrustedKeysDir; dir != "" {
		if !filepath.IsAbs(dir) { // kept as written: the file may be rewritten (user add)
			dir = filepath.Join(c.DataDir, dir)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return at("device", "trusted_keys_dir", fmt.Errorf("device.trusted_keys_dir: %v", err))
		}
		for _, e := range ents { // sorted by name
			name := e.Name()
			if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".pub") || strings.HasSuffix(name, ".pem")) {
				continue
			}
			path := filepath.Join(dir, name)
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				continue // a sub-directory, or a dangling link
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return at("device", "trusted_keys_dir", fmt.Errorf("device.trusted_keys_dir: %v", err))
			}
			pk, err := image.ParsePublicKey(data)
			if err != nil {
				return at("device", "trusted_keys_dir", fmt.Errorf("device.trusted_keys_dir: %s: %v", path, err))
			}
			d.Keys = append(d.Keys, pk)
		}
	}
	enabled := c.Checks.Enabled
	if enabled != nil && len(enabled) == 0 {
		// Read as "from none, add nothing" it would turn every check off
		// silently, and a rewrite that omits the empty list turns them on.
		return at("checks", "enabled", errors.New(`checks.enabled is empty: write ["none"] to turn every check off, or leave it out for the default`))
	}
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
		return at("checks", "enabled", fmt.Errorf("checks.enabled: %v", err))
	}
	if c.Checks.On&image.CheckSignature != 0 && len(d.Keys) == 0 && !namesSignature(enabled) {
		// "all" means every check that can run: SIGNATURE cannot
		// without a trusted key, so it is off (cmd logs it), as in the
		// default. Only "signature" by name insists on it.
		c.Checks.On &^= image.CheckSignature
	}
	if c.Checks.On&image.CheckSignature != 0 && len(d.Keys) == 0 {
		return at("checks", "enabled", errors.New(`checks: SIGNATURE is on but device.trusted_keys is empty and device.trusted_keys_dir holds no key (every known file would be refused); add a key, or take "signature" out of checks.enabled`))
	}
	return nil
}

// namesSignature reports whether checks.enabled turns SIGNATURE on by
// name ("signature", not only through "all").
func namesSignature(enabled []string) bool {
	for _, s := range enabled {
		if strings.EqualFold(strings.TrimSpace(s), "signature") {
			return true
		}
	}
	return false
}

// Bounds of [ftp] banner: it is sent to every connection before login.
const (
	maxBannerBytes = 8 << 10
	maxBannerLines = 50
)

// readBanner reads a banner file: UTF-8 text without control characters
// (a tab becomes a space), at most maxBannerLines lines and maxBannerBytes.
func readBanner(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBannerBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBannerBytes {
		return nil, fmt.Errorf("%s: more than %d bytes", path, maxBannerBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8 text", path)
	}
	text := strings.TrimRight(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > maxBannerLines {
		return nil, fmt.Errorf("%s: more than %d lines", path, maxBannerLines)
	}
	for i, l := range lines {
		l = strings.ReplaceAll(l, "\t", " ")
		for _, r := range l {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				return nil, fmt.Errorf("%s:%d: control character %U", path, i+1, r)
			}
		}
		lines[i] = l
	}
	return lines, nil
}

// CheckListen checks a listen address as net.Listen will take it:
// "host:port" or ":port", the port a number 0..65535 or a service name.
// "" (off, or the default) passes. serve checks its flags with it too, so
// that a bad address fails before anything is written.
func CheckListen(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q: bad port %q", addr, port)
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
		return at("ftp", "os", fmt.Errorf("ftp.os must be unix or msdos, not %q", f.OS))
	}
	if f.DataPort < -1 || f.DataPort > 65535 {
		return at("ftp", "data_port", fmt.Errorf("ftp.data_port %d out of range", f.DataPort))
	}
	if f.PasvMin < 0 || f.PasvMax > 65535 || f.PasvMin > f.PasvMax || (f.PasvMin == 0) != (f.PasvMax == 0) {
		return at("ftp", "pasv_min_port", errors.New("ftp.pasv_min_port..pasv_max_port must be a range within 1..65535, or both 0"))
	}
	if f.PasvAddress != "" {
		if ip := net.ParseIP(f.PasvAddress); ip == nil || ip.To4() == nil {
			return at("ftp", "pasv_address", fmt.Errorf("ftp.pasv_address %q is not an IPv4 address", f.PasvAddress))
		}
	}
	if f.InactivityTimer < 0 || f.MaxLoginFailures < 0 || f.MSS < 0 || f.RxBuff < 0 || f.TxBuff < 0 {
		return at("ftp", "", errors.New("ftp limits must not be negative"))
	}
	f.DefaultFS = strings.ToLower(f.DefaultFS)
	if f.DefaultFS != "" && !c.HasMount(f.DefaultFS) && !hostMountNames[f.DefaultFS] {
		return at("ftp", "default_fs", fmt.Errorf("ftp.default_fs: unknown file system %q", f.DefaultFS))
	}
	for _, p := range []*string{&f.TLSCert, &f.TLSKey, &f.MOTD, &f.BackupDir, &f.Banner} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	f.BannerLines = nil
	if f.Banner != "" {
		lines, err := readBanner(f.Banner)
		if err != nil {
			return at("ftp", "banner", fmt.Errorf("ftp.banner: %v", err))
		}
		f.BannerLines = lines
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		key := "tls_cert"
		if f.TLSCert == "" {
			key = "tls_key"
		}
		return at("ftp", key, errors.New("ftp.tls_cert and ftp.tls_key go together"))
	}
	if err := CheckListen(f.Listen); err != nil {
		return at("ftp", "listen", fmt.Errorf("ftp.listen: %v", err))
	}
	return nil
}
