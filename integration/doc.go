// Package integration holds sluice's end-to-end tests: the real binary,
// built once per run, serving a fresh data directory per test, driven by
// real clients (OpenSSH sftp, scp and ssh, ssh-audit) and by Go clients
// (golang.org/x/crypto/ssh with github.com/pkg/sftp) where a test needs
// precise timing or protocol-level control (STYLE §7).
//
// Missing client programs skip a test locally and fail it when the CI
// environment variable is set. Under -race the server binary is built with
// the race detector too, and a race report in its output fails the test.
package integration
