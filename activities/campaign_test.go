package activities

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestPropertiesFilterReadsNumbersAndStrings(t *testing.T) {
	f, err := propertiesFilter(map[string]cty.Value{
		"cores": cty.StringVal("16"), "memory": cty.StringVal("64GiB"), "disk": cty.NumberIntVal(1000),
		"network": cty.StringVal("10Gbps"), "gpu_count": cty.NumberIntVal(2), "gpu_model": cty.StringVal("A100"),
		"cluster": cty.StringVal("sirius"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.MinCores != 16 || f.MinMemory != 64<<30 || f.MinDisk != 1000 || f.MinNetwork != 10e9 || f.MinGPUs != 2 || f.GPUModel != "A100" || f.Cluster != "sirius" {
		t.Fatalf("filter %+v", f)
	}
	for name, props := range map[string]map[string]cty.Value{
		"bool cores":      {"cores": cty.True},
		"fractional":      {"cores": cty.NumberFloatVal(1.5)},
		"bad size":        {"memory": cty.StringVal("lots")},
		"unknown":         {"colour": cty.StringVal("blue")},
		"number as model": {"gpu_model": cty.NumberIntVal(3)},
	} {
		if _, err := propertiesFilter(props); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Unknown values (not known at validation) are left out, not guessed.
	if f, err := propertiesFilter(map[string]cty.Value{"cores": cty.UnknownVal(cty.Number)}); err != nil || f.MinCores != 0 {
		t.Fatalf("unknown cores: %+v %v", f, err)
	}
}
