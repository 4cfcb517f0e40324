package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// SetDeploymentState records a deployment's state. Leaving a final state is
// refused by the store; that is not an error here, so a retried activity is
// idempotent.
func (a *Activities) SetDeploymentState(ctx context.Context, id, state, reason string) error {
	err := a.Store.SetDeploymentState(ctx, id, state, reason)
	if errors.Is(err, store.ErrFinal) {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	return err
}

// DeployNodeParams ask for one node of a deployment run.
type DeployNodeParams struct {
	Deployment  string
	Run         int
	Reservation string
	Node        string
	Env         hw.EnvSpec
	Timeouts    deploy.Timeouts
	Retries     int
	// PowerCycle: a node whose boot still fails after its soft reboots is
	// power-cycled (hw.PowerCycler) and checked once more before it is KO.
	// Runs started before this fallback existed do not ask for it: their
	// activity bound leaves no time for it.
	PowerCycle bool `json:",omitempty"`
}

// NodeResult is where a node's deployment ended: ok, or ko at Step because
// of Reason; Timings are the seconds each step took, and those of the
// fallbacks it needed (store.FallbackReboot, store.FallbackPowerCycle).
type NodeResult struct {
	Node    string
	State   string
	Step    string
	Reason  string
	Timings map[string]float64
}

// RecordNodeResult writes a node's result the activity could not write
// itself (the engine failed on it).
func (a *Activities) RecordNodeResult(ctx context.Context, id string, run int, r NodeResult) error {
	return a.Store.UpdateDeploymentNode(ctx, id, r.Node, run, store.NodeUpdate{State: r.State, Step: r.Step, Reason: r.Reason, Timings: r.Timings})
}

// FinishUnfinishedNodes marks the nodes of a run that have no result yet KO
// with reason (a canceled deployment).
func (a *Activities) FinishUnfinishedNodes(ctx context.Context, id string, run int, reason string) (int, error) {
	return a.Store.FinishUnfinishedNodes(ctx, id, run, reason)
}

// nodeProgress is what DeployNode heartbeats: the steps done and their
// timings, so that a retried activity resumes after them.
type nodeProgress struct {
	Step       string
	Done       int
	Timings    map[string]float64
	Generation int64
	Already    bool
	// Written is the environment the node reported when its image was
	// written: what verify checks.
	Written *hw.Environment `json:",omitempty"`
}

// heartbeatEvery is how often DeployNode heartbeats while a step runs; the
// workflow's heartbeat timeout is a few times longer.
var heartbeatEvery = 2 * time.Second

// retryBackoff is the wait before the n-th retry of a step.
func retryBackoff(n int) time.Duration {
	return min(time.Duration(n)*500*time.Millisecond, 10*time.Second)
}

// DeployNode deploys an environment on one node, kadeploy style: prepare
// (the node answers, the reservation still runs) → write the image (the
// driver checks its checksum as it writes and boots into it) → verify (the
// node reported the expected checksum once written) → boot (the node is up
// on a new boot) → check (it runs the environment). Each step has its
// timeout and retries; a failed boot or check falls back to a soft reboot
// before the next try, and a boot that still fails to a hard power cycle
// (with p.PowerCycle), kadeploy's last resort, before the node is KO.
//
// A node that fails is a result (ko, with the step and the reason), not an
// error: errors are the engine's own failures, which Temporal retries. The
// activity records its progress in the store and heartbeats it; a retried
// activity resumes after the steps done (installing what a node already
// runs does nothing).
func (a *Activities) DeployNode(ctx context.Context, p DeployNodeParams) (NodeResult, error) {
	var prog nodeProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &prog)
	}
	if prog.Timings == nil {
		prog.Timings = map[string]float64{}
	}
	var mu sync.Mutex
	beat := func() {
		mu.Lock()
		snap := prog
		snap.Timings = make(map[string]float64, len(prog.Timings))
		for k, v := range prog.Timings {
			snap.Timings[k] = v
		}
		mu.Unlock()
		activity.RecordHeartbeat(ctx, snap)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()

	result := func(state, step, reason string) (NodeResult, error) {
		mu.Lock()
		r := NodeResult{Node: p.Node, State: state, Step: step, Reason: reason, Timings: prog.Timings}
		mu.Unlock()
		if err := a.Store.UpdateDeploymentNode(ctx, p.Deployment, p.Node, p.Run, store.NodeUpdate{State: state, Step: step, Reason: reason, Timings: r.Timings}); err != nil {
			return r, err
		}
		return r, nil
	}

	drivers, err := a.Drivers(ctx)
	if err != nil {
		return NodeResult{}, err
	}
	d, err := drivers.For(p.Node)
	if err != nil {
		return result(store.NodeKO, store.StepPrepare, err.Error())
	}
	want, err := checksum.Parse(p.Env.Checksum)
	if err != nil {
		return result(store.NodeKO, store.StepPrepare, fmt.Sprintf("environment %s: %v", p.Env.Name, err))
	}
	tmo := p.Timeouts.WithDefaults()

	steps := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{store.StepPrepare, func(ctx context.Context) error {
			if p.Reservation != "" {
				r, err := a.Store.GetReservation(ctx, p.Reservation)
				if err != nil {
					return err
				}
				if r.State != store.ResRunning {
					return hw.Errorf("prepare", p.Node, hw.Failed, "reservation %s is %s: its nodes are no longer yours to deploy", r.ID, r.State)
				}
			}
			i, err := d.Info(ctx, p.Node)
			if err != nil {
				return err
			}
			mu.Lock()
			prog.Generation = i.Generation
			prog.Already = i.Environment != nil && i.Environment.Name == p.Env.Name && i.Environment.Checksum == want.String()
			mu.Unlock()
			return nil
		}},
		{store.StepWrite, func(ctx context.Context) error {
			if err := a.Store.UpdateDeploymentNode(ctx, p.Deployment, p.Node, p.Run, store.NodeUpdate{AddAttempt: true}); err != nil {
				return err
			}
			i, err := d.Install(ctx, p.Node, p.Env)
			if err == nil {
				mu.Lock()
				prog.Written = i.Environment
				mu.Unlock()
			}
			return err
		}},
		{store.StepVerify, func(ctx context.Context) error {
			// What the node reported when the write ended, as kadeploy
			// checks the image before it boots it: a node that does not
			// come back from that boot is then KO at boot, not here. A
			// retried activity without it asks the node.
			mu.Lock()
			i := hw.NodeInfo{Environment: prog.Written}
			mu.Unlock()
			if i.Environment == nil {
				var err error
				if i, err = d.Info(ctx, p.Node); err != nil {
					return err
				}
			}
			if i.Environment == nil {
				return hw.Errorf("verify", p.Node, hw.Failed, "the node reports no environment after the image was written")
			}
			if got, err := checksum.Parse(i.Environment.Checksum); err != nil || !got.Equal(want) {
				return hw.Errorf("verify", p.Node, hw.ChecksumMismatch, "the node reports checksum %s, not the expected %s", i.Environment.Checksum, want)
			}
			return nil
		}},
		{store.StepBoot, func(ctx context.Context) error {
			i, err := d.Info(ctx, p.Node)
			if err != nil {
				return err
			}
			mu.Lock()
			booted := prog.Already || i.Generation > prog.Generation
			mu.Unlock()
			if !booted {
				return hw.Errorf("boot", p.Node, hw.Unavailable, "the node did not boot into the new environment (still boot %s)", i.BootID)
			}
			return nil
		}},
		{store.StepCheck, func(ctx context.Context) error {
			i, err := d.Info(ctx, p.Node)
			if err != nil {
				return err
			}
			if i.Environment == nil || i.Environment.Name != p.Env.Name {
				got := "none"
				if i.Environment != nil {
					got = i.Environment.Name
				}
				return hw.Errorf("check", p.Node, hw.Failed, "the node runs environment %s, not %s", got, p.Env.Name)
			}
			return nil
		}},
	}

	for i, s := range steps {
		if i < prog.Done {
			continue // done by an earlier attempt of this activity
		}
		mu.Lock()
		prog.Step = s.name
		mu.Unlock()
		beat()
		if err := a.Store.UpdateDeploymentNode(ctx, p.Deployment, p.Node, p.Run, store.NodeUpdate{State: store.NodeProcessing, Step: s.name}); err != nil {
			return NodeResult{}, err
		}
		start := time.Now()
		err := a.runStep(ctx, d, p, s.name, tmo.Of(s.name), s.run, func(name string, took time.Duration) {
			mu.Lock()
			prog.Timings[name] += took.Seconds()
			mu.Unlock()
		})
		mu.Lock()
		prog.Timings[s.name] = time.Since(start).Seconds()
		mu.Unlock()
		if ctx.Err() != nil {
			return NodeResult{}, ctx.Err() // canceled: the workflow records it
		}
		if err != nil {
			step := s.name
			if s.name == store.StepWrite && hw.KindOf(err) == hw.ChecksumMismatch {
				step = store.StepVerify // the driver verifies the image before writing it
			}
			return result(store.NodeKO, step, err.Error())
		}
		mu.Lock()
		prog.Done = i + 1
		mu.Unlock()
	}
	return result(store.NodeOK, store.StepCheck, "")
}

