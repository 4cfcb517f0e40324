package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// JobActivities are the side effects of grid jobs: matching and reserving a
// node, staging, running, collecting, releasing. Their names all start with
// Job, beside those of Activities on the same worker.
type JobActivities struct {
	Store        *store.Store
	Jobs         *jobs.Service
	Reservations *resv.Service
	// Drivers returns the hardware drivers of the current testbed.
	Drivers func(ctx context.Context) (*hw.Drivers, error)
	// NodeLostAfter is how long a node may stay unreachable while it runs a
	// job before the job is moved to another node (default 15s).
	NodeLostAfter time.Duration
	// Poll is the longest wait between two looks at a running process
	// (default 1s).
	Poll time.Duration
}

func (a *JobActivities) lostAfter() time.Duration {
	if a.NodeLostAfter > 0 {
		return a.NodeLostAfter
	}
	return 15 * time.Second
}

func (a *JobActivities) poll() time.Duration {
	if a.Poll > 0 {
		return a.Poll
	}
	return time.Second
}

// JobPlacement is where an attempt of a job runs.
type JobPlacement struct {
	Site, Node, Reservation string
	// Walltime bounds the run; MaxReschedules the moves to other nodes.
	Walltime       time.Duration
	MaxReschedules int
	// Lost says the reservation ended before the job could use it (its node
	// went down): the job is to be placed again.
	Lost   bool   `json:",omitempty"`
	Reason string `json:",omitempty"`
}

func (a *JobActivities) manifest(ctx context.Context, id string) (store.Job, jobs.Manifest, error) {
	j, err := a.Store.GetJob(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return j, jobs.Manifest{}, nonRetryable(err, "NotFound")
		}
		return j, jobs.Manifest{}, err
	}
	var m jobs.Manifest
	if err := json.Unmarshal(j.Manifest, &m); err != nil {
		return j, m, nonRetryable(fmt.Errorf("job %s: unreadable manifest: %w", id, err), "Invalid")
	}
	return j, m, nil
}

