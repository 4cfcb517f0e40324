// Command gridflow is Gridflow's single binary: the dev and server roles, the
// node agent, and the client verbs. This package only wires; the work lives in
// the packages it imports.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "gridflow:", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "gridflow",
		Usage:   "durable campaigns on shared testbeds",
		Version: version,
		Commands: []*cli.Command{
			devCommand(),
			serverCommand(),
			migrateCommand(),
			userCommand(),
			projectCommand(),
			testbedCommand(),
			agentCommand(),
			campaignCommand(),
			fmtCommand(),
			envCommand(),
		},
	}
}
