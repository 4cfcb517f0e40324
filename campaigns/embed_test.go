package campaigns_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/campaigns"
	"github.com/gridflow/gridflow/dsl/testbed"
)

// TestBuiltinTestbed guards what `gridflow dev` relies on: the embedded
// testbed parses and is big and varied enough for demos.
func TestBuiltinTestbed(t *testing.T) {
	src, name := campaigns.BuiltinTestbed()
	if name != "campaigns/testbeds/builtin.hcl" {
		t.Errorf("filename = %q", name)
	}
	p := testbed.NewParser()
	tb, diags := p.Parse(src, name)
	if len(diags) > 0 { // not even warnings in the file users copy from
		t.Fatalf("built-in testbed has diagnostics:\n%s", testbed.FormatDiagnostics(p.Files(), diags))
	}

	if n := len(tb.Sites); n < 3 {
		t.Errorf("%d sites, want at least 3", n)
	}
	clusters := tb.Clusters()
	if n := len(clusters); n < 6 {
		t.Errorf("%d clusters, want at least 6", n)
	}
	nodes := tb.Nodes()
	if n := len(nodes); n < 300 {
		t.Errorf("%d nodes, want at least 300", n)
	}

	seen := map[string]bool{}
	gpuNodes := 0
	for _, n := range nodes {
		if seen[n.UID] {
			t.Errorf("node uid %q appears twice", n.UID)
		}
		seen[n.UID] = true
		if got := tb.Node(n.UID); got != n {
			t.Errorf("Node(%q) = %v, want the node itself", n.UID, got)
		}
		if tb.Cluster(n.Site, n.Cluster) == nil {
			t.Errorf("node %q names cluster %s/%s, which does not exist", n.UID, n.Site, n.Cluster)
		}
		if n.Properties.GPUCount > 0 {
			gpuNodes++
			if n.Properties.GPUModel == "" {
				t.Errorf("node %q has GPUs without a model", n.UID)
			}
		}
		if n.Properties.Cores <= 0 || n.Properties.Memory <= 0 || n.Properties.NetworkRate <= 0 {
			t.Errorf("node %q has incomplete properties %+v", n.UID, n.Properties)
		}
	}
	if gpuNodes == 0 {
		t.Error("no GPU nodes")
	}

	gpuClusters := map[string]bool{}
	for _, c := range clusters {
		if c.Driver.Kind != testbed.DriverSim || c.Driver.Sim == nil {
			t.Errorf("cluster %s/%s: driver %q, want a configured sim driver", c.Site, c.UID, c.Driver.Kind)
			continue
		}
		sim := c.Driver.Sim
		// Seconds, not minutes: demos on `gridflow dev` must finish quickly.
		if sim.BootTime <= 0 || sim.BootTime > 10*time.Second || sim.DeployTime <= 0 || sim.DeployTime > 30*time.Second {
			t.Errorf("cluster %s/%s: boot %v, deploy %v; keep them within seconds", c.Site, c.UID, sim.BootTime, sim.DeployTime)
		}
		if sim.FailureRate < 0.01 || sim.FailureRate > 0.03 {
			t.Errorf("cluster %s/%s: failure rate %v, want 0.01..0.03", c.Site, c.UID, sim.FailureRate)
		}
		for _, n := range c.Nodes {
			if n.Properties.GPUCount > 0 {
				gpuClusters[c.UID] = true
			}
		}
	}
	if len(gpuClusters) < 2 {
		t.Errorf("GPU clusters %v, want at least 2", gpuClusters)
	}

	seeds := map[int64]string{}
	for _, c := range clusters {
		if other, dup := seeds[c.Driver.Sim.Seed]; dup {
			t.Errorf("clusters %s and %s share seed %d; their failures would be correlated", other, c.UID, c.Driver.Sim.Seed)
		}
		seeds[c.Driver.Sim.Seed] = c.UID
	}
}

// TestEmbeddedFiles checks that every file under testbeds/ is a testbed that
// parses, so an example added later cannot rot.
func TestEmbeddedFiles(t *testing.T) {
	entries, err := campaigns.FS.ReadDir("testbeds")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		found = true
		path := "testbeds/" + e.Name()
		src, err := campaigns.FS.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := testbed.NewParser()
		if _, diags := p.Parse(src, "campaigns/"+path); diags.HasErrors() {
			t.Errorf("%s:\n%s", path, testbed.FormatDiagnostics(p.Files(), diags))
		}
	}
	if !found {
		t.Error("no testbed embedded")
	}
}
