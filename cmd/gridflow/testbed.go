package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/dsl/testbed"
)

func testbedCommand() *cli.Command {
	return &cli.Command{
		Name:  "testbed",
		Usage: "check and publish testbed descriptions",
		Subcommands: []*cli.Command{
			{Name: "validate", Usage: "parse a testbed file and print its diagnostics", ArgsUsage: "FILE", Action: func(c *cli.Context) error {
				file := c.Args().First()
				if file == "" {
					return errors.New("give the testbed file: gridflow testbed validate FILE")
				}
				p := testbed.NewParser()
				tb, diags := p.ParseFile(file)
				if diags.HasErrors() {
					fmt.Fprint(os.Stderr, testbed.FormatDiagnostics(p.Files(), diags))
					return fmt.Errorf("%s: %d error(s)", file, len(diags.Errs()))
				}
				fmt.Printf("%s: %d sites, %d nodes\n", file, len(tb.Sites), len(tb.Nodes()))
				return nil
			}},
			{Name: "push", Usage: "replace the engine's testbed (a new version; administrators)", ArgsUsage: "FILE", Flags: clientFlags,
				Action: func(c *cli.Context) error {
					file := c.Args().First()
					src, err := os.ReadFile(file)
					if err != nil {
						return err
					}
					var out any
					if err := call(c, "PUT", "/v1/testbed", "text/x-hcl", src, &out); err != nil {
						return err
					}
					printJSON(out)
					return nil
				}},
		},
	}
}
