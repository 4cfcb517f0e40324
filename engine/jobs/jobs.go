// Package jobs is the grid job service, DIRAC style: it checks a job's
// manifest against the testbed, keeps its sandboxes (content-addressed
// tar.gz archives), records the job, starts its workflow, and kills jobs.
// The API uses it; the work itself (matching a node, reserving it, staging,
// running, collecting) runs in the job activities.
package jobs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/store"
)

// TaskQueue is the Temporal task queue every Gridflow worker polls.
const TaskQueue = "gridflow"

// WorkflowName is the registered name of the job workflow.
const WorkflowName = "GridJob"

// Params start a job workflow; its id is the job id.
type Params struct {
	ID string
}

// ProcessID names the job's process on its node for one attempt: the same
// on every retry of the activity (Start is idempotent), new on another node.
func ProcessID(id string, attempt int) string { return fmt.Sprintf("%s-%d", id, attempt) }

// WorkDir is the job's directory in the node's file area for one attempt.
func WorkDir(id string, attempt int) string { return fmt.Sprintf("jobs/%s/%d", id, attempt) }

// ReservationName ties a job's reservation to its attempt, so that a
// retried activity finds the reservation it already made.
func ReservationName(id string, attempt int) string { return fmt.Sprintf("job %s %d", id, attempt) }

// Service submits and kills jobs.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Testbed returns the current testbed.
	Testbed   func(ctx context.Context) (*testbed.Testbed, error)
	Sandboxes *Sandboxes
	Logger    *slog.Logger
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// File is a file sent with a submission: it becomes part of the input
// sandbox.
type File struct {
	Name string
	Data []byte
}

// Request is a submission.
type Request struct {
	Owner string
	// Admin may name any project; others only their Projects.
	Admin    bool
	Projects []string
	Manifest Manifest
	Files    []File
	// ID, when set, makes the submission idempotent: a job of that id is
	// returned as it is instead of a second one (a campaign step retried).
	ID string
}

// Limit is the size limit of one sandbox, in bytes.
func (s *Service) Limit() int64 { return s.Sandboxes.limit() }

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "j" + hex.EncodeToString(b)
}

