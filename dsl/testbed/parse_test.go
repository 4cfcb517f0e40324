package testbed

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// TestValid parses every file of testdata/valid and checks its model. A new
// fixture without a check fails, so none goes unchecked.
func TestValid(t *testing.T) {
	checks := map[string]func(t *testing.T, tb *Testbed, diags hcl.Diagnostics){
		"minimal.hcl": func(t *testing.T, tb *Testbed, diags hcl.Diagnostics) {
			noDiags(t, diags)
			s := tb.Site("lab")
			if s == nil || s.Name != "lab" || s.Latitude != 0 || len(s.Clusters) != 1 {
				t.Fatalf("site = %+v, want lab named after its uid with one cluster", s)
			}
			c := tb.Cluster("lab", "box")
			if c == nil || c.Site != "lab" {
				t.Fatalf("cluster = %+v", c)
			}
			if !reflect.DeepEqual(c.Queues, []string{"default", "besteffort", "admin"}) {
				t.Errorf("queues = %v, want the defaults", c.Queues)
			}
			want := &SimConfig{BootTime: DefaultBootTime, DeployTime: DefaultDeployTime, CopyRate: DefaultCopyRate, Seed: defaultSeed("lab", "box")}
			if c.Driver.Kind != "sim" || !reflect.DeepEqual(c.Driver.Sim, want) {
				t.Errorf("driver = %+v %+v, want sim %+v", c.Driver, c.Driver.Sim, want)
			}
			if want.Seed == 0 || want.Seed == defaultSeed("lab", "other") {
				t.Errorf("derived seeds are not distinct: %d", want.Seed)
			}
			wantNodes(t, tb, "box-1", "box-2")
			n := tb.Node("box-2")
			if n.Site != "lab" || n.Cluster != "box" || n.Properties != (Properties{Cores: 4, Memory: 8 << 30}) {
				t.Errorf("box-2 = %+v", n)
			}
		},
		"full.hcl": func(t *testing.T, tb *Testbed, diags hcl.Diagnostics) {
			noDiags(t, diags)
			s := tb.Site("rennes")
			if s.Name != "Rennes" || s.Description != "Brittany" || s.Location != "Rennes, France" || s.Latitude != 48.1147 || s.Longitude != -1.6794 {
				t.Errorf("rennes = %+v", s)
			}
			if got := []string{tb.Sites[0].UID, tb.Sites[1].UID}; !reflect.DeepEqual(got, []string{"rennes", "lyon"}) {
				t.Errorf("site order = %v", got)
			}
			c := tb.Cluster("rennes", "paravance")
			if c.Description != "Haswell nodes" || c.Model != "Dell PowerEdge R630" || !reflect.DeepEqual(c.Queues, []string{"besteffort", "default"}) {
				t.Errorf("paravance = %+v", c)
			}
			wantSim := &SimConfig{BootTime: 90 * time.Second, DeployTime: 4 * time.Minute, CopyRate: 10e9, FailureRate: 0.01, Seed: 7}
			if !reflect.DeepEqual(c.Driver.Sim, wantSim) || c.Driver.Agents != nil {
				t.Errorf("paravance driver = %+v", c.Driver.Sim)
			}
			// Declaration order, first = 0.
			wantNodes(t, tb, "paravance-special", "paravance-0", "paravance-1", "paravance-2", "paravance-last",
				"parasilo-10-x", "parasilo-11-x", "nova-1")
			special := tb.Node("paravance-special").Properties
			if special != (Properties{Cores: 32, CPUModel: "AMD EPYC 7452", Memory: 256 << 30, Disk: 1e12, GPUCount: 2, GPUModel: "NVIDIA A40", NetworkRate: 25e9}) {
				t.Errorf("special = %+v", special)
			}
			p1 := tb.Node("paravance-1").Properties
			if p1 != (Properties{Cores: 16, CPUModel: "Intel Xeon E5-2630 v3", Memory: 128 << 30, Disk: 600e9, NetworkRate: 10e9}) {
				t.Errorf("paravance-1 = %+v", p1)
			}
			if d := tb.Cluster("rennes", "parasilo").Driver; d.Kind != "docker" || d.Sim != nil || d.Agents != nil {
				t.Errorf("parasilo driver = %+v", d)
			}
			if q := tb.Cluster("rennes", "parasilo").Queues; !reflect.DeepEqual(q, []string{"admin"}) {
				t.Errorf("parasilo queues = %v", q)
			}
			if seed := tb.Cluster("lyon", "nova").Driver.Sim.Seed; seed != -3 {
				t.Errorf("nova seed = %d", seed)
			}
			if tb.Cluster("lyon", "paravance") != nil || tb.Cluster("nowhere", "nova") != nil || tb.Site("nancy") != nil || tb.Node("nova-2") != nil {
				t.Error("lookups of absent things must return nil")
			}
		},
		"agent.hcl": func(t *testing.T, tb *Testbed, diags hcl.Diagnostics) {
			noDiags(t, diags)
			d := tb.Cluster("local", "lab").Driver
			want := map[string]string{"lab-1": "127.0.0.2:7070", "lab-2": "127.0.0.3:7070", "gpubox": "[::1]:7071"}
			if d.Kind != "agent" || d.Sim != nil || !reflect.DeepEqual(d.Agents, want) {
				t.Errorf("driver = %+v, want agents %v", d, want)
			}
			wantNodes(t, tb, "lab-1", "lab-2", "gpubox")
			if g := tb.Node("gpubox").Properties; g.GPUCount != 1 || g.GPUModel != "NVIDIA RTX 4090" {
				t.Errorf("gpubox = %+v", g)
			}
		},
		"units.hcl": func(t *testing.T, tb *Testbed, diags hcl.Diagnostics) {
			noDiags(t, diags)
			sim := tb.Cluster("units", "mixed").Driver.Sim
			if sim.BootTime != 90*time.Second || sim.DeployTime != 90*time.Minute || sim.CopyRate != 10e9 || sim.FailureRate != 0 {
				t.Errorf("sim = %+v", sim)
			}
			wantNodes(t, tb, "mixed-1", "mixed-2", "mixed-3")
			if p := tb.Node("mixed-3").Properties; p != (Properties{Cores: 1, Memory: 1 << 30, Disk: 1.5e12, NetworkRate: 100e6}) {
				t.Errorf("mixed-3 = %+v", p)
			}
		},
		"warnings.hcl": func(t *testing.T, tb *Testbed, diags hcl.Diagnostics) {
			if tb == nil {
				t.Fatal("warnings must not withhold the testbed")
			}
			got := summaries(diags)
			want := []string{"GPU model without GPUs", "Shared agent address"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("diagnostics = %v, want warnings %v", got, want)
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagWarning || d.Subject == nil {
					t.Errorf("%v: want a warning with a subject", d)
				}
			}
			if p := tb.Node("a-1").Properties; p.GPUCount != 0 || p.GPUModel != "NVIDIA T4" {
				t.Errorf("a-1 = %+v", p)
			}
		},
	}

	files, _ := filepath.Glob("testdata/valid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			check := checks[name]
			if check == nil {
				t.Fatalf("no check for %s: add one to TestValid", path)
			}
			p := NewParser()
			tb, diags := p.ParseFile(path)
			if diags.HasErrors() {
				t.Fatalf("unexpected errors:\n%s", FormatDiagnostics(p.Files(), diags))
			}
			check(t, tb, diags)
			checkInvariants(t, tb)
		})
	}
	for name := range checks {
		if _, err := os.Stat(filepath.Join("testdata/valid", name)); err != nil {
			t.Errorf("check for missing fixture %s", name)
		}
	}
}