// runStep runs one step with its timeout and retries. A failure that
// retrying cannot help ends it at once; a failed boot or check reboots the
// node (kadeploy's soft reboot fallback) before the next try; a boot that
// failed every try power-cycles the node (its hard reboot fallback, with
// p.PowerCycle) and is tried once more. fallback hears how long each
// fallback took, by name (store.FallbackReboot, store.FallbackPowerCycle).
func (a *Activities) runStep(ctx context.Context, d hw.Driver, p DeployNodeParams, step string, timeout time.Duration,
	fn func(context.Context) error, fallback func(name string, took time.Duration)) error {
	try := func() (timedOut bool, err error) {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err = fn(sctx)
		timedOut = errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		if err != nil && timedOut {
			err = fmt.Errorf("%s timed out after %s: %w", step, timeout, err)
		}
		return timedOut, err
	}
	var err, rebootErr error
	tries := 0
	for attempt := 0; attempt <= p.Retries; attempt++ {
		if attempt > 0 {
			if herr := hw.Sleep(ctx, retryBackoff(attempt)); herr != nil {
				return herr
			}
		}
		var timedOut bool
		timedOut, err = try()
		tries++
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !timedOut && !hw.Retryable(err) {
			return err
		}
		if attempt < p.Retries && (step == store.StepBoot || step == store.StepCheck) {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			start := time.Now()
			_, rebootErr = d.Reboot(rctx, p.Node, hw.RebootOptions{})
			fallback(store.FallbackReboot, time.Since(start))
			cancel()
		}
	}
	if p.Retries > 0 {
		err = fmt.Errorf("%w (after %d tries)", err, tries)
	}
	if rebootErr != nil {
		err = fmt.Errorf("%w; the soft reboot failed too: %v", err, rebootErr)
	}
	if step != store.StepBoot || !p.PowerCycle {
		return err
	}
	// The node does not come back: cut its power, as kadeploy does last.
	pctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	_, perr := hw.PowerCycle(pctx, d, p.Node)
	fallback(store.FallbackPowerCycle, time.Since(start))
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if perr != nil {
		return fmt.Errorf("%w; the hard power cycle failed too: %v", err, perr)
	}
	if _, lastErr := try(); lastErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w; still not up after a hard power cycle: %v", err, lastErr)
	}
	return nil
}
