package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// Transfer tuning. A run of RunTransferFiles copies for at most
// transferBudget, then hands back to the workflow, which keeps the
// workflow's history short and lets a new worker take over.
const (
	transferBudget      = 5 * time.Minute
	transferMaxInFlight = 64
	transferPoll        = 250 * time.Millisecond
	optimizeInterval    = 5 * time.Second
	progressInterval    = time.Second
)

// TransferRun is what a run of RunTransferFiles leaves.
type TransferRun struct {
	// Done: no file of the job is queued or being copied any more.
	Done bool
	// Held counts the files a storage ban holds; Queued the files waiting
	// for a slot or a retry delay.
	Held, Queued     int
	Finished, Failed int
}

// TransferProgress is the heartbeat of RunTransferFiles.
type TransferProgress struct {
	Finished, Failed, Active int
	Bytes                    int64
}

// RunTransferFiles copies the queued files of a job, as many at once as
// their pairs' limits allow, until none is left, only held files remain,
// or its time budget is spent. Files an earlier attempt left ACTIVE are
// copied again, except those already complete at their destination.
func (a *Activities) RunTransferFiles(ctx context.Context, jobID string) (TransferRun, error) {
	job, err := a.Store.GetTransferJob(ctx, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return TransferRun{}, temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	if err != nil {
		return TransferRun{}, err
	}
	if store.IsTransferFinal(job.State) {
		return TransferRun{Done: true}, nil
	}
	reset, err := a.Store.ResetActiveTransferFiles(ctx, jobID)
	if err != nil {
		return TransferRun{}, err
	}
	recovered := map[int]bool{}
	for _, i := range reset {
		recovered[i] = true
	}
	pairs, err := a.Store.TransferJobPairs(ctx, jobID)
	if err != nil {
		return TransferRun{}, err
	}
	r := &transferRunner{a: a, job: job, recovered: recovered, jobPairs: pairs, done: make(chan fileDone, transferMaxInFlight)}
	return r.run(ctx)
}

type fileDone struct {
	index int
	state string
}

type transferRunner struct {
	a         *Activities
	job       store.TransferJob
	recovered map[int]bool
	jobPairs  [][2]string
	done      chan fileDone

	inFlight         int
	progress         sync.Map // file index → *atomic.Int64 bytes so far
	finished, failed int
	bytesDone        atomic.Int64 // bytes of the files this run finished
	pairs            map[[2]string]bool
	lastOptimize     time.Time
}

func (r *transferRunner) run(ctx context.Context) (TransferRun, error) {
	deadline := time.Now().Add(transferBudget)
	copyCtx, stop := context.WithCancel(ctx)
	defer stop()
	r.pairs = map[[2]string]bool{}
	tick := time.NewTicker(transferPoll)
	defer tick.Stop()
	lastFlush := time.Now()
	for {
		// Claim while there is room and time.
		if ctx.Err() == nil && time.Now().Before(deadline) && r.inFlight < transferMaxInFlight {
			files, err := r.a.Store.ClaimTransferFiles(ctx, r.job.ID, transferMaxInFlight-r.inFlight, r.a.Transfers.Optimizer.Start, r.jobPairs)
			if err != nil && ctx.Err() == nil {
				r.drain(stop)
				return TransferRun{}, err
			}
			for _, f := range files {
				r.inFlight++
				r.pairs[[2]string{f.SourceSE, f.DestSE}] = true
				go r.copy(copyCtx, f)
			}
		}
		if time.Since(lastFlush) >= progressInterval {
			r.flushProgress(ctx)
			r.optimize(ctx)
			lastFlush = time.Now()
			// A cancel reaches the activity through its heartbeat, which the
			// SDK sends only every few seconds; the store says it at once.
			if j, err := r.a.Store.GetTransferJob(ctx, r.job.ID); err == nil && j.State == store.TransferCanceled {
				r.drain(stop)
				return TransferRun{Done: true, Finished: r.finished, Failed: r.failed}, nil
			}
		}
		activity.RecordHeartbeat(ctx, r.heartbeat())
		if r.inFlight == 0 {
			counts, err := r.a.Store.TransferCounts(ctx, r.job.ID)
			if err != nil {
				return TransferRun{}, err
			}
			out := TransferRun{Held: counts[store.TransferOnHold], Queued: counts[store.TransferSubmitted], Finished: r.finished, Failed: r.failed}
			switch {
			case ctx.Err() != nil:
				return out, ctx.Err()
			case out.Queued == 0 && counts[store.TransferActive] == 0:
				out.Done = out.Held == 0
				return out, nil
			case !time.Now().Before(deadline):
				return out, nil
			}
		}
		select {
		case d := <-r.done:
			r.settle(ctx, d)
		case <-tick.C:
		case <-ctx.Done():
			// Canceled (the job, or the worker stops): stop the copies and
			// wait for them to clean up.
			r.drain(stop)
			r.flushProgress(context.WithoutCancel(ctx))
			return TransferRun{Finished: r.finished, Failed: r.failed}, ctx.Err()
		}
	}
}

// drain stops every copy and waits for their outcomes.
func (r *transferRunner) drain(stop context.CancelFunc) {
	stop()
	for r.inFlight > 0 {
		d := <-r.done
		r.settle(context.Background(), d)
	}
}

func (r *transferRunner) settle(ctx context.Context, d fileDone) {
	r.inFlight--
	r.progress.Delete(d.index)
	switch d.state {
	case store.TransferFinished:
		r.finished++
	case store.TransferFailed:
		r.failed++
		if r.job.Multihop {
			// The hops after a failed one have nothing to start from.
			if _, err := r.a.Store.CancelTransferFiles(context.WithoutCancel(ctx), r.job.ID, fmt.Sprintf("hop %d failed", d.index), d.index+1); err != nil {
				activity.GetLogger(ctx).Error("cancel the hops after a failed one", "job", r.job.ID, "err", err)
			}
		}
	}
}

func (r *transferRunner) heartbeat() TransferProgress {
	p := TransferProgress{Finished: r.finished, Failed: r.failed, Active: r.inFlight, Bytes: r.bytesDone.Load()}
	r.progress.Range(func(_, v any) bool {
		p.Bytes += v.(*atomic.Int64).Load()
		return true
	})
	return p
}

func (r *transferRunner) flushProgress(ctx context.Context) {
	bytes := map[int]int64{}
	r.progress.Range(func(k, v any) bool {
		bytes[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	if err := r.a.Store.SetTransferProgress(ctx, r.job.ID, bytes); err != nil && ctx.Err() == nil {
		activity.GetLogger(ctx).Warn("transfer progress not recorded", "job", r.job.ID, "err", err)
	}
}

// optimize lets the optimizer decide on the pairs this run copies on; the
// store makes sure a pair gets at most one decision per interval, whatever
// the number of jobs and replicas on it.
func (r *transferRunner) optimize(ctx context.Context) {
	if time.Since(r.lastOptimize) < optimizeInterval {
		return
	}
	r.lastOptimize = time.Now()
	for p := range r.pairs {
		_, err := r.a.Store.OptimizePair(ctx, p[0], p[1], optimizeInterval, r.a.Transfers.Optimizer.Start, func(w store.PairWindow) store.OptimizerRecord {
			return r.a.Transfers.Decide(w, time.Since(w.Since))
		})
		if err != nil && ctx.Err() == nil {
			activity.GetLogger(ctx).Warn("optimizer", "source_se", p[0], "dest_se", p[1], "err", err)
		}
	}
}

// copy copies one file and records its outcome.
func (r *transferRunner) copy(ctx context.Context, f store.TransferFile) {
	state := store.TransferFailed
	defer func() { r.done <- fileDone{index: f.Index, state: state} }()
	counter := &atomic.Int64{}
	r.progress.Store(f.Index, counter)
	outcome := r.copyFile(ctx, f, counter)
	state = outcome.State
	if outcome.State == "" { // the worker stops: the next attempt copies it again
		state = store.TransferActive
		return
	}
	if outcome.State == store.TransferFinished {
		r.bytesDone.Add(outcome.Bytes)
		r.register(ctx, f, &outcome)
	}
	// The outcome must be recorded: a busy store is waited for.
	var err error
	for try, wait := 0, 100*time.Millisecond; try < 8; try, wait = try+1, min(2*wait, 5*time.Second) {
		if err = r.a.Store.FinishTransferFile(context.WithoutCancel(ctx), r.job.ID, f.Index, outcome); err == nil {
			return
		}
		time.Sleep(wait)
	}
	activity.GetLogger(ctx).Error("record a file's outcome", "job", r.job.ID, "file", f.Index, "err", err)
}

// register records a finished file's destination as a replica of its
// catalogue file, before the outcome is: a worker that dies in between
// registers it again, which changes nothing. A refusal (the catalogue file
// has another size or checksum) leaves the copy FINISHED, with why it is not
// registered in its reason: the bytes are there and verified.
func (r *transferRunner) register(ctx context.Context, f store.TransferFile, o *store.FileOutcome) {
	if f.LFN == "" {
		return
	}
	var err error
	for try, wait := 0, 100*time.Millisecond; try < 8; try, wait = try+1, min(2*wait, 5*time.Second) {
		err = r.a.Store.RegisterReplica(context.WithoutCancel(ctx), f.LFN, f.Destination, o.Bytes, o.DestChecksum)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		o.Reason = strings.TrimSpace(o.Reason + " not registered in the file catalogue as a replica of " + f.LFN + ": " + strings.TrimPrefix(err.Error(), "store: "))
	}
}

func (r *transferRunner) copyFile(ctx context.Context, f store.TransferFile, counter *atomic.Int64) store.FileOutcome {
	ends := r.a.Transfers.Endpoints
	fail := func(reason string) store.FileOutcome {
		return store.FileOutcome{State: store.TransferFailed, Reason: reason}
	}
	var srcs []storage.URL
	for _, s := range f.Sources {
		u, err := storage.Parse(s)
		if err != nil {
			return fail(err.Error())
		}
		srcs = append(srcs, u)
	}
	dst, err := storage.Parse(f.Destination)
	if err != nil {
		return fail(err.Error())
	}
	var sum checksum.Sum
	if f.Checksum != "" {
		if sum, err = checksum.Parse(f.Checksum); err != nil {
			return fail(err.Error())
		}
	}
	if r.recovered[f.Index] {
		if o, ok := r.alreadyThere(ctx, srcs, dst, sum); ok {
			return o
		}
	}
	verify, _ := storage.ParseVerify(r.job.Verify)
	started := time.Now()
	res, err := ends.Copy(ctx, storage.CopyRequest{
		ID: fmt.Sprintf("%s-%d", r.job.ID, f.Index), Sources: srcs, Destination: dst, Checksum: sum, Verify: verify,
		Overwrite: r.job.Overwrite, FileSize: f.FileSize, Progress: counter.Store,
	})
	if err == nil {
		secs := max(res.Duration, time.Since(started)).Seconds()
		return store.FileOutcome{State: store.TransferFinished, Bytes: res.Size, SourceUsed: res.Source.String(),
			SourceChecksum: res.SourceChecksum, DestChecksum: res.DestChecksum, Throughput: float64(res.Size) / max(secs, 1e-6)}
	}
	if ctx.Err() != nil {
		// Canceled: by the job's cancel (the store says so) or by a
		// stopping worker (the file stays ACTIVE for the next attempt).
		job, gerr := r.a.Store.GetTransferJob(context.WithoutCancel(ctx), r.job.ID)
		if gerr == nil && job.State == store.TransferCanceled {
			return store.FileOutcome{State: store.TransferCanceled, Reason: job.Reason, Bytes: counter.Load()}
		}
		return store.FileOutcome{}
	}
	if storage.Retryable(err) && f.Retries < r.job.Retry {
		return store.FileOutcome{State: store.TransferSubmitted, Reason: fmt.Sprintf("attempt %d failed: %v", f.Retries+1, err),
			RetryAt: time.Now().Add(r.job.RetryDelay)}
	}
	reason := err.Error()
	if f.Retries > 0 {
		reason = fmt.Sprintf("%s (after %d retries)", reason, f.Retries)
	}
	return store.FileOutcome{State: store.TransferFailed, Reason: reason, Bytes: counter.Load()}
}

// alreadyThere reports a file an attempt that died had already copied: the
// destination has the source's size and checksum.
func (r *transferRunner) alreadyThere(ctx context.Context, srcs []storage.URL, dst storage.URL, sum checksum.Sum) (store.FileOutcome, bool) {
	algo := sum.Algorithm
	if algo == "" {
		algo = checksum.Default
	}
	ends := r.a.Transfers.Endpoints
	dsize, dsum, err := ends.Stat(ctx, dst, algo)
	if err != nil {
		return store.FileOutcome{}, false
	}
	want := sum
	for _, s := range srcs {
		size, ssum, err := ends.Stat(ctx, s, algo)
		if err != nil || size != dsize {
			continue
		}
		if want.IsZero() {
			want = ssum
		}
		if !want.IsZero() && want.Equal(dsum) && ssum.Equal(dsum) {
			return store.FileOutcome{State: store.TransferFinished, Bytes: dsize, SourceUsed: s.String(), SourceChecksum: ssum.String(), DestChecksum: dsum.String(),
				Reason: "found complete at the destination after a worker restart"}, true
		}
	}
	return store.FileOutcome{}, false
}

// FinishTransferJob gives a job its final state from its files' states;
// a canceled workflow cancels what is left of its job.
func (a *Activities) FinishTransferJob(ctx context.Context, jobID string, canceled bool) (string, error) {
	if canceled {
		if err := a.Store.CancelRemainingTransferFiles(ctx, jobID, "the job's workflow was canceled"); err != nil {
			return "", err
		}
	}
	job, err := a.Store.GetTransferJob(ctx, jobID)
	if err != nil {
		return "", err
	}
	if store.IsTransferFinal(job.State) {
		return job.State, nil
	}
	c := job.Counts
	state, reason := store.TransferFinished, ""
	switch {
	case c[store.TransferFinished] == job.FilesTotal:
	case c[store.TransferFinished] == 0:
		state, reason = store.TransferFailed, fmt.Sprintf("%d of %d files failed and %d were canceled: see the files for their reasons", c[store.TransferFailed], job.FilesTotal, c[store.TransferCanceled])
	default:
		state, reason = store.TransferFinishedDirty, fmt.Sprintf("%d of %d files finished; %d failed, %d canceled", c[store.TransferFinished], job.FilesTotal, c[store.TransferFailed], c[store.TransferCanceled])
	}
	if err := a.Store.SetTransferJobState(ctx, jobID, state, reason); err != nil && !errors.Is(err, store.ErrFinal) {
		return "", err
	}
	return state, nil
}