// Submit checks a request, stores its input sandbox, records the job and
// starts its workflow. Refusals are *FieldError or *Error.
func (s *Service) Submit(ctx context.Context, r Request) (store.Job, error) {
	if r.ID != "" {
		switch j, err := s.Store.GetJob(ctx, r.ID); {
		case err == nil && j.Owner != r.Owner:
			return store.Job{}, &Error{Status: 409, Message: "job " + r.ID + " belongs to someone else"}
		case err == nil:
			// The first submission may have died before its workflow started.
			if err := s.start(ctx, j.ID); err != nil && !isAlreadyStarted(err) {
				return j, err
			}
			return j, nil
		case !errors.Is(err, store.ErrNotFound):
			return store.Job{}, err
		}
	}
	tb, err := s.Testbed(ctx)
	if err != nil {
		return store.Job{}, err
	}
	m := r.Manifest
	if _, err := m.Normalize(tb); err != nil {
		return store.Job{}, err
	}
	if home := "/" + r.Owner; m.OutputPath != "" && !r.Admin && m.OutputPath != home && !strings.HasPrefix(m.OutputPath, home+"/") {
		return store.Job{}, &FieldError{Status: 403, Location: "body.OutputPath", Value: m.OutputPath,
			Message: fmt.Sprintf("you may register files in the catalogue only under %s", home)}
	}
	if m.Project != "" && !r.Admin && !slices.Contains(r.Projects, m.Project) {
		return store.Job{}, &FieldError{Status: 403, Location: "body.Project", Value: m.Project, Message: "you are not a member of project " + m.Project}
	}
	// The files sent: each listed in the InputSandbox (added when not), each
	// listed one sent.
	sent := map[string][]byte{}
	var total int64
	for i, f := range r.Files {
		name, err := CleanName(f.Name)
		loc := fmt.Sprintf("body.files[%d]", i)
		if err != nil {
			return store.Job{}, invalid(loc, f.Name, "%v", err)
		}
		if _, dup := sent[name]; dup {
			return store.Job{}, invalid(loc, f.Name, "file %s is sent twice", name)
		}
		total += int64(len(f.Data))
		if total > s.Limit() {
			return store.Job{}, &FieldError{Status: 413, Location: "body.InputSandbox", Value: total,
				Message: fmt.Sprintf("the input sandbox is over its limit of %d bytes: send less, or put big inputs in storage and fetch them from the job", s.Limit())}
		}
		sent[name] = f.Data
		if !slices.Contains(m.InputSandbox, name) {
			m.InputSandbox = append(m.InputSandbox, name)
		}
	}
	for i, name := range m.InputSandbox {
		if _, ok := sent[name]; !ok {
			return store.Job{}, invalid(fmt.Sprintf("body.InputSandbox[%d]", i), name,
				"no file %s was sent: send the manifest and the file as parts of one multipart/form-data request", name)
		}
	}
	sort.Strings(m.InputSandbox)
	job := store.Job{ID: cmp.Or(r.ID, newID()), Owner: r.Owner, Project: m.Project, Name: m.JobName, Group: m.JobGroup,
		State: store.JobReceived, MinorStatus: "Job accepted"}
	if len(sent) > 0 {
		if !s.Sandboxes.Usable() {
			return store.Job{}, &Error{Status: 503, Message: ErrNoSandboxes.Error()}
		}
		w, err := s.Sandboxes.Create()
		if err != nil {
			return store.Job{}, err
		}
		for _, name := range slices.Sorted(maps.Keys(sent)) {
			if err := w.Add(name, int64(len(sent[name])), bytes.NewReader(sent[name])); err != nil {
				w.Abort()
				return store.Job{}, err
			}
		}
		if job.InputSandbox, _, err = w.Commit(ctx); err != nil {
			return store.Job{}, err
		}
	}
	if s.Temporal == nil {
		return store.Job{}, &Error{Status: 503, Message: "jobs need Temporal, which this engine is not connected to"}
	}
	if job.Manifest, err = json.Marshal(m); err != nil {
		return store.Job{}, err
	}
	if job, err = s.Store.InsertJob(ctx, job); err != nil {
		return store.Job{}, err
	}
	if err := s.start(ctx, job.ID); err != nil && !isAlreadyStarted(err) {
		if derr := s.Store.DeleteJob(context.WithoutCancel(ctx), job.ID); derr != nil {
			s.logger().Error("jobs: remove a job whose workflow did not start", "job", job.ID, "err", derr)
		}
		return store.Job{}, fmt.Errorf("jobs: start the workflow of job %s: %w", job.ID, err)
	}
	return job, nil
}

func (s *Service) start(ctx context.Context, id string) error {
	if s.Temporal == nil {
		return &Error{Status: 503, Message: "jobs need Temporal, which this engine is not connected to"}
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}, WorkflowName, Params{ID: id})
	return err
}

func isAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}

// Kill asks a job's workflow to stop it: its process is killed, its node
// released, and it ends Killed.
func (s *Service) Kill(ctx context.Context, id, by string) (store.Job, error) {
	j, err := s.Store.GetJob(ctx, id)
	if err != nil {
		return j, err
	}
	if store.IsJobFinal(j.State) {
		return j, &Error{Status: 409, Message: fmt.Sprintf("job %s already ended: %s", id, j.State)}
	}
	if s.Temporal == nil {
		return j, &Error{Status: 503, Message: "jobs need Temporal, which this engine is not connected to"}
	}
	if j, err = s.Store.UpdateJob(ctx, id, store.JobUpdate{MinorStatus: store.Str("Marked for termination"), Reason: store.Str("killed by " + by)}); err != nil {
		if errors.Is(err, store.ErrFinal) {
			return j, &Error{Status: 409, Message: fmt.Sprintf("job %s already ended", id)}
		}
		return j, err
	}
	if err := s.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return j, fmt.Errorf("jobs: cancel the workflow of %s: %w", id, err)
		}
		// No workflow runs it any more: record the end here.
		j, err = s.Store.UpdateJob(ctx, id, store.JobUpdate{State: store.Str(store.JobKilled)})
		if errors.Is(err, store.ErrFinal) {
			return s.Store.GetJob(ctx, id)
		}
		return j, err
	}
	return j, nil
}

// Deadline is how long a job may hold its node: its CPUTime and a margin
// for staging and collecting.
func Deadline(m Manifest) time.Duration { return m.Walltime() + 10*time.Minute }
