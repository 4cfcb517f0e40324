package campaign

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Plan is what `gridflow campaign plan` shows: the step graph by levels and
// what each step will do, as far as it is known before the campaign runs.
type Plan struct {
	Campaign string
	// Levels groups step addresses by graph level: the steps of a level
	// depend only on steps of earlier levels, so they may run in parallel.
	Levels  [][]string
	Steps   []PlanStep
	Outputs []PlanOutput
	// NodesBySite adds up the nodes that the reservations ask for per site,
	// for those whose site and node count are known.
	NodesBySite map[string]int
}

// PlanStep is one step in a Plan.
type PlanStep struct {
	Address   string
	Kind      Kind
	Level     int
	DependsOn []string
	// Expansion describes count or for_each: "" for a single step,
	// "count = 3", "for_each over 2 keys", or the expression decided at run time.
	Expansion string
	// Instances are the instances known now; empty when the expansion is
	// decided at run time, in which case Template describes any instance.
	Instances []PlanInstance
	Template  *PlanInstance
	OnFailure string
	Timeout   time.Duration
	// Reserves lists node requests of a reservation; Moves the files of a transfer.
	Reserves []NodeRequest
	Moves    []FileMove
}

// PlanInstance is one instance of a step in a Plan.
type PlanInstance struct {
	Address string
	Summary string
	Pending []PendingArg
}

// NodeRequest is what a reservation instance asks for.
type NodeRequest struct {
	Instance string
	Site     string
	Cluster  string // "" for any cluster
	Nodes    int
	Walltime time.Duration
}

// FileMove is one file of a transfer instance.
type FileMove struct {
	Instance    string
	Sources     []string
	Destination string
}

// PlanOutput is one output in a Plan.
type PlanOutput struct {
	Name      string
	DependsOn []string
}

// Plan describes the campaign without running anything.
func (c *Campaign) Plan() Plan {
	p := Plan{Campaign: c.Filename, NodesBySite: map[string]int{}}
	for _, st := range c.Steps {
		for len(p.Levels) <= st.Level {
			p.Levels = append(p.Levels, nil)
		}
		p.Levels[st.Level] = append(p.Levels[st.Level], st.Address)
		ps := PlanStep{
			Address:   st.Address,
			Kind:      st.Kind,
			Level:     st.Level,
			DependsOn: st.DependsOn,
			OnFailure: st.OnFailure.String(),
			Timeout:   st.Timeout,
			Expansion: st.expansionText(),
		}
		if spec := st.template; spec != nil {
			ps.Template = &PlanInstance{Address: st.Address + "[*]", Summary: spec.Summary(), Pending: spec.Pending()}
		}
		for _, inst := range st.StaticInstances {
			if inst.Spec == nil {
				continue
			}
			ps.Instances = append(ps.Instances, PlanInstance{Address: inst.Address, Summary: inst.Spec.Summary(), Pending: inst.Spec.Pending()})
			switch s := inst.Spec.(type) {
			case *ReservationSpec:
				if len(s.Groups) == 0 {
					ps.Reserves = append(ps.Reserves, NodeRequest{Instance: inst.Address, Site: s.Site, Cluster: s.Cluster, Nodes: s.Nodes, Walltime: s.Walltime})
				}
				for _, g := range s.Groups {
					ps.Reserves = append(ps.Reserves, NodeRequest{Instance: inst.Address, Site: s.Site, Cluster: g.Cluster, Nodes: g.Nodes, Walltime: s.Walltime})
				}
				if _, unknownSite := s.expr("site"); !unknownSite {
					if _, unknownNodes := s.expr("nodes"); !unknownNodes {
						p.NodesBySite[s.Site] += s.TotalNodes()
					}
				}
			case *TransferSpec:
				for _, f := range s.Files {
					ps.Moves = append(ps.Moves, FileMove{Instance: inst.Address, Sources: f.Sources, Destination: f.Destination})
				}
			}
		}
		p.Steps = append(p.Steps, ps)
	}
	for _, o := range c.Outputs {
		p.Outputs = append(p.Outputs, PlanOutput{Name: o.Name, DependsOn: o.DependsOn})
	}
	return p
}

