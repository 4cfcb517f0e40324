package testbed

import (
	"reflect"
	"strings"
	"testing"
)

func TestDockerDriver(t *testing.T) {
	const nodes = `
    nodes {
      count = 3
      name  = "box-%d"
      properties {
        cores  = 2
        memory = "4GiB"
      }
    }`
	file := func(driver string) []byte {
		return []byte("site \"lab\" {\n  cluster \"box\" {\n    " + driver + nodes + "\n  }\n  cluster \"other\" {\n    driver \"sim\" {}\n    node \"x-1\" {\n      properties {\n        cores  = 1\n        memory = \"1GiB\"\n      }\n    }\n  }\n}\n")
	}
	tb, diags := Parse(file(`driver "docker" {}`), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d := tb.Cluster("lab", "box").Driver
	if d.Kind != DriverDocker || d.DockerHost("box-1") != "" {
		t.Fatalf("empty docker driver: %+v %+v", d, d.Docker)
	}
	tb, diags = Parse(file(`driver "docker" {
      host  = "unix:///run/docker.sock"
      hosts = { "box-2" = "tcp://10.0.0.5:2375", "box-3" = "10.0.0.6:2375" }
    }`), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d = tb.Cluster("lab", "box").Driver
	if d.DockerHost("box-1") != "unix:///run/docker.sock" || d.DockerHost("box-2") != "tcp://10.0.0.5:2375" ||
		!reflect.DeepEqual(d.Docker.Hosts, map[string]string{"box-2": "tcp://10.0.0.5:2375", "box-3": "10.0.0.6:2375"}) {
		t.Fatalf("docker driver: %+v", d.Docker)
	}
	for _, c := range []struct{ driver, summary, detail string }{
		{`driver "docker" { host = "unix://run/docker.sock" }`, "Invalid value", "absolute path"},
		{`driver "docker" { host = "ssh://box" }`, "Invalid value", "unix:// or tcp://"},
		{`driver "docker" { hosts = { "box-1" = "tcp://nohost" } }`, "Invalid Docker host", "tcp://nohost"},
		{`driver "docker" { hosts = { "box-9" = "tcp://h:1" } }`, "Unknown node", "box-9"},
		{`driver "docker" { hosts = { "x-1" = "tcp://h:1" } }`, "Node of another cluster", "x-1"},
		{`driver "docker" { socket = "x" }`, "Unsupported argument", "socket"},
	} {
		_, diags := Parse(file(c.driver), "t.hcl")
		if !diags.HasErrors() || !strings.Contains(diags[0].Summary, c.summary) || !strings.Contains(diags[0].Detail, c.detail) {
			t.Errorf("%s: %v", c.driver, diags)
		}
	}
}
