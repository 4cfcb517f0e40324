package inventory

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/dsl/testbed"
)

// testbedHCL is two sites: plain nodes and GPU nodes on one, a single
// cluster on the other.
const testbedHCL = `
site "rennes" {
  cluster "plain" {
    driver "sim" {}
    nodes {
      count = 4
      name  = "plain-%d"
      properties {
        cores     = 16
        cpu_model = "Intel Xeon E5-2630 v3"
        memory    = "128GiB"
        disk      = "600GB"
        network   = "10Gbps"
      }
    }
  }
  cluster "gpu" {
    driver "sim" {}
    nodes {
      count = 2
      name  = "gpu-%d"
      properties {
        cores   = 32
        memory  = "256GiB"
        network = "25Gbps"
        gpu {
          count = 4
          model = "NVIDIA Tesla T4"
        }
      }
    }
    node "gpu-big" {
      properties {
        cores  = 64
        memory = "1TiB"
        gpu {
          count = 8
          model = "NVIDIA A100-SXM4-40GB"
        }
      }
    }
  }
}

site "lyon" {
  cluster "nova" {
    driver "sim" {}
    nodes {
      count = 3
      name  = "nova-%d"
      properties {
        cores  = 16
        memory = "64GiB"
      }
    }
  }
}
`

func testInventory(t *testing.T) campaign.Inventory {
	t.Helper()
	tb, diags := testbed.Parse([]byte(testbedHCL), "inventory_test.hcl")
	if diags.HasErrors() {
		t.Fatalf("test testbed: %s", diags.Error())
	}
	return New(tb)
}

func TestHasSiteAndCluster(t *testing.T) {
	inv := testInventory(t)
	for _, tc := range []struct {
		site, cluster      string
		hasSite, hasClustr bool
	}{
		{"rennes", "plain", true, true},
		{"rennes", "gpu", true, true},
		{"rennes", "nova", true, false},
		{"lyon", "nova", true, true},
		{"nancy", "grue", false, false},
		{"", "", false, false},
		{"Rennes", "plain", false, false},
	} {
		if got := inv.HasSite(tc.site); got != tc.hasSite {
			t.Errorf("HasSite(%q) = %v, want %v", tc.site, got, tc.hasSite)
		}
		if got := inv.HasCluster(tc.site, tc.cluster); got != tc.hasClustr {
			t.Errorf("HasCluster(%q, %q) = %v, want %v", tc.site, tc.cluster, got, tc.hasClustr)
		}
	}
}

