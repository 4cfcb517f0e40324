package campaign

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Spec is the decoded body of one step instance: what the engine is asked to
// do. During validation the values that depend on other steps' outputs are
// unknown: their fields are left at their zero value and listed by Pending.
// At run time a spec with pending arguments means a value the engine has
// not recorded yet.
type Spec interface {
	Kind() Kind
	// Pending lists the arguments whose values are not known yet, with the
	// source text of their expressions.
	Pending() []PendingArg
	// Summary describes the instance in one line, for plans and logs.
	Summary() string
}

// PendingArg is an argument whose value is known only at run time.
type PendingArg struct {
	Name string // "nodes", "files[0].destination"
	Expr string // "reservation.exp.nodes"
}

type pending struct{ args []PendingArg }

// Pending implements Spec.
func (p *pending) Pending() []PendingArg { return p.args }

func (p *pending) expr(name string) (string, bool) {
	for _, a := range p.args {
		if a.Name == name {
			return a.Expr, true
		}
	}
	return "", false
}

// show renders a field for a summary: its value when known, its expression otherwise.
func (p *pending) show(name, known string) string {
	if e, ok := p.expr(name); ok {
		return "(" + e + ")"
	}
	return known
}

// ReservationSpec asks for nodes on a site.
type ReservationSpec struct {
	pending
	Site string
	// Cluster restricts Nodes to one cluster; "" is any cluster of the site.
	Cluster string
	// Nodes is the number of nodes when the request is not split by cluster.
	Nodes int
	// Groups is the per-cluster form, nodes = { paravance = 2, parasilo = 1 },
	// sorted by cluster.
	Groups     []NodeGroup
	Properties map[string]cty.Value
	Walltime   time.Duration
	Queue      string
	Types      []string
	// Start is the start of an advance reservation, or nil for "as soon as possible".
	Start *time.Time
}

// NodeGroup is one cluster's part of a reservation.
type NodeGroup struct {
	Cluster string
	Nodes   int
}

// Kind implements Spec.
func (*ReservationSpec) Kind() Kind { return KindReservation }

// TotalNodes is the number of nodes asked for, all groups together.
func (s *ReservationSpec) TotalNodes() int {
	if len(s.Groups) == 0 {
		return s.Nodes
	}
	n := 0
	for _, g := range s.Groups {
		n += g.Nodes
	}
	return n
}

