package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/store"
)

// JobAction is a job step instance: a grid job's manifest and the files of
// its input sandbox.
type JobAction struct {
	Manifest jobs.Manifest
	Files    map[string]string `json:",omitempty"`
}

// campaignJobID names a step instance's grid job: the same on every retry,
// so that a retried activity finds the job it submitted.
func campaignJobID(id, address string) string {
	sum := sha256.Sum256([]byte("job\x00" + id + "\x00" + address))
	return "j" + hex.EncodeToString(sum[:8])
}

// maxJobOutput bounds what a job step keeps of the job's stdout and stderr
// in its outputs (the whole of them is in the output sandbox).
const maxJobOutput = 64 << 10

// RunJob submits the grid job of a job step as the campaign's owner and
// waits, heartbeating, for its end. A job that does not end Done fails the
// step, with its outputs (exit code, stderr) kept for the steps after a
// "continue" step. Canceling the step kills the job; a worker that stops
// leaves it running for the next attempt to find.
func (a *Activities) RunJob(ctx context.Context, id, address string, act JobAction) (json.RawMessage, error) {
	if a.Jobs == nil {
		return nil, nonRetryable(errors.New("grid jobs are not available in this engine"), "Unsupported")
	}
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := a.Store.GetUser(ctx, rec.Owner)
	if err != nil {
		return nil, err
	}
	req := jobs.Request{ID: campaignJobID(id, address), Owner: rec.Owner, Admin: u.Admin, Projects: u.Projects, Manifest: act.Manifest}
	for _, name := range slices.Sorted(maps.Keys(act.Files)) {
		req.Files = append(req.Files, jobs.File{Name: name, Data: []byte(act.Files[name])})
	}
	j, err := a.Jobs.Submit(ctx, req)
	var fe *jobs.FieldError
	var je *jobs.Error
	switch {
	case errors.As(err, &fe):
		return nil, nonRetryable(fmt.Errorf("%s: %s", address, strings.TrimPrefix(fe.Error(), "body.")), "Refused")
	case errors.As(err, &je) && je.Status != 503:
		return nil, nonRetryable(fmt.Errorf("%s: %s", address, je.Message), "Refused")
	case err != nil:
		return nil, err
	}
	for {
		if j, err = a.Store.GetJob(ctx, j.ID); err != nil {
			return nil, err
		}
		activity.RecordHeartbeat(ctx, j.State)
		if store.IsJobFinal(j.State) {
			return a.jobOutput(address, j)
		}
		select {
		case <-ctx.Done():
			select {
			case <-activity.GetWorkerStopChannel(ctx):
				// The worker stops, the step goes on: the next attempt finds the job.
			default:
				if _, kerr := a.Jobs.Kill(context.WithoutCancel(ctx), j.ID, "campaign "+id); kerr != nil {
					activity.GetLogger(ctx).Warn("kill the grid job of a canceled step", "job", j.ID, "err", kerr)
				}
			}
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// jobOutput is what a job step records: the job's end, and the head of its
// stdout and stderr read from its output sandbox.
func (a *Activities) jobOutput(address string, j store.Job) (json.RawMessage, error) {
	exit := -1
	if j.ExitCode != nil {
		exit = *j.ExitCode
	}
	out := map[string]any{"id": j.ID, "status": j.State, "exit_code": exit, "stdout": "", "stderr": "",
		"site": j.Site, "node": j.Node, "output_sandbox": j.OutputSandbox}
	if j.OutputSandbox != "" && a.Jobs.Sandboxes.Usable() {
		err := a.Jobs.Sandboxes.Each(j.OutputSandbox, func(name string, _ int64, r io.Reader) error {
			key := map[string]string{"std.out": "stdout", "std.err": "stderr"}[name]
			if key == "" {
				return nil
			}
			b, err := io.ReadAll(io.LimitReader(r, maxJobOutput))
			out[key] = string(b)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if j.State != store.JobDone {
		return raw, nonRetryable(fmt.Errorf("%s: job %s ended %s: %s", address, j.ID, j.State, cmpOr(j.Reason, j.MinorStatus)), "JobFailed")
	}
	return raw, nil
}
