package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "manage users and their tokens through the REST API (administrators)",
		Flags: clientFlags,
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list users", Action: func(c *cli.Context) error {
				var out any
				if err := call(c, "GET", "/v1/users?limit=1000", "", nil, &out); err != nil {
					return err
				}
				printJSON(out)
				return nil
			}},
			{Name: "create", Usage: "create a user", ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "password", Usage: "at least 8 characters", EnvVars: []string{"GRIDFLOW_USER_PASSWORD"}, Required: true},
					&cli.StringFlag{Name: "email"},
					&cli.BoolFlag{Name: "admin"},
					&cli.StringSliceFlag{Name: "project", Usage: "project to join (repeatable)"},
				},
				Action: func(c *cli.Context) error {
					name := c.Args().First()
					if name == "" {
						return errors.New("give the user name: gridflow user create NAME --password …")
					}
					var out any
					body := map[string]any{"name": name, "password": c.String("password"), "email": c.String("email"),
						"admin": c.Bool("admin"), "projects": c.StringSlice("project")}
					if err := call(c, "POST", "/v1/users", "application/json", jsonBody(body), &out); err != nil {
						return err
					}
					printJSON(out)
					return nil
				}},
			{Name: "delete", Usage: "delete a user", ArgsUsage: "NAME", Action: func(c *cli.Context) error {
				if c.Args().First() == "" {
					return errors.New("give the user name")
				}
				return call(c, "DELETE", "/v1/users/"+c.Args().First(), "", nil, nil)
			}},
			{Name: "token", Usage: "create a bearer token for a user", ArgsUsage: "NAME",
				Flags: []cli.Flag{&cli.StringFlag{Name: "ttl", Value: "720h", Usage: "lifetime"}, &cli.StringFlag{Name: "name", Value: "cli"}},
				Action: func(c *cli.Context) error {
					if c.Args().First() == "" {
						return errors.New("give the user name")
					}
					var out any
					body := map[string]any{"ttl": c.String("ttl"), "name": c.String("name")}
					if err := call(c, "POST", "/v1/users/"+c.Args().First()+"/tokens", "application/json", jsonBody(body), &out); err != nil {
						return err
					}
					printJSON(out)
					return nil
				}},
			{Name: "revoke", Usage: "revoke a token by id", ArgsUsage: "TOKEN-ID", Action: func(c *cli.Context) error {
				if c.Args().First() == "" {
					return errors.New("give the token id")
				}
				return call(c, "DELETE", "/v1/tokens/"+c.Args().First(), "", nil, nil)
			}},
		},
	}
}

func projectCommand() *cli.Command {
	return &cli.Command{
		Name:  "project",
		Usage: "manage projects through the REST API (administrators)",
		Flags: clientFlags,
		Subcommands: []*cli.Command{
			{Name: "list", Action: func(c *cli.Context) error {
				var out any
				if err := call(c, "GET", "/v1/projects?limit=1000", "", nil, &out); err != nil {
					return err
				}
				printJSON(out)
				return nil
			}},
			{Name: "create", ArgsUsage: "NAME", Flags: []cli.Flag{&cli.StringFlag{Name: "description"}}, Action: func(c *cli.Context) error {
				if c.Args().First() == "" {
					return errors.New("give the project name")
				}
				var out any
				if err := call(c, "POST", "/v1/projects", "application/json",
					jsonBody(map[string]any{"name": c.Args().First(), "description": c.String("description")}), &out); err != nil {
					return err
				}
				printJSON(out)
				return nil
			}},
			{Name: "add-member", ArgsUsage: "PROJECT USER", Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return errors.New("give the project and the user: gridflow project add-member PROJECT USER")
				}
				var out any
				if err := call(c, "POST", "/v1/projects/"+c.Args().Get(0)+"/members", "application/json",
					jsonBody(map[string]any{"user": c.Args().Get(1)}), &out); err != nil {
					return err
				}
				printJSON(out)
				return nil
			}},
		},
	}
}
