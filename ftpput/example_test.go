package ftpput_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/sluice/sluice/ftpput"
)

// Put a file in active mode, as the device's "FTP+put 192.168.214.58
// root secret OS_FILE.BIN" does, with the progress sized to the terminal
// (or the manual's percent line when stdout is no terminal), and exit
// with the manual's status. Ctrl-C resets the connections.
func ExamplePut() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := ftpput.Config{
		Addr:     "192.168.214.58:21",
		User:     "root",
		Pass:     "secret",
		File:     "OS_FILE.BIN",
		Timeout:  30 * time.Second,
		Progress: ftpput.Progress{Columns: ftpput.TerminalColumns(os.Stdout), Every: time.Second},
	}
	err := ftpput.Put(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err) // the details; stdout has the manual's message
	}
	os.Exit(ftpput.ExitCode(err))
}