// TestInvalid parses every file of testdata/invalid and compares the rendered
// diagnostics with its .golden file; go test -run TestInvalid -update
// rewrites them.
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			p := NewParser()
			tb, diags := p.ParseFile(path)
			if !diags.HasErrors() {
				t.Fatalf("%s parsed without errors", path)
			}
			if tb != nil {
				t.Error("a testbed with errors must be nil")
			}
			for _, d := range diags {
				if d.Subject == nil || d.Summary == "" || d.Detail == "" {
					t.Errorf("diagnostic without subject, summary or detail: %+v", d)
				}
			}
			got := FormatDiagnostics(p.Files(), diags)
			if strings.Contains(got, "source code not available") {
				t.Errorf("snippets missing from:\n%s", got)
			}
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestInvalid -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics of %s differ from %s (-update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, golden, got, want)
			}
		})
	}
	// A golden file whose fixture was removed is dead weight.
	goldens, _ := filepath.Glob("testdata/invalid/*.golden")
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".hcl"); err != nil {
			t.Errorf("%s has no fixture", g)
		}
	}
}

func noDiags(t *testing.T, diags hcl.Diagnostics) {
	t.Helper()
	if len(diags) > 0 {
		t.Errorf("unexpected diagnostics: %v", diags)
	}
}

