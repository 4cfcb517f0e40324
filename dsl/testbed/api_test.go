package testbed

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const tiny = `site "s" {
  cluster "c" {
    driver "sim" {}
    node "%s" {
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
`

// TestParserReparse checks that parsing new bytes under a known filename
// uses the new bytes, both for the model and for the snippets: an API that
// validates successive edits of one file relies on it.
func TestParserReparse(t *testing.T) {
	p := NewParser()
	tb, diags := p.Parse([]byte(fmt.Sprintf(tiny, "n-1")), "t.hcl")
	if diags.HasErrors() || tb.Node("n-1") == nil {
		t.Fatalf("first parse: %v", diags)
	}
	tb, diags = p.Parse([]byte(fmt.Sprintf(tiny, "N-2")), "t.hcl")
	if !diags.HasErrors() || tb != nil {
		t.Fatal("second parse used the old bytes")
	}
	out := FormatDiagnostics(p.Files(), diags)
	if !strings.HasPrefix(out, "t.hcl:4:10: Error: Invalid node uid") || !strings.Contains(out, `   4:     node "N-2" {`) {
		t.Errorf("rendering does not show the new source:\n%s", out)
	}
	if _, diags := p.Parse([]byte(fmt.Sprintf(tiny, "n-3")), "other.hcl"); diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Files()) != 2 {
		t.Errorf("Files() has %d files, want t.hcl and other.hcl", len(p.Files()))
	}
}

func TestFormatDiagnostics(t *testing.T) {
	_, diags := Parse([]byte(fmt.Sprintf(tiny, "N")), "t.hcl")
	// Without the files there is no snippet, but still a location.
	out := FormatDiagnostics(nil, diags)
	if !strings.HasPrefix(out, "t.hcl:4:10: Error: Invalid node uid") || !strings.Contains(out, "source code not available") {
		t.Errorf("without files:\n%s", out)
	}
	// Many diagnostics are cut off with a count.
	var many hcl.Diagnostics
	for i := 0; i < MaxRenderedDiagnostics+7; i++ {
		many = append(many, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "x", Detail: "y"})
	}
	many = append(many, nil)
	out = FormatDiagnostics(nil, many)
	if strings.Count(out, "Error: x") != MaxRenderedDiagnostics || !strings.HasSuffix(out, "... and 7 more diagnostics.\n") {
		t.Errorf("cap not applied:\n%s", out[len(out)-200:])
	}
	if FormatDiagnostics(nil, nil) != "" {
		t.Error("no diagnostics must render as nothing")
	}
}

// TestHandBuiltTestbed checks the lookups on a Testbed that Parse did not
// build (decoded from JSON, as a REST client would).
func TestHandBuiltTestbed(t *testing.T) {
	tb, diags := parseFixture(t, "testdata/valid/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	data, err := json.Marshal(tb)
	if err != nil {
		t.Fatal(err)
	}
	var back Testbed
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	tb.byUID = nil
	if !reflect.DeepEqual(tb, &back) {
		t.Errorf("JSON round trip changed the testbed:\n%s", data)
	}
	if n := back.Node("paravance-2"); n == nil || n.Cluster != "paravance" {
		t.Errorf("Node on a decoded testbed = %+v", n)
	}
	if back.Node("nope") != nil || back.Cluster("rennes", "nope") != nil {
		t.Error("absent lookups must be nil")
	}
	for _, key := range []string{`"boot_time":90000000000`, `"copy_rate":10000000000`, `"gpu_count":2`, `"network_rate":25000000000`, `"queues":["besteffort","default"]`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}

	var nilTB *Testbed
	if nilTB.Site("x") != nil || nilTB.Cluster("x", "y") != nil || nilTB.Node("x") != nil || nilTB.Nodes() != nil || nilTB.Clusters() != nil {
		t.Error("lookups on a nil testbed must return nil")
	}
}

func parseFixture(t *testing.T, path string) (*Testbed, hcl.Diagnostics) {
	t.Helper()
	return NewParser().ParseFile(path)
}

func TestValidUID(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "0": true, "paravance-12": true, "a--b": true, "a-": true,
		"": false, "-a": false, "A": false, "a_b": false, "a.b": false, "é": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false,
	} {
		if ValidUID(s) != want {
			t.Errorf("ValidUID(%q) = %v", s, !want)
		}
	}
}