// Summary implements Spec.
func (s *ReservationSpec) Summary() string {
	var b strings.Builder
	b.WriteString("reserve ")
	switch {
	case len(s.Groups) > 0:
		parts := make([]string, len(s.Groups))
		for i, g := range s.Groups {
			parts[i] = fmt.Sprintf("%s of %s", plural(g.Nodes, "node"), g.Cluster)
		}
		b.WriteString(strings.Join(parts, " + "))
	default:
		b.WriteString(s.show("nodes", plural(s.Nodes, "node")))
		if c := s.show("cluster", s.Cluster); c != "" {
			b.WriteString(" of " + c)
		}
	}
	b.WriteString(" on " + s.show("site", s.Site))
	if len(s.Properties) > 0 {
		b.WriteString(" with " + formatProperties(s.Properties))
	}
	b.WriteString(" for " + s.show("walltime", formatDuration(s.Walltime)))
	if s.Queue != "" && s.Queue != "default" {
		b.WriteString(", queue " + s.Queue)
	}
	if len(s.Types) > 0 {
		b.WriteString(", types " + strings.Join(s.Types, ","))
	}
	if s.Start != nil {
		b.WriteString(", from " + s.Start.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// DeploymentSpec installs an environment on nodes.
type DeploymentSpec struct {
	pending
	// Environment is "name@version" as written; Version is "" for the newest.
	Environment string
	Name        string
	Version     string
	Nodes       []string
	Force       bool
	Timeouts    DeployTimeouts
}

// DeployTimeouts bound each stage of a deployment on one node; zero means
// the engine's default.
type DeployTimeouts struct {
	Prepare, Write, Verify, Boot time.Duration
}

// Kind implements Spec.
func (*DeploymentSpec) Kind() Kind { return KindDeployment }

// Summary implements Spec.
func (s *DeploymentSpec) Summary() string {
	out := fmt.Sprintf("deploy %s on %s", s.show("environment", s.Environment), s.show("nodes", plural(len(s.Nodes), "node")))
	if s.Force {
		out += " (forced)"
	}
	return out
}

// TransferSpec moves files, FTS3-style.
type TransferSpec struct {
	pending
	Files          []TransferFile
	VerifyChecksum bool
	Overwrite      bool
	Retry          int
	RetryDelay     time.Duration
	Priority       int
}

// TransferFile is one files block: alternative sources for one destination.
type TransferFile struct {
	Sources     []string
	Destination string
	// ChecksumAlgorithm is "adler32", "md5" or "sha256", or "" for the engine's default.
	ChecksumAlgorithm string
	// Checksum is the expected hex digest, or "" to compare source and destination.
	Checksum string
	// LFN is the catalogue file the destination is registered as a replica of ("": none).
	LFN string
}

// Kind implements Spec.
func (*TransferSpec) Kind() Kind { return KindTransfer }

// Summary implements Spec.
func (s *TransferSpec) Summary() string {
	if len(s.Files) == 0 {
		return "move files"
	}
	f := s.Files[0]
	src := s.show("files[0].sources", strings.Join(f.Sources, " | "))
	if e, ok := s.expr("files[0].source"); ok {
		src = "(" + e + ")"
	}
	out := fmt.Sprintf("move %s: %s → %s", plural(len(s.Files), "file"), src, s.show("files[0].destination", f.Destination))
	if len(s.Files) > 1 {
		out += fmt.Sprintf(" and %d more", len(s.Files)-1)
	}
	return out
}

// ContainerSpec starts a container on a node.
type ContainerSpec struct {
	pending
	Node  string
	Image string
	Env   map[string]string
	// Ports maps host ports to container ports.
	Ports map[int]int
	Init  []Process
}

// Process is a command with its arguments and environment.
type Process struct {
	Command string
	Args    []string
	Env     map[string]string
	Dir     string
}

// Kind implements Spec.
func (*ContainerSpec) Kind() Kind { return KindContainer }

// Summary implements Spec.
func (s *ContainerSpec) Summary() string {
	out := fmt.Sprintf("start container %s on %s", s.show("image", s.Image), s.show("node", s.Node))
	if len(s.Ports) > 0 {
		hosts := make([]int, 0, len(s.Ports))
		for h := range s.Ports {
			hosts = append(hosts, h)
		}
		sort.Ints(hosts)
		ps := make([]string, len(hosts))
		for i, h := range hosts {
			ps[i] = fmt.Sprintf("%d→%d", h, s.Ports[h])
		}
		out += ", ports " + strings.Join(ps, ",")
	}
	return out
}

// RunSpec runs a command on nodes or in a container.
type RunSpec struct {
	pending
	Process
	// Nodes run the command, each its own copy; empty when Container is set.
	Nodes []string
	// Container is the id of the container that runs the command.
	Container string
}

// Kind implements Spec.
func (*RunSpec) Kind() Kind { return KindRun }

// Shell reports whether Command is a shell command line (run with /bin/sh -c)
// rather than a program: it is when no args are given.
func (s *RunSpec) Shell() bool { return len(s.Args) == 0 }

// Summary implements Spec.
func (s *RunSpec) Summary() string {
	cmd := s.show("command", s.Command)
	if len(s.Args) > 0 {
		cmd += " " + strings.Join(s.Args, " ")
	}
	cmd = oneLine(cmd, 60)
	where := s.show("nodes", plural(len(s.Nodes), "node"))
	if _, isNodes := s.expr("nodes"); s.Container != "" || (!isNodes && len(s.Nodes) == 0) {
		where = "container " + s.show("container", s.Container)
	}
	return fmt.Sprintf("run `%s` on %s", cmd, where)
}

func plural(n int, one string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// formatDuration writes 2h, 1h30m, 45s rather than 2h0m0s.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatProperties(props map[string]cty.Value) string {
	keys := sortedKeys(props)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := props[k]
		var s string
		switch v.Type() {
		case cty.String:
			s = fmt.Sprintf("%q", v.AsString())
		case cty.Number:
			s = v.AsBigFloat().Text('f', -1)
		case cty.Bool:
			s = fmt.Sprint(v.True())
		}
		parts[i] = k + "=" + s
	}
	return strings.Join(parts, ",")
}

// oneLine collapses white space and cuts s to at most max runes.
func oneLine(s string, max int) string {
	if len(s) <= max && isOneLine(s) {
		return s // what the rest would return, without its copies
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// isOneLine reports whether s is ASCII with single spaces between words and
// none around them, so that strings.Fields and Join give s back.
func isOneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80 || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			return false
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return false
		}
	}
	return true
}

// JobSpec is a grid job: the engine picks a node of its sites, stages the
// files, runs the executable and brings its output back.
type JobSpec struct {
	pending
	Executable    string
	Arguments     string
	Sites         []string
	Cores         int
	Memory        string
	CPUTime       time.Duration
	Env           map[string]string
	Files         map[string]string // the input sandbox, by file name
	OutputSandbox []string
	JobName       string
}

// Kind implements Spec.
func (*JobSpec) Kind() Kind { return KindJob }

// Summary implements Spec.
func (s *JobSpec) Summary() string {
	cmd := oneLine(strings.TrimSpace(s.show("executable", s.Executable)+" "+s.show("arguments", s.Arguments)), 60)
	where := "any site"
	if _, pending := s.expr("sites"); pending || len(s.Sites) > 0 {
		where = s.show("sites", strings.Join(s.Sites, ", "))
	}
	out := fmt.Sprintf("grid job `%s` on %s", cmd, where)
	if len(s.Files) > 0 {
		out += fmt.Sprintf(", %s staged", plural(len(s.Files), "file"))
	}
	return out
}
