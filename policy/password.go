package policy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrBadLogin is returned for an unknown user or a wrong password; the two
// are not distinguished to the caller.
var ErrBadLogin = errors.New("bad user or password")

// HashPassword returns a bcrypt hash (cost 10) of pw.
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// dummyHashes are compared against when the user is unknown, so that a
// login for a missing user costs the same time as one with a wrong
// password: one bcrypt hash per cost, made once.
var (
	dummyMu     sync.Mutex
	dummyHashes = map[int][]byte{}
)

func dummyHash(cost int) []byte {
	dummyMu.Lock()
	defer dummyMu.Unlock()
	h := dummyHashes[cost]
	if h == nil {
		h, _ = bcrypt.GenerateFromPassword([]byte("sluice-dummy"), cost)
		dummyHashes[cost] = h
	}
	return h
}

// dummyCost is the bcrypt cost of the configured users' hashes (the first
// bcrypt one), so that an unknown user costs what a known one does.
func (c *Config) dummyCost() int {
	for i := range c.Users {
		if cost, err := bcrypt.Cost([]byte(c.Users[i].PasswordHash)); err == nil {
			return cost
		}
	}
	return bcrypt.DefaultCost
}

// CheckPassword returns the user when name and pw match a configured user
// with a password hash, else ErrBadLogin.
func (c *Config) CheckPassword(name, pw string) (*User, error) {
	u := c.User(name)
	if u == nil || u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(c.dummyCost()), []byte(pw))
		return nil, ErrBadLogin
	}
	if !verifyHash(u.PasswordHash, pw) {
		return nil, ErrBadLogin
	}
	return u, nil
}

func verifyHash(hash, pw string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		p, err := parseArgon2(hash)
		if err != nil {
			return false
		}
		got := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(got, p.key) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

func checkHashFormat(hash string) error {
	if strings.HasPrefix(hash, "$argon2id$") {
		_, err := parseArgon2(hash)
		return err
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return errors.New("password_hash is neither bcrypt nor argon2id")
	}
	return nil
}

type argon2Params struct {
	memory    uint32
	time      uint32
	threads   uint8
	salt, key []byte
}

// parseArgon2 reads the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=4$<salt b64>$<key b64>
func parseArgon2(s string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, errors.New("malformed argon2id hash")
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil {
		return p, errors.New("malformed argon2id parameters")
	}
	if p.memory < 8 || p.memory > 4<<20 || p.time < 1 || p.time > 100 || threads < 1 || threads > 255 {
		return p, errors.New("argon2id parameters out of range")
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, errors.New("malformed argon2id salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errors.New("malformed argon2id key")
	}
	return p, nil
}

// HashArgon2id returns a PHC-format argon2id hash of pw (m=64 MiB, t=3, p=2).
func HashArgon2id(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const m, t, p = 64 * 1024, 3, 2
	key := argon2.IDKey([]byte(pw), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// RandomPassword returns a printable random password of n characters.
func RandomPassword(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		var x [1]byte
		for {
			_, _ = rand.Read(x[:]) // crypto/rand.Read never fails (Go 1.24+)
			if int(x[0]) < 256-256%len(alphabet) {
				break
			}
		}
		b[i] = alphabet[int(x[0])%len(alphabet)]
	}
	return string(b)
}
