package campaign

import (
	"regexp"
	"strconv"
	"strings"
)

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) container(b *body) Spec {
	s := &ContainerSpec{}
	if node, a, ok := b.str("node"); ok {
		if node == "" {
			b.errorf(a.Expr.Range(), "Empty node", "node is the host name of a reserved node, as in node = reservation.exp.nodes[0].")
		}
		s.Node = node
	}
	if image, a, ok := b.str("image"); ok {
		if image == "" || strings.ContainsAny(image, " \t\n") {
			b.errorf(a.Expr.Range(), "Invalid image", "%q is not an image reference: write a name and tag such as \"redis:7\" or \"ghcr.io/org/app:1.2\".", image)
		}
		s.Image = image
	}
	s.Env = b.env("env")
	if ports, a, ok := b.value("ports"); ok {
		s.Ports = map[int]int{}
		for it := ports.ElementIterator(); it.Next(); {
			k, v := it.Element()
			host, err := strconv.Atoi(k.AsString())
			if err != nil || host < 1 || host > 65535 {
				b.errorf(keyRange(a.Expr, k.AsString()), "Invalid port", "The host port %q is not a port number between 1 and 65535.", k.AsString())
				continue
			}
			if v.IsNull() {
				b.errorf(keyRange(a.Expr, k.AsString()), "Invalid port", "The container port for host port %d is null.", host)
				continue
			}
			c, msg := wholeNumber(v, 1, 65535)
			if msg != "" {
				b.errorf(keyRange(a.Expr, k.AsString()), "Invalid port", "The container port for host port %d %s.", host, msg)
				continue
			}
			s.Ports[host] = c
		}
	}
	for _, ib := range b.nested("init") {
		s.Init = append(s.Init, ib.process())
	}
	s.pending = d.finish()
	return s
}

// env reads a map of environment variables and checks their names.
func (b *body) env(name string) map[string]string {
	m, a := b.strMap(name)
	for _, k := range sortedKeys(m) {
		if !envVarName.MatchString(k) {
			b.errorf(keyRange(a.Expr, k), "Invalid environment variable name",
				"%q cannot be an environment variable: use letters, digits and underscores, not starting with a digit.", k)
		}
	}
	return m
}

// process reads command, args, env and dir.
func (b *body) process() Process {
	p := Process{}
	if cmd, a, ok := b.str("command"); ok {
		if strings.TrimSpace(cmd) == "" {
			b.errorf(a.Expr.Range(), "Empty command", "command is the program or shell command line to run, as in command = \"hostname\".")
		}
		p.Command = cmd
	}
	p.Args = b.strList("args")
	p.Env = b.env("env")
	if dir, _, ok := b.str("dir"); ok {
		p.Dir = dir
	}
	return p
}
