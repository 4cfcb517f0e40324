package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
)

func publicSpec(t *testing.T, name string) hw.EnvSpec {
	t.Helper()
	pub, ok := hw.LookupPublicEnvironment(name)
	if !ok {
		t.Fatalf("no public environment %s", name)
	}
	return hw.EnvSpec{Name: pub.Name, URL: pub.URL, Checksum: pub.Checksum}
}

// TestPowerCycleBringsBackAHungNode: a boot that hangs leaves the node
// silent, a soft reboot included; a power cycle, which takes the boot time
// and a fifth more, brings it back in a new generation with its processes
// killed.
func TestPowerCycleBringsBackAHungNode(t *testing.T) {
	const boot = 50 * time.Millisecond
	d := newDriver(t, testbed.SimConfig{BootTime: boot, Seed: 1}, "n1")
	ctx := context.Background()
	if _, err := d.Start(ctx, "n1", hw.ProcessSpec{ID: "p1", Name: "sleep", Args: []string{"100"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.HangBoots("n1", 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := d.Reboot(ctx, "n1", hw.RebootOptions{})
	kind(t, err, hw.Unavailable, true)
	if !strings.Contains(err.Error(), "did not come back") || time.Since(start) < boot {
		t.Fatalf("reboot into a hung boot after %s: %v", time.Since(start), err)
	}
	_, err = d.Info(ctx, "n1")
	kind(t, err, hw.Unavailable, true)
	_, err = d.Reboot(ctx, "n1", hw.RebootOptions{})
	kind(t, err, hw.Unavailable, true) // the soft reboot needs the node's system
	if !strings.Contains(err.Error(), "power cycle") {
		t.Fatalf("the error does not say what helps: %v", err)
	}

	start = time.Now()
	info, err := hw.PowerCycle(ctx, d, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < boot+boot/5 {
		t.Fatalf("the power cycle took %s, less than the boot time and a fifth", took)
	}
	if info.Generation != 3 || info.Environment == nil {
		t.Fatalf("after the power cycle: %+v", info)
	}
	p, err := d.Status(ctx, "n1", "p1")
	if err != nil || p.State == hw.ProcessRunning {
		t.Fatalf("process after the power cycle: %+v %v", p, err)
	}
}

// TestPowerCycleDuringAnInstall: the image being written is lost; the node
// comes back without a bootable environment and the install fails, so
// that it is written again.
func TestPowerCycleDuringAnInstall(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{DeployTime: 300 * time.Millisecond, Seed: 1}, "n1")
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := d.Install(ctx, "n1", publicSpec(t, "debian12-min@2024.1"))
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := d.Info(ctx, "n1"); err != nil && strings.Contains(err.Error(), "deploying") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node never showed as deploying")
		}
		time.Sleep(5 * time.Millisecond)
	}
	info, err := d.PowerCycle(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Environment != nil {
		t.Fatalf("a node power-cycled mid-deploy runs %+v", info.Environment)
	}
	err = <-done
	kind(t, err, hw.Failed, true)
	if !strings.Contains(err.Error(), "power-cycled") {
		t.Fatalf("install: %v", err)
	}
}

// TestInstallIntoAHungBoot returns once the image is written and the boot
// time passed; the node then does not answer until a power cycle, whose own
// boot hangs too while HangBoots lasts.
func TestInstallIntoAHungBoot(t *testing.T) {
	d := newDriver(t, testbed.SimConfig{Seed: 1}, "n1")
	ctx := context.Background()
	if err := d.HangBoots("n1", 2); err != nil {
		t.Fatal(err)
	}
	spec := publicSpec(t, "debian12-min@2024.1")
	info, err := d.Install(ctx, "n1", spec)
	if err != nil || info.Environment == nil || info.Environment.Name != spec.Name || info.Generation != 2 {
		t.Fatalf("install: %+v %v", info, err)
	}
	_, err = d.Info(ctx, "n1")
	kind(t, err, hw.Unavailable, true)
	_, err = d.PowerCycle(ctx, "n1")
	kind(t, err, hw.Unavailable, true)
	info, err = d.PowerCycle(ctx, "n1")
	if err != nil || info.Generation != 4 || info.Environment == nil || info.Environment.Name != spec.Name {
		t.Fatalf("second power cycle: %+v %v", info, err)
	}
	if err := d.HangBoots("n1", -1); err == nil {
		t.Fatal("a negative count was accepted")
	}
	if err := d.HangBoots("nope", 1); hw.KindOf(err) != hw.NotFound {
		t.Fatalf("unknown node: %v", err)
	}
}
