package sshd

import (
	"errors"
	"fmt"

	"github.com/sluice/sluice/policy"
	"golang.org/x/crypto/ssh"
)

// state is the policy in force and what is derived from it.
type state struct {
	pol    *policy.Config
	keys   map[string]map[string]bool // user → marshalled authorized keys
	sshCfg *ssh.ServerConfig          // without the per-connection callbacks
}

func (s *Server) newState(p *policy.Config) (*state, error) {
	st := &state{pol: p, keys: map[string]map[string]bool{}}
	for _, u := range p.Users {
		set := map[string]bool{}
		for i, line := range u.AuthorizedKeys {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("sshd: user %q: authorized key %d: %w", u.Name, i+1, err)
			}
			set[string(k.Marshal())] = true
		}
		st.keys[u.Name] = set
	}
	st.sshCfg = s.serverConfig(p)
	return st, nil
}

// Reload makes p the policy of every new connection and login: users,
// keys, limits, [ssh] algorithms and max_auth_tries. Connections already
// logged in keep their user. It also gives this server's
// pre-authentication budget p's limits. On error (a key that does not
// parse) the policy in force is kept. The listen address and host keys
// need a restart; the shared session limiter and defender are set by
// their owner.
func (s *Server) Reload(p *policy.Config) error {
	if p == nil {
		return errors.New("sshd: Reload without a policy")
	}
	st, err := s.newState(p)
	if err != nil {
		return err
	}
	s.cur.Store(st)
	s.budget.SetLimits(p.Limits)
	return nil
}

// pol is the policy in force.
func (s *Server) pol() *policy.Config { return s.cur.Load().pol }
