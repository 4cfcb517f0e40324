package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/sdk/temporal"

	"github.com/gridflow/gridflow/engine/store"
)

// StepAttempt is how one attempt of a step ended: its instances' outputs,
// and Err when it failed (the step's state is already recorded).
type StepAttempt struct {
	Outputs []InstanceOutput
	Err     string `json:",omitempty"`
}

// RunStepAttempt runs one attempt of a step in a single activity: it
// expands the step against the outputs its dependencies recorded in the
// store, runs every instance (in parallel, each as its own activity would),
// and records the attempt's result. One activity per step instead of a
// local activity, an activity per instance and another local activity keeps
// a campaign's history, and its cost, close to that of bare activities.
//
// Transient failures are returned as errors (Temporal retries the whole
// attempt; every instance is idempotent); a failure the step's policy must
// see comes back in StepAttempt.Err.
func (a *Activities) RunStepAttempt(ctx context.Context, id string, s GraphStep, attempt int) (StepAttempt, error) {
	outputs, err := a.storedOutputs(ctx, id, s.Address)
	if err != nil {
		return StepAttempt{}, err
	}
	insts, err := a.ExpandStep(ctx, id, s.Address, attempt, outputs)
	if err != nil {
		if final(err) {
			return a.recordAttempt(ctx, id, s, attempt, nil, err)
		}
		return StepAttempt{}, err
	}
	outs := make([]InstanceOutput, len(insts))
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := a.runInstance(ctx, id, attempt, in)
			if len(raw) > 0 {
				outs[i] = InstanceOutput{Address: in.Address, Output: raw}
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", in.Address, err)
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, err := range errs {
		switch {
		case err == nil:
		case !final(err):
			// Transient (a node restarting, the store busy) or canceled:
			// the attempt is retried as a whole, or stops.
			return StepAttempt{}, err
		case firstErr == nil:
			firstErr = err
		}
	}
	return a.recordAttempt(ctx, id, s, attempt, outs, firstErr)
}

// final reports whether an error ends the attempt rather than calls for a
// retry of the activity.
func final(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable() || errors.Is(err, errExitCode)
}

var errExitCode = errors.New("non-zero exit code")

// runInstance runs one instance the way its activity would.
func (a *Activities) runInstance(ctx context.Context, id string, attempt int, in StepInstance) (json.RawMessage, error) {
	switch {
	case in.Reservation != nil:
		return a.Reserve(ctx, id, in.Address, *in.Reservation)
	case in.Deployment != nil:
		return a.Deploy(ctx, id, in.Address, *in.Deployment)
	case in.Transfer != nil:
		return a.Transfer(ctx, id, in.Address, *in.Transfer)
	case in.Container != nil:
		return a.StartContainer(ctx, id, in.Address, *in.Container)
	case in.Job != nil:
		return a.RunJob(ctx, id, in.Address, *in.Job)
	case in.Run != nil:
		r, err := a.RunCommand(ctx, id, in.Address, attempt, *in.Run)
		if err == nil && r.ExitCode != 0 {
			err = fmt.Errorf("exit code %d: %w", r.ExitCode, errExitCode)
		}
		return r.Output, err
	}
	return nil, nonRetryable(fmt.Errorf("%s: nothing to run", in.Address), "Invalid")
}

// recordAttempt records the attempt's end: succeeded, or still running
// with its error while attempts remain, or failed.
func (a *Activities) recordAttempt(ctx context.Context, id string, s GraphStep, attempt int, outs []InstanceOutput, err error) (StepAttempt, error) {
	if err == nil && !complete(outs) {
		err = fmt.Errorf("%s: an instance recorded no output", s.Address)
	}
	res := StepAttempt{Outputs: outs}
	state, msg := store.StepSucceeded, ""
	if err != nil {
		res.Err, msg = err.Error(), err.Error()
		state = store.StepRunning
		if attempt >= s.Attempts {
			state = store.StepFailed
		}
	}
	if serr := a.SetStepState(ctx, id, s.Address, state, attempt, msg, outs); serr != nil {
		return StepAttempt{}, serr
	}
	return res, nil
}

func complete(outs []InstanceOutput) bool {
	for _, o := range outs {
		if len(o.Output) == 0 {
			return false
		}
	}
	return true
}

// storedOutputs reads the outputs the steps a step depends on (directly or
// not) recorded: what its expressions may read, and no more, so that the
// cost of a step does not grow with the steps that ran beside it.
func (a *Activities) storedOutputs(ctx context.Context, id, address string) (map[string][]InstanceOutput, error) {
	c, err := a.load(ctx, id)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	for _, st := range c.Steps {
		deps[st.Address] = st.DependsOn
	}
	needed := map[string]bool{}
	var walk func(string)
	walk = func(addr string) {
		for _, d := range deps[addr] {
			if !needed[d] {
				needed[d] = true
				walk(d)
			}
		}
	}
	walk(address)
	out := map[string][]InstanceOutput{}
	if len(needed) == 0 {
		return out, nil
	}
	addrs := make([]string, 0, len(needed))
	for d := range needed {
		addrs = append(addrs, d)
	}
	steps, err := a.Store.StepOutputs(ctx, id, addrs)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if (st.State != store.StepSucceeded && st.State != store.StepFailed) || len(st.Outputs) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(st.Outputs, &m); err != nil || len(m) == 0 {
			continue
		}
		for addr, raw := range m {
			out[st.Address] = append(out[st.Address], InstanceOutput{Address: addr, Output: raw})
		}
	}
	return out, nil
}
