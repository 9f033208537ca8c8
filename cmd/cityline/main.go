// Command cityline is Cityline's one binary: the server for every channel
// (serve), a terminal conversation (chat), the router's reading of
// messages (ask), content-pack validation (index), routing accuracy
// (test), staff case tools (case) and the load generator (loadtest).
// It is the only package that knows every other one: it reads flags and
// the environment and wires the parts together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Cityline, the open-source assistant for a city's 311 line.

Usage:
  cityline serve    [--addr :8311] [--content DIR] [--data DIR] [--redis URL] [--postgres URL] [--dev]
  cityline chat     [--content DIR] [--data DIR] [--json] [--channel web|sms|voice] [--contact PHONE]
  cityline ask      [--content DIR] [--json] [TEXT... | -]
  cityline index    [--content DIR]
  cityline test     [--content DIR] [--min-accuracy X] [--calibrate] FILE...
  cityline case     list|show|update ...
  cityline report   [--since 7d]
  cityline loadtest [--self | --target URL] [--duration 10s] [--concurrency 64] [--json]

Every flag can also be set in the environment: --content is CITYLINE_CONTENT,
--data is CITYLINE_DATA, and so on. Run "cityline COMMAND -h" for details.
`

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"ask":      cmdAsk,
		"index":    cmdIndex,
		"test":     cmdTest,
		"chat":     cmdChat,
		"case":     cmdCase,
		"serve":    cmdServe,
		"report":   cmdReport,
		"loadtest": cmdLoadtest,
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "cityline: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdin, stdout, stderr); err != nil {
		if err == errUsage {
			return 2
		}
		var ex exitError
		if asExit(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintln(stderr, "cityline "+name+": "+ex.msg)
			}
			return ex.code
		}
		fmt.Fprintf(stderr, "cityline %s: %v\n", name, err)
		return 1
	}
	return 0
}
