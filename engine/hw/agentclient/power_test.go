package agentclient

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/engine/hw"
)

// TestPowerCycleKillsAtOnceAndReboots: a process that ignores SIGTERM is
// killed without its grace period, and the agent reboots.
func TestPowerCycleKillsAtOnceAndReboots(t *testing.T) {
	ra := startAgent(t, "127.0.0.1:0", t.TempDir())
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	ctx := context.Background()
	before, err := c.Info(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "n1", hw.ProcessSpec{ID: "stubborn", Name: "sh", Args: []string{"-c", "trap '' TERM; echo ready; sleep 60"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for { // the trap is set once it says so
		if o, err := c.Output(ctx, "n1", "stubborn"); err == nil && strings.Contains(string(o.Stdout), "ready") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process never got ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	info, err := c.PowerCycle(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if info.Generation != before.Generation+1 {
		t.Fatalf("generation %d → %d", before.Generation, info.Generation)
	}
	p, err := c.Status(ctx, "n1", "stubborn")
	if err != nil || p.State == hw.ProcessRunning || p.Signal != "SIGKILL" {
		t.Fatalf("the stubborn process after a power cycle: %+v %v", p, err)
	}
}

// TestPowerCycleWaitsForAnAgentThatComesBack: an agent that does not answer
// is waited for, as a node whose power was cut, then reset.
func TestPowerCycleWaitsForAnAgentThatComesBack(t *testing.T) {
	dir := t.TempDir()
	ra := startAgent(t, "127.0.0.1:0", dir)
	c := newClient(t, map[string]string{"n1": ra.addr}, nil)
	before, err := c.Info(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	ra.stop()

	// Nobody restarts it: Unavailable once the context ends, saying why.
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	_, err = c.PowerCycle(ctx, "n1")
	cancel()
	if hw.KindOf(err) != hw.Unavailable || !hw.Retryable(err) || !strings.Contains(err.Error(), "out-of-band") {
		t.Fatalf("power cycle of a dead agent: %v", err)
	}

	// Its supervisor restarts it meanwhile: the power cycle completes.
	type result struct {
		info hw.NodeInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		info, err := c.PowerCycle(ctx, "n1")
		done <- result{info, err}
	}()
	time.Sleep(2 * powerCyclePoll) // the power cycle is waiting
	startAgent(t, ra.addr, dir)
	r := <-done
	if r.err != nil || r.info.Generation <= before.Generation {
		t.Fatalf("power cycle of an agent that came back: %+v %v (generation before %d)", r.info, r.err, before.Generation)
	}
}