func wantNodes(t *testing.T, tb *Testbed, uids ...string) {
	t.Helper()
	var got []string
	for _, n := range tb.Nodes() {
		got = append(got, n.UID)
	}
	if !reflect.DeepEqual(got, uids) {
		t.Errorf("nodes = %v, want %v", got, uids)
	}
}

func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	sort.Strings(out)
	return out
}

// checkInvariants holds for every testbed Parse returns; the fuzz target
// uses it too.
func checkInvariants(t *testing.T, tb *Testbed) {
	t.Helper()
	if tb == nil {
		t.Fatal("no errors but no testbed")
	}
	if len(tb.Sites) == 0 {
		t.Error("testbed without sites")
	}
	seen := map[string]bool{}
	total := 0
	for _, s := range tb.Sites {
		if !ValidUID(s.UID) || len(s.Clusters) == 0 {
			t.Errorf("site %q: invalid uid or no clusters", s.UID)
		}
		for _, c := range s.Clusters {
			if !ValidUID(c.UID) || c.Site != s.UID || len(c.Nodes) == 0 || len(c.Queues) == 0 {
				t.Errorf("cluster %s/%s: bad uid, site, nodes or queues", s.UID, c.UID)
			}
			switch c.Driver.Kind {
			case DriverSim:
				if c.Driver.Sim == nil || c.Driver.Sim.CopyRate <= 0 || c.Driver.Sim.FailureRate < 0 || c.Driver.Sim.FailureRate > 1 {
					t.Errorf("cluster %s/%s: bad sim config %+v", s.UID, c.UID, c.Driver.Sim)
				}
			case DriverAgent:
				if len(c.Driver.Agents) != len(c.Nodes) {
					t.Errorf("cluster %s/%s: %d agents for %d nodes", s.UID, c.UID, len(c.Driver.Agents), len(c.Nodes))
				}
				for _, n := range c.Nodes {
					if c.Driver.Agents[n.UID] == "" {
						t.Errorf("node %s has no agent", n.UID)
					}
				}
			case DriverDocker:
			default:
				t.Errorf("cluster %s/%s: driver %q", s.UID, c.UID, c.Driver.Kind)
			}
			for _, n := range c.Nodes {
				total++
				if seen[n.UID] {
					t.Errorf("node uid %q is not unique", n.UID)
				}
				seen[n.UID] = true
				if !ValidUID(n.UID) || n.Site != s.UID || n.Cluster != c.UID {
					t.Errorf("node %+v: bad uid or parents", n)
				}
				if n.Properties.Cores < 1 || n.Properties.Memory <= 0 || n.Properties.GPUCount < 0 {
					t.Errorf("node %s: bad properties %+v", n.UID, n.Properties)
				}
				if tb.Node(n.UID) != n {
					t.Errorf("Node(%q) does not find it", n.UID)
				}
			}
		}
	}
	if total > MaxNodes || len(tb.Nodes()) != total {
		t.Errorf("%d nodes, Nodes() has %d", total, len(tb.Nodes()))
	}
}
