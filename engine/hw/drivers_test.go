package hw_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/agentclient"
	"github.com/gridflow/gridflow/engine/hw/docker"
	"github.com/gridflow/gridflow/engine/hw/sim"
)

const src = `
site "rennes" {
  cluster "paravance" {
    driver "sim" {
      boot_time   = "0s"
      deploy_time = "0s"
    }
    nodes {
      count = 3
      name  = "paravance-%d"
      properties {
        cores  = 16
        memory = "128GiB"
      }
    }
  }
  cluster "lab" {
    driver "agent" {
      agents = { "lab-1" = "127.0.0.2:7070" }
    }
    node "lab-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
  cluster "boxes" {
    driver "docker" {}
    node "box-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
}
`

func TestForTestbed(t *testing.T) {
	tb, diags := testbed.Parse([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := hw.ForTestbed(tb, hw.Options{}); err == nil {
		t.Fatal("drivers built without an agent token")
	}
	d, err := hw.ForTestbed(tb, hw.Options{AgentToken: "t", SimDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := fmt.Sprint(d.Nodes()); got != "[box-1 lab-1 paravance-1 paravance-2 paravance-3]" {
		t.Fatalf("nodes %s", got)
	}
	drv, err := d.For("paravance-2")
	if _, ok := drv.(*sim.Driver); err != nil || !ok {
		t.Fatalf("paravance-2: %T %v", drv, err)
	}
	info, err := drv.Info(context.Background(), "paravance-2")
	if err != nil || info.CPUs != 16 || info.Memory.Total != 128<<30 {
		t.Fatalf("info: %v %+v", err, info)
	}
	one, _ := d.For("paravance-1")
	if one != drv {
		t.Fatal("nodes of one cluster have different drivers")
	}
	drv, err = d.For("lab-1")
	if _, ok := drv.(*agentclient.Client); err != nil || !ok {
		t.Fatalf("lab-1: %T %v", drv, err)
	}
	if h, ok := d.Health("lab-1"); !ok || !h.Up {
		t.Fatalf("health of lab-1: %+v %v", h, ok)
	}
	if _, ok := d.Health("paravance-1"); ok {
		t.Fatal("simulated nodes report health")
	}
	drv, err = d.For("box-1")
	if _, ok := drv.(*docker.Driver); err != nil || !ok {
		t.Fatalf("box-1: %T %v", drv, err)
	}
	if _, err := drv.Reboot(context.Background(), "box-1", hw.RebootOptions{}); !errors.Is(err, hw.Unsupported) || hw.Retryable(err) {
		t.Fatalf("reboot of a docker node: %v", err)
	}
	_, err = d.For("nowhere")
	if !errors.Is(err, hw.NotFound) {
		t.Fatalf("unknown node: %v", err)
	}
	if d.Kind("lab-1") != testbed.DriverAgent || d.Kind("box-1") != testbed.DriverDocker {
		t.Fatal("kinds")
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{hw.Errorf("op", "n", hw.Unavailable, "down"), true},
		{hw.Errorf("op", "n", hw.Internal, "boom"), true},
		{hw.Errorf("op", "n", hw.Invalid, "bad"), false},
		{hw.Errorf("op", "n", hw.ChecksumMismatch, "bad"), false},
		{fmt.Errorf("wrapped: %w", hw.Errorf("op", "n", hw.NotFound, "x")), false},
		{&hw.Error{Op: "op", Kind: hw.Failed, Retryable: true}, true},
		{context.Canceled, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{errors.New("unclassed"), true},
	} {
		if got := hw.Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v", tc.err, got)
		}
	}
	err := fmt.Errorf("activity: %w", hw.Errorf("reboot", "n1", hw.Unavailable, "node is booting"))
	if !errors.Is(err, hw.Unavailable) || errors.Is(err, hw.NotFound) || hw.KindOf(err) != hw.Unavailable {
		t.Fatal("errors.Is on kinds")
	}
	if got := err.Error(); got != "activity: reboot on n1: node is booting" {
		t.Fatalf("message %q", got)
	}
}

func TestCleanPathAndValidID(t *testing.T) {
	for p, ok := range map[string]bool{"a/b": true, "a": true, "": false, "/a": false, "a/../b": false, "a//b": false, "./a": false} {
		if _, err := hw.CleanPath(p); (err == nil) != ok {
			t.Errorf("CleanPath(%q): %v", p, err)
		}
	}
	for id, ok := range map[string]bool{"job-1": true, "a.b_c": true, "": false, "-a": false, "a/b": false, "..": false} {
		if err := hw.ValidID(id); (err == nil) != ok {
			t.Errorf("ValidID(%q): %v", id, err)
		}
	}
}

func TestPublicEnvironments(t *testing.T) {
	envs := hw.PublicEnvironments()
	if len(envs) == 0 {
		t.Fatal("empty catalog")
	}
	if _, ok := hw.LookupPublicEnvironment(hw.DefaultEnvironment); !ok {
		t.Fatal("the default environment is not in the catalog")
	}
	seen := map[string]bool{}
	for _, e := range envs {
		if seen[e.Checksum] || len(e.Checksum) != len("sha256:")+64 {
			t.Errorf("checksum of %s: %s", e.Name, e.Checksum)
		}
		seen[e.Checksum] = true
	}
	envs[0].Name = "changed"
	if hw.PublicEnvironments()[0].Name == "changed" {
		t.Fatal("the catalog can be changed through its copy")
	}
}