func (st *Step) expansionText() string {
	switch {
	case !st.Expanded():
		return ""
	case st.expandable && st.Count != nil:
		return fmt.Sprintf("count = %d", len(st.StaticInstances))
	case st.expandable:
		return fmt.Sprintf("for_each over %s", plural(len(st.StaticInstances), "key"))
	}
	d := &decoder{files: st.campaign.files}
	if st.Count != nil {
		return "count = " + d.source(st.Count.Range()) + ", known at run time"
	}
	return "for_each = " + d.source(st.ForEach.Range()) + ", known at run time"
}

// String describes the policy: "abort", "continue", "retry 3 times (backoff 30s), then abort".
func (p FailurePolicy) String() string {
	then := string(p.Then)
	if then == "" {
		then = string(Abort)
	}
	if p.Retry == nil {
		return then
	}
	return fmt.Sprintf("retry up to %d attempts (backoff %s, doubling), then %s", p.Retry.Attempts, formatDuration(p.Retry.Backoff), then)
}

// maxPlanInstances is how many instances of one step String prints.
const maxPlanInstances = 5

// String renders the plan for a terminal.
func (p Plan) String() string {
	var b strings.Builder
	nSteps := len(p.Steps)
	fmt.Fprintf(&b, "Campaign %s: %s in %s, %s\n", p.Campaign, plural(nSteps, "step"), plural(len(p.Levels), "level"), plural(len(p.Outputs), "output"))
	byAddr := map[string]*PlanStep{}
	for i := range p.Steps {
		byAddr[p.Steps[i].Address] = &p.Steps[i]
	}
	for lvl, addrs := range p.Levels {
		fmt.Fprintf(&b, "\nLevel %d\n", lvl)
		for _, a := range addrs {
			s := byAddr[a]
			fmt.Fprintf(&b, "  %s", s.Address)
			if s.Expansion != "" {
				fmt.Fprintf(&b, "  (%s)", s.Expansion)
			}
			b.WriteString("\n")
			if len(s.DependsOn) > 0 {
				fmt.Fprintf(&b, "      after      %s\n", strings.Join(s.DependsOn, ", "))
			}
			for i, inst := range s.Instances {
				if i == maxPlanInstances {
					fmt.Fprintf(&b, "      … and %d more instances\n", len(s.Instances)-maxPlanInstances)
					break
				}
				if inst.Address == s.Address {
					fmt.Fprintf(&b, "      %s\n", inst.Summary)
				} else {
					fmt.Fprintf(&b, "      %s: %s\n", strings.TrimPrefix(inst.Address, s.Address), inst.Summary)
				}
			}
			if s.Template != nil {
				fmt.Fprintf(&b, "      [each]: %s\n", s.Template.Summary)
			}
			if s.OnFailure != string(Abort) {
				fmt.Fprintf(&b, "      on failure %s\n", s.OnFailure)
			}
			if s.Timeout > 0 {
				fmt.Fprintf(&b, "      timeout    %s\n", formatDuration(s.Timeout))
			}
		}
	}
	if len(p.NodesBySite) > 0 {
		b.WriteString("\nNodes requested")
		sites := make([]string, 0, len(p.NodesBySite))
		for s := range p.NodesBySite {
			sites = append(sites, s)
		}
		sort.Strings(sites)
		for i, s := range sites {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(&b, "%s%s %d", sep, s, p.NodesBySite[s])
		}
		b.WriteString("\n")
	}
	if len(p.Outputs) > 0 {
		b.WriteString("\nOutputs\n")
		for _, o := range p.Outputs {
			fmt.Fprintf(&b, "  %s", o.Name)
			if len(o.DependsOn) > 0 {
				fmt.Fprintf(&b, "  (from %s)", strings.Join(o.DependsOn, ", "))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
