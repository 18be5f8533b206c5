//go:build race

package integration

// raceEnabled builds the server with -race as well.
const raceEnabled = true