func TestCountMatching(t *testing.T) {
	inv := testInventory(t)
	num := func(n int64) cty.Value { return cty.NumberIntVal(n) }
	str := cty.StringVal
	for _, tc := range []struct {
		name          string
		site, cluster string
		props         map[string]cty.Value
		want          int
	}{
		{"whole site", "rennes", "", nil, 7},
		{"one cluster", "rennes", "gpu", nil, 3},
		{"other site", "lyon", "", nil, 3},
		{"unknown site", "nancy", "", nil, 0},
		{"unknown cluster", "rennes", "nova", nil, 0},
		{"cores is a minimum", "rennes", "", map[string]cty.Value{"cores": num(32)}, 3},
		{"cores above every node", "rennes", "", map[string]cty.Value{"cores": num(65)}, 0},
		{"fractional minimum", "rennes", "", map[string]cty.Value{"cores": cty.NumberFloatVal(31.5)}, 3},
		{"gpu_count is a minimum", "rennes", "", map[string]cty.Value{"gpu_count": num(2)}, 3},
		{"gpus is gpu_count", "rennes", "", map[string]cty.Value{"gpus": num(8)}, 1},
		{"gpu_count 8", "rennes", "gpu", map[string]cty.Value{"gpu_count": num(8)}, 1},
		{"gpu_count 0 matches all", "rennes", "", map[string]cty.Value{"gpu_count": num(0)}, 7},
		{"memory in bytes", "rennes", "", map[string]cty.Value{"memory": num(200 << 30)}, 3},
		{"memory as a size", "rennes", "", map[string]cty.Value{"memory": str("512GiB")}, 1},
		{"memory as a numeric string", "lyon", "", map[string]cty.Value{"memory": str("68719476736")}, 3},
		{"disk as a size", "rennes", "", map[string]cty.Value{"disk": str("500GB")}, 4},
		{"network as a rate", "rennes", "", map[string]cty.Value{"network": str("20Gbps")}, 2},
		{"network_rate in bits per second", "rennes", "", map[string]cty.Value{"network_rate": num(10e9)}, 6},
		{"cores as a numeric string", "rennes", "", map[string]cty.Value{"cores": str("32")}, 3},
		{"gpu_model exact", "rennes", "", map[string]cty.Value{"gpu_model": str("NVIDIA Tesla T4")}, 2},
		{"gpu_model is not a substring match", "rennes", "", map[string]cty.Value{"gpu_model": str("T4")}, 0},
		{"cpu_model exact", "rennes", "", map[string]cty.Value{"cpu_model": str("Intel Xeon E5-2630 v3")}, 4},
		{"cluster property", "rennes", "", map[string]cty.Value{"cluster": str("gpu")}, 3},
		{"cluster property against cluster", "rennes", "plain", map[string]cty.Value{"cluster": str("gpu")}, 0},
		{"every filter", "rennes", "", map[string]cty.Value{"cores": num(32), "gpu_count": num(4), "memory": str("512GiB")}, 1},
		{"filter within a cluster", "rennes", "gpu", map[string]cty.Value{"gpu_model": str("NVIDIA A100-SXM4-40GB")}, 1},
		{"unknown property", "rennes", "", map[string]cty.Value{"colour": str("blue")}, 0},
		{"bad size", "rennes", "", map[string]cty.Value{"memory": str("lots")}, 0},
		{"string for a number", "rennes", "", map[string]cty.Value{"gpu_count": str("many")}, 0},
		{"number for a string", "rennes", "", map[string]cty.Value{"gpu_model": num(4)}, 0},
		{"bool for a number", "rennes", "", map[string]cty.Value{"cores": cty.True}, 0},
		{"null value", "rennes", "", map[string]cty.Value{"cores": cty.NullVal(cty.Number)}, 0},
		{"unknown value matches", "rennes", "", map[string]cty.Value{"cores": cty.UnknownVal(cty.Number)}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inv.CountMatching(tc.site, tc.cluster, tc.props); got != tc.want {
				t.Errorf("CountMatching(%q, %q, %v) = %d, want %d", tc.site, tc.cluster, tc.props, got, tc.want)
			}
		})
	}
}

func TestNilTestbed(t *testing.T) {
	inv := New(nil)
	if inv.HasSite("rennes") || inv.HasCluster("rennes", "plain") || inv.CountMatching("rennes", "", nil) != 0 {
		t.Fatal("a nil testbed has no sites and no nodes")
	}
}

// TestLoadUsesInventory checks the inventory where it is used: the campaign
// loader refuses sites, clusters and node counts the testbed cannot give.
func TestLoadUsesInventory(t *testing.T) {
	inv := testInventory(t)
	for _, tc := range []struct {
		name, body string
		wantErr    string // "" for a valid campaign
	}{
		{"fits", `site = "rennes"
  nodes = 2
  properties = { gpu_count = 4, memory = size("256GiB") }`, ""},
		{"per cluster", `site = "rennes"
  nodes = { plain = 4, gpu = 3 }`, ""},
		{"no such site", `site = "nancy"
  nodes = 1`, "No such site"},
		{"no such cluster", `site = "lyon"
  cluster = "gpu"
  nodes = 1`, "No such cluster"},
		{"too many", `site = "rennes"
  cluster = "gpu"
  nodes = 3
  properties = { gpu_count = 8 }`, "only 1 node matches"},
		{"too many in a group", `site = "rennes"
  nodes = { plain = 5 }`, "only 4 match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "reservation \"r\" {\n  " + tc.body + "\n}\n"
			p := campaign.NewParser()
			_, diags := p.Load(campaign.Input{Filename: "r.hcl", Source: []byte(src), Inventory: inv})
			text := campaign.FormatDiagnostics(p.Files(), diags)
			switch {
			case tc.wantErr == "" && diags.HasErrors():
				t.Fatalf("unexpected errors:\n%s", text)
			case tc.wantErr != "" && !strings.Contains(text, tc.wantErr):
				t.Fatalf("want an error with %q, got:\n%s", tc.wantErr, text)
			}
		})
	}
}
