package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/engine/store"
)

func migrateCommand() *cli.Command {
	dbFlag := stringFlag("database", "./.gridflow/gridflow.db", "postgres:// URL or SQLite file")
	open := func(c *cli.Context) (*store.Store, error) {
		st, err := store.Open(c.Context, c.String("database"))
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redact(c.String("database")), err)
		}
		return st, nil
	}
	printVersion := func(c *cli.Context, st *store.Store) error {
		v, dirty, err := st.MigrationVersion(c.Context)
		if err != nil {
			return err
		}
		state := "clean"
		if dirty {
			state = "dirty: a migration failed half-way; fix the database, then run migrate up"
		}
		fmt.Printf("%s schema version %d (%s)\n", st.Dialect(), v, state)
		return nil
	}
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply or roll back the Gridflow database schema (SQLite or PostgreSQL)",
		Flags: []cli.Flag{dbFlag},
		Subcommands: []*cli.Command{
			{Name: "up", Usage: "apply every pending migration", Action: func(c *cli.Context) error {
				st, err := open(c)
				if err != nil {
					return err
				}
				defer st.Close()
				if err := st.MigrateUp(c.Context); err != nil {
					return err
				}
				return printVersion(c, st)
			}},
			{Name: "down", Usage: "roll back N migrations (default 1; 'all' for every one)", ArgsUsage: "[N|all]", Action: func(c *cli.Context) error {
				steps := 1
				switch a := c.Args().First(); a {
				case "":
				case "all":
					steps = 0
				default:
					n, err := strconv.Atoi(a)
					if err != nil || n <= 0 {
						return errors.New("migrate down takes a positive number of steps or 'all'")
					}
					steps = n
				}
				st, err := open(c)
				if err != nil {
					return err
				}
				defer st.Close()
				if err := st.MigrateDown(c.Context, steps); err != nil {
					return err
				}
				return printVersion(c, st)
			}},
			{Name: "version", Usage: "print the schema version", Action: func(c *cli.Context) error {
				st, err := open(c)
				if err != nil {
					return err
				}
				defer st.Close()
				return printVersion(c, st)
			}},
		},
	}
}
