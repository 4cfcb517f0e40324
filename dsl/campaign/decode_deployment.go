package campaign

import (
	"regexp"
	"strings"
)

var envNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

func (d *decoder) deployment(b *body) Spec {
	s := &DeploymentSpec{}
	if env, a, ok := b.str("environment"); ok {
		name, version, hasVersion := strings.Cut(env, "@")
		switch {
		case !envNamePattern.MatchString(name):
			b.errorf(a.Expr.Range(), "Invalid environment",
				"%q is not an environment: write \"name@version\", as in \"debian12-min@2024.1\", or just the name for the newest version.", env)
		case hasVersion && !envNamePattern.MatchString(version):
			b.errorf(a.Expr.Range(), "Invalid environment version",
				"The version of %q is empty or has characters other than letters, digits, dots, dashes and underscores. Write \"name@version\", as in \"debian12-min@2024.1\".", env)
		default:
			s.Environment, s.Name, s.Version = env, name, version
		}
	}
	if nodes := b.strList("nodes"); nodes != nil {
		if len(nodes) == 0 {
			b.errorf(b.content.Attributes["nodes"].Expr.Range(), "No nodes to deploy", "nodes is empty: a deployment needs at least one node, as in nodes = reservation.exp.nodes.")
		}
		s.Nodes = nodes
	}
	s.Force = b.boolean("force", false)
	for _, t := range b.nested("timeouts") {
		s.Timeouts = DeployTimeouts{
			Prepare: t.duration("prepare", 0),
			Write:   t.duration("write", 0),
			Verify:  t.duration("verify", 0),
			Boot:    t.duration("boot", 0),
		}
	}
	s.pending = d.finish()
	return s
}