// update records a change; a job already final is left as it is.
func (a *JobActivities) update(ctx context.Context, id string, u store.JobUpdate) error {
	_, err := a.Store.UpdateJob(ctx, id, u)
	if errors.Is(err, store.ErrFinal) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// JobReserve matches attempt of a job to a site with a node that fits and
// reserves one node there (or finds the reservation an earlier try made),
// then waits, heartbeating, until the reservation runs. A job no site can
// take fails without retry.
func (a *JobActivities) JobReserve(ctx context.Context, id string, attempt int) (JobPlacement, error) {
	j, m, err := a.manifest(ctx, id)
	if err != nil {
		return JobPlacement{}, err
	}
	pl := JobPlacement{Walltime: m.Walltime(), MaxReschedules: m.Reschedules()}
	name := jobs.ReservationName(id, attempt)
	r, err := a.Store.FindReservationByName(ctx, j.Owner, name)
	if err == nil && a.withdrawn(ctx, r) {
		err = store.ErrNotFound // a reservation this activity gave up: place again
	}
	if errors.Is(err, store.ErrNotFound) {
		tb, err := a.Reservations.Testbed(ctx)
		if err != nil {
			return pl, err
		}
		req, err := m.Normalize(tb)
		if err != nil {
			return pl, nonRetryable(fmt.Errorf("the testbed changed and no longer suits the job: %w", err), "NoMatch")
		}
		// A job waits here for a node that is free now, rather than in a
		// reservation queued behind the walltime of those that hold the
		// nodes (they end early, when their jobs do).
		wait, waiting := 100*time.Millisecond, false
		for {
			free, alive, err := a.freeSites(ctx, tb, req, jobs.Deadline(m))
			if err != nil {
				return pl, err
			}
			if len(alive) == 0 {
				return pl, nonRetryable(fmt.Errorf("every node of %s that fits the job is down", strings.Join(req.Sites, ", ")), "NoMatch")
			}
			var refusals []string
			placed := false
			for _, site := range free {
				r, err = a.Reservations.Submit(ctx, resv.ReservationRequest{Site: site, Owner: j.Owner, Project: j.Project, Name: name,
					Queue: "default", Walltime: jobs.Deadline(m),
					Groups: []resv.NodeGroup{{Count: 1, Filter: resv.NodeFilter{MinCores: req.Cores, MinMemory: req.Memory}}}})
				var re *resv.RequestError
				if errors.As(err, &re) {
					refusals = append(refusals, site+": "+re.Msg)
					continue
				}
				if err != nil {
					return pl, err
				}
				// Another job took the node between the look and the
				// placement: give the reservation up and wait.
				if a.withdrawn(ctx, r) {
					continue
				}
				placed = true
				break
			}
			if placed {
				break
			}
			if len(free) > 0 && len(refusals) == len(free) && len(free) == len(alive) {
				return pl, nonRetryable(fmt.Errorf("no site can take the job: %s", strings.Join(refusals, "; ")), "NoMatch")
			}
			if !waiting {
				waiting = true
				if err := a.update(ctx, id, store.JobUpdate{State: store.Str(store.JobWaiting),
					MinorStatus: store.Str("Waiting for a free node at " + strings.Join(req.Sites, ", "))}); err != nil {
					return pl, err
				}
			}
			activity.RecordHeartbeat(ctx, "waiting for a node")
			select {
			case <-ctx.Done():
				return pl, ctx.Err()
			case <-time.After(wait + rand.N(wait/2)): // jobs that wait together do not all look together
			}
			wait = min(2*wait, time.Second)
		}
	} else if err != nil {
		return pl, err
	}
	pl.Site, pl.Reservation = r.Site, r.ID
	if len(r.Nodes) > 0 {
		pl.Node = r.Nodes[0]
	}
	if err := a.update(ctx, id, store.JobUpdate{State: store.Str(store.JobWaiting), Site: &pl.Site, Node: &pl.Node, ReservationID: &pl.Reservation,
		MinorStatus: store.Str(fmt.Sprintf("Queued at %s: reservation %s starts at %s", r.Site, r.ID, r.StartAt.UTC().Format(time.RFC3339)))}); err != nil {
		return pl, err
	}
	wait := 20 * time.Millisecond
	for {
		activity.RecordHeartbeat(ctx, r.State)
		switch r.State {
		case store.ResRunning:
			err := a.update(ctx, id, store.JobUpdate{State: store.Str(store.JobMatched),
				MinorStatus: store.Str(fmt.Sprintf("Node %s reserved (reservation %s)", pl.Node, r.ID))})
			return pl, err
		case store.ResError, store.ResCanceled, store.ResTerminated:
			pl.Lost, pl.Reason = true, fmt.Sprintf("reservation %s of node %s ended %s before the job could start: %s", r.ID, pl.Node, r.State, r.Reason)
			return pl, nil
		}
		select {
		case <-ctx.Done():
			return pl, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond) // a cheap read; the job waits on it
		if r, err = a.Store.GetReservation(ctx, r.ID); err != nil {
			return pl, err
		}
	}
}

// startTolerance is how far in the future a job's reservation may start:
// a later start means the node was taken meanwhile.
const startTolerance = 2 * time.Second

// withdrawn reports whether a reservation of a job is one to give up: it
// would start later than startTolerance (it is canceled here, before it
// starts), or it was canceled before it started.
func (a *JobActivities) withdrawn(ctx context.Context, r store.Reservation) bool {
	switch {
	case slices.Contains(store.ActiveStates, r.State) && r.StartAt.After(time.Now().Add(startTolerance)):
		err := a.Reservations.Cancel(ctx, r.ID)
		var re *resv.RequestError
		if err != nil && !errors.As(err, &re) {
			activity.GetLogger(ctx).Warn("cannot give up a queued reservation", "reservation", r.ID, "error", err)
		}
		return true
	case r.State == store.ResCanceled && r.Reason == "canceled before it started":
		return true
	}
	return false
}

// freeSites returns, in the job's order, the sites with a node that fits
// the job and is free now for its deadline (no active reservation holds it
// then, it is not down), and those with a fitting node that is not down.
func (a *JobActivities) freeSites(ctx context.Context, tb *testbed.Testbed, req jobs.Requirements, deadline time.Duration) (free, alive []string, err error) {
	states, err := a.Store.NodeStates(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	for _, site := range req.Sites {
		s := tb.Site(site)
		if s == nil {
			continue
		}
		rs, _, err := a.Store.ListReservations(ctx, store.ReservationFilter{Site: site, From: now, To: now.Add(deadline)})
		if err != nil {
			return nil, nil, err
		}
		held := map[string]bool{}
		for _, r := range rs {
			if slices.Contains(store.ActiveStates, r.State) {
				for _, n := range r.Nodes {
					held[n] = true
				}
			}
		}
		isFree, isAlive := false, false
		for _, c := range s.Clusters {
			for _, n := range c.Nodes {
				if !req.Fits(n) || states[n.UID].State == "down" {
					continue
				}
				isAlive = true
				isFree = isFree || !held[n.UID]
			}
		}
		if isAlive {
			alive = append(alive, site)
		}
		if isFree {
			free = append(free, site)
		}
	}
	return free, alive, nil
}

// JobRunResult is how an attempt's run ended.
type JobRunResult struct {
	ExitCode int
	Signal   string `json:",omitempty"`
	// TimedOut: the job ran past its CPUTime and was killed.
	TimedOut bool `json:",omitempty"`
	// Lost: the node stopped answering; Reason says how.
	Lost bool `json:",omitempty"`
	// StartFailed: the node refused to start the executable.
	StartFailed string `json:",omitempty"`
	Reason      string `json:",omitempty"`
}

// errLost marks a node that stayed unreachable past NodeLostAfter.
type errLost struct{ err error }

func (e errLost) Error() string { return e.err.Error() }

// reach calls fn until it answers or fails for good; a node that keeps not
// answering past NodeLostAfter is errLost.
func (a *JobActivities) reach(ctx context.Context, fn func() error) error {
	var first time.Time
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || !hw.Retryable(err) || ctx.Err() != nil {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		}
		if time.Since(first) >= a.lostAfter() {
			return errLost{fmt.Errorf("unreachable for %s: %w", a.lostAfter(), err)}
		}
		activity.RecordHeartbeat(ctx, "unreachable")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// markDown records that a job's node stopped answering, the way the agent
// driver does, so that the scheduler places nothing more there until it
// answers again.
func (a *JobActivities) markDown(ctx context.Context, node string, cause error) {
	states, err := a.Store.NodeStates(ctx)
	if err == nil && states[node].State != "down" {
		err = a.Store.SetNodeState(ctx, node, "down", "agent unreachable: "+cause.Error())
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("cannot mark a lost node down", "node", node, "error", err)
	}
}

// JobRun stages the job's input sandbox into its working directory on the
// node, starts its executable (idempotently: a retry finds the process it
// started), and waits for its end, heartbeating. It kills the process past
// the job's CPUTime, or when the activity is canceled (the job is killed).
func (a *JobActivities) JobRun(ctx context.Context, id string, attempt int, pl JobPlacement) (JobRunResult, error) {
	j, m, err := a.manifest(ctx, id)
	if err != nil {
		return JobRunResult{}, err
	}
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return JobRunResult{}, err
	}
	d, err := drivers.For(pl.Node)
	if err != nil {
		return JobRunResult{}, nonRetryable(err, "NoDriver")
	}
	lost := func(err error) (JobRunResult, error) {
		var l errLost
		if errors.As(err, &l) {
			a.markDown(context.WithoutCancel(ctx), pl.Node, l.err)
			return JobRunResult{Lost: true, Reason: fmt.Sprintf("node %s %v", pl.Node, l.err)}, nil
		}
		if hw.Retryable(err) || ctx.Err() != nil {
			return JobRunResult{}, err
		}
		return JobRunResult{}, nonRetryable(err, "RunFailed")
	}
	pid := jobs.ProcessID(id, attempt)
	dir := jobs.WorkDir(id, attempt)
	name, args := m.Command()
	spec := hw.ProcessSpec{ID: pid, Name: name, Args: args, Env: m.Env(id), Pwd: dir, Reservation: pl.Reservation}

	// A retry after the process started does not stage again.
	var p hw.Process
	err = a.reach(ctx, func() error {
		var err error
		p, err = d.Status(ctx, pl.Node, pid)
		if hw.KindOf(err) == hw.NotFound {
			p = hw.Process{}
			return nil
		}
		return err
	})
	if err != nil {
		return lost(err)
	}
	if p.ID == "" {
		// The working directory exists once a file is in it (the file
		// capability has no mkdir): a marker naming the job, then the
		// sandbox's files.
		err := a.reach(ctx, func() error {
			_, err := d.Put(ctx, pl.Node, dir+"/"+jobs.MarkerName, strings.NewReader(id+"\n"), hw.PutOptions{})
			return err
		})
		if err != nil {
			return lost(err)
		}
		if j.InputSandbox != "" {
			if err := a.update(ctx, id, store.JobUpdate{MinorStatus: store.Str("Input Sandbox Download")}); err != nil {
				return JobRunResult{}, err
			}
			err := a.Jobs.Sandboxes.Each(j.InputSandbox, func(name string, size int64, r io.Reader) error {
				activity.RecordHeartbeat(ctx, "staging "+name)
				// The bytes are read once: an unreachable node fails the
				// attempt (the activity's retry stages again).
				_, err := d.Put(ctx, pl.Node, dir+"/"+name, r, hw.PutOptions{})
				return err
			})
			if err != nil {
				if hw.Retryable(err) {
					if err := a.reach(ctx, func() error { _, err := d.Info(ctx, pl.Node); return err }); err != nil {
						return lost(err)
					}
					return JobRunResult{}, err
				}
				if errors.Is(err, jobs.ErrNoSandboxes) || hw.KindOf(err) != "" {
					return JobRunResult{}, nonRetryable(fmt.Errorf("stage the input sandbox on %s: %w", pl.Node, err), "StageFailed")
				}
				return JobRunResult{}, err
			}
		}
		err = a.reach(ctx, func() error {
			var err error
			p, err = d.Start(ctx, pl.Node, spec)
			return err
		})
		if err != nil {
			var l errLost
			if !errors.As(err, &l) && !hw.Retryable(err) && ctx.Err() == nil {
				return JobRunResult{StartFailed: err.Error()}, nil
			}
			return lost(err)
		}
	}
	if err := a.update(ctx, id, store.JobUpdate{State: store.Str(store.JobRunning), MinorStatus: store.Str("Application")}); err != nil {
		return JobRunResult{}, err
	}

	deadline := p.Started.Add(pl.Walltime)
	if p.Started.IsZero() {
		deadline = time.Now().Add(pl.Walltime)
	}
	wait := 5 * time.Millisecond // short jobs end fast; long ones are polled less
	for p.State == hw.ProcessRunning {
		activity.RecordHeartbeat(ctx, p.State)
		if time.Now().After(deadline) {
			_ = a.reach(context.WithoutCancel(ctx), func() error { var err error; p, err = d.Kill(ctx, pl.Node, pid); return err })
			return JobRunResult{TimedOut: true, ExitCode: -1, Reason: fmt.Sprintf("ran past its CPUTime of %s: killed", pl.Walltime)}, nil
		}
		select {
		case <-ctx.Done():
			select {
			case <-activity.GetWorkerStopChannel(ctx):
				// The worker stops, not the job: the retried activity
				// finds the process by its id.
			default:
				kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
				_, _ = d.Kill(kctx, pl.Node, pid)
				cancel()
			}
			return JobRunResult{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, a.poll())
		err := a.reach(ctx, func() error {
			var err error
			p, err = d.Status(ctx, pl.Node, pid)
			return err
		})
		if err != nil {
			return lost(err)
		}
	}
	res := JobRunResult{ExitCode: -1, Signal: p.Signal}
	switch {
	case p.State == hw.ProcessLost:
		res.Lost, res.Reason = true, fmt.Sprintf("node %s lost track of the process (it restarted?)", pl.Node)
	case p.ExitCode != nil:
		res.ExitCode = *p.ExitCode
	}
	return res, nil
}

// JobCollected is the output sandbox of an attempt.
type JobCollected struct {
	SHA256 string
	// Missing are declared output files the job did not write; Skipped
	// those left out because the sandbox was full.
	Missing, Skipped []string `json:",omitempty"`
	// Truncated: stdout or stderr holds only the end of a longer stream.
	Truncated bool `json:",omitempty"`
	// OutputData: the manifest names files to register in the catalogue
	// (JobRegisterOutputs does it once the job is Done).
	OutputData bool `json:",omitempty"`
}

// JobRegistered is what JobRegisterOutputs did: the catalogue files it
// registered, and a note for each output it could not.
type JobRegistered struct {
	Registered []string `json:",omitempty"`
	Notes      []string `json:",omitempty"`
}

// JobRegisterOutputs registers the OutputData files of a Done attempt in
// the file catalogue, under OutputPath, each with its copy on the node as
// replica, size and adler32 checksum. Registering again changes nothing, so
// a retried activity is harmless; a file the job did not write, or a
// catalogue file of other bytes, is a note, not a failure of the job.
func (a *JobActivities) JobRegisterOutputs(ctx context.Context, id string, attempt int, pl JobPlacement) (JobRegistered, error) {
	j, m, err := a.manifest(ctx, id)
	if err != nil {
		return JobRegistered{}, err
	}
	if err := a.update(ctx, id, store.JobUpdate{MinorStatus: store.Str("Uploading Output Data")}); err != nil {
		return JobRegistered{}, err
	}
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return JobRegistered{}, err
	}
	d, err := drivers.For(pl.Node)
	if err != nil {
		return JobRegistered{}, nonRetryable(err, "NoDriver")
	}
	dir := cmpOr(m.OutputPath, "/"+j.Owner+"/jobs/"+id)
	var res JobRegistered
	for _, name := range m.OutputData {
		activity.RecordHeartbeat(ctx, name)
		file := jobs.WorkDir(id, attempt) + "/" + name
		fi, err := d.Stat(ctx, pl.Node, file, "adler32")
		if hw.KindOf(err) == hw.NotFound {
			res.Notes = append(res.Notes, "output data "+name+" not written by the job")
			continue
		}
		if err != nil {
			return JobRegistered{}, collectError(err)
		}
		lfn := dir + "/" + name
		err = a.Store.RegisterReplica(ctx, lfn, "node://"+pl.Node+"/"+file, fi.Size, fi.Checksum)
		switch {
		case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid):
			res.Notes = append(res.Notes, "output data "+name+" not registered as "+lfn+": "+strings.TrimPrefix(err.Error(), "store: "))
		case err != nil:
			return JobRegistered{}, err
		default:
			res.Registered = append(res.Registered, lfn)
		}
	}
	return res, nil
}

// JobCollect packs stdout, stderr and the declared output files of an
// attempt into the output sandbox and records it.
func (a *JobActivities) JobCollect(ctx context.Context, id string, attempt int, pl JobPlacement) (JobCollected, error) {
	_, m, err := a.manifest(ctx, id)
	if err != nil {
		return JobCollected{}, err
	}
	if err := a.update(ctx, id, store.JobUpdate{State: store.Str(store.JobCompleted), MinorStatus: store.Str("Uploading Output Sandbox")}); err != nil {
		return JobCollected{}, err
	}
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return JobCollected{}, err
	}
	d, err := drivers.For(pl.Node)
	if err != nil {
		return JobCollected{}, nonRetryable(err, "NoDriver")
	}
	pid := jobs.ProcessID(id, attempt)
	out, err := d.Output(ctx, pl.Node, pid)
	if err != nil {
		return JobCollected{}, collectError(err)
	}
	w, err := a.Jobs.Sandboxes.Create()
	if err != nil {
		return JobCollected{}, nonRetryable(err, "NoSandboxes")
	}
	defer w.Abort()
	col := JobCollected{Truncated: out.Truncated}
	type entry struct {
		name string
		data []byte // stdout, stderr; nil for a file on the node
	}
	entries := []entry{{jobs.StderrName, out.Stderr}, {jobs.StdoutName, out.Stdout}}
	for _, n := range m.OutputSandbox {
		entries = append(entries, entry{name: n})
	}
	slices.SortFunc(entries, func(x, y entry) int { return strings.Compare(x.name, y.name) })
	dir := jobs.WorkDir(id, attempt)
	for _, e := range entries {
		activity.RecordHeartbeat(ctx, e.name)
		if e.data != nil || e.name == jobs.StdoutName || e.name == jobs.StderrName {
			data := e.data
			if int64(len(data)) > w.Remaining() {
				data = data[int64(len(data))-max(w.Remaining(), 0):]
				col.Truncated = true
			}
			if err := w.Add(e.name, int64(len(data)), strings.NewReader(string(data))); err != nil {
				return JobCollected{}, err
			}
			continue
		}
		fi, err := d.Stat(ctx, pl.Node, dir+"/"+e.name, "")
		if hw.KindOf(err) == hw.NotFound {
			col.Missing = append(col.Missing, e.name)
			continue
		}
		if err != nil {
			return JobCollected{}, collectError(err)
		}
		if fi.Size > w.Remaining() {
			col.Skipped = append(col.Skipped, e.name)
			continue
		}
		dl, err := d.Get(ctx, pl.Node, dir+"/"+e.name, "")
		if err != nil {
			return JobCollected{}, collectError(err)
		}
		err = w.Add(e.name, fi.Size, dl)
		dl.Close()
		if err != nil {
			return JobCollected{}, collectError(err)
		}
	}
	if col.SHA256, _, err = w.Commit(ctx); err != nil {
		return JobCollected{}, err
	}
	col.OutputData = len(m.OutputData) > 0
	return col, a.update(ctx, id, store.JobUpdate{OutputSandbox: &col.SHA256})
}

