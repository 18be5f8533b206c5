package ftpgateway

import "strings"

// Explicit FTPS (RFC 4217): AUTH TLS on the control connection, PBSZ 0,
// PROT P (or C) for data connections.

func (c *session) cmdAUTH(arg string) bool {
	switch {
	case c.srv.cfg.TLS == nil:
		c.send(replyNotImplemented)
	case c.tlsOn:
		c.send(replyAuthAgain)
	case strings.EqualFold(strings.TrimSpace(arg), "TLS"), strings.EqualFold(strings.TrimSpace(arg), "TLS-C"),
		strings.EqualFold(strings.TrimSpace(arg), "SSL"):
		c.send(replyAuthOK)
		if err := c.upgradeTLS(); err != nil {
			c.log.Warn("TLS handshake failed", "error", err)
			return true
		}
		// A new TLS session starts a new login (RFC 4217 §4).
		c.userName, c.user, c.vs = "", nil, nil
	default:
		c.send(replyNotImplParam)
	}
	return false
}

func (c *session) cmdPBSZ(arg string) bool {
	if !c.tlsOn {
		c.send(replyPbszNoAuth)
		return false
	}
	c.pbsz = true
	c.send(replyPbszOK)
	return false
}

func (c *session) cmdPROT(arg string) bool {
	if !c.tlsOn || !c.pbsz {
		c.send(replyPbszNoAuth)
		return false
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		c.protP = true
		c.send(replyProtPrivate)
	case "C":
		if c.srv.pol().FTP.RequireTLS {
			c.send(replyDataProtNeeded)
			return false
		}
		c.protP = false
		c.send(replyProtClear)
	case "S", "E":
		c.send(replyNotImplParam)
	default:
		c.send(replyNotImplParam)
	}
	return false
}

// dataProtected refuses a command that would open a data connection
// before PROT P when require_tls is on (RFC 4217 §9: 521). Nothing is
// opened: a passive listener set up for the command is closed without
// accepting, and a PORT address is forgotten, so no byte of a file or a
// listing ever goes in clear. It reports whether the command may go on.
func (c *session) dataProtected(verb string) bool {
	if !c.srv.pol().FTP.RequireTLS || c.protP {
		return true
	}
	c.data.close()
	c.log.Warn("data transfer refused without PROT P", "verb", verb)
	c.send(replyDataProtNeeded)
	return false
}
