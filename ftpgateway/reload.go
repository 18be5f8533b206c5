package ftpgateway

import (
	"errors"

	"github.com/sluice/sluice/policy"
)

// Reload makes p the policy of every new connection, login and command:
// users, limits, [ftp] settings read per session or command (timers,
// passive ports, anonymous, require_tls, MOTD). Sessions already logged
// in keep their user. It also gives this server's pre-authentication
// budget p's limits. The listen address, the TLS certificate and the
// reload command need a restart. On error the policy in force is kept.
func (s *Server) Reload(p *policy.Config) error {
	if p == nil {
		return errors.New("ftpgateway: Reload without a policy")
	}
	if p.FTP.RequireTLS && s.cfg.TLS == nil {
		return errors.New("ftpgateway: require_tls without a TLS configuration")
	}
	s.cur.Store(p)
	s.budget.SetLimits(p.Limits)
	return nil
}

// pol is the policy in force.
func (s *Server) pol() *policy.Config { return s.cur.Load() }