func collectError(err error) error {
	if hw.Retryable(err) {
		return err
	}
	return nonRetryable(err, "CollectFailed")
}

// JobKillProcess stops the process of an attempt; a node that does not
// answer, or a process that is not there, has nothing to stop.
func (a *JobActivities) JobKillProcess(ctx context.Context, node, pid string) error {
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return err
	}
	d, err := drivers.For(node)
	if err != nil {
		return nil
	}
	kctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := d.Kill(kctx, node, pid); err != nil && hw.KindOf(err) != hw.NotFound {
		activity.GetLogger(ctx).Warn("cannot kill a job's process", "node", node, "process", pid, "error", err)
	}
	return nil
}

// JobRelease ends the reservation of an attempt (its workflow frees the node).
func (a *JobActivities) JobRelease(ctx context.Context, reservation string) error {
	if reservation == "" {
		return nil
	}
	err := a.Reservations.Cancel(ctx, reservation)
	var re *resv.RequestError
	if err == nil || errors.As(err, &re) || errors.Is(err, store.ErrNotFound) { // 409: it ended already
		return nil
	}
	return err
}

// JobChange is a change of a job's state the workflow records.
type JobChange struct {
	State, MinorStatus, Reason string
	ExitCode                   *int `json:",omitempty"`
	Reschedules                *int `json:",omitempty"`
}

// JobEnd releases the attempt's reservation (when there is one) and records
// the job's change, usually its final state.
func (a *JobActivities) JobEnd(ctx context.Context, id, reservation string, c JobChange) error {
	if err := a.JobRelease(ctx, reservation); err != nil {
		return err
	}
	u := store.JobUpdate{State: &c.State, MinorStatus: &c.MinorStatus, ExitCode: c.ExitCode, Reschedules: c.Reschedules}
	if c.Reason != "" || c.State == store.JobDone { // a kill keeps the reason the API recorded

		u.Reason = &c.Reason
	}
	return a.update(ctx, id, u)
}
