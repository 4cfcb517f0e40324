// Package transfer is the transfer service, FTS3 style: it checks a job's
// submission (URLs against the storage policy, checksums, bans), records
// the job and its files, starts its workflow, and cancels jobs, bans storage
// and users, and sets the optimizer's values. The API and the campaign
// activities both use it; the copies themselves run in the activities.
package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer/optimizer"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// TaskQueue is the Temporal task queue every Gridflow worker polls.
const TaskQueue = "gridflow"

// WorkflowName is the registered name of the transfer job workflow.
const WorkflowName = "TransferJob"

// Params start a transfer job workflow; its id is the job id.
type Params struct {
	ID string
}

// Limits of one submission.
const (
	MaxFiles      = 20000
	MaxSources    = 16
	MaxRetry      = 20
	MaxRetryDelay = time.Hour
)

// idNamespace makes deterministic job ids (uuid5 of owner and sid), as
// FTS3's deterministic id generator does with its base id, vo and sid.
var idNamespace = uuid.MustParse("6c6f6766-6772-4964-8c6f-772d66747333")

// DeterministicID is the job id a submission with sid gets for owner.
func DeterministicID(owner, sid string) string {
	return uuid.NewSHA1(idNamespace, []byte(owner+"\x00"+sid)).String()
}

// File is one file of a submission.
type File struct {
	Sources      []string
	Destinations []string
	Checksum     string
	FileSize     int64
	Metadata     json.RawMessage
	// LFN names a file of the catalogue: once copied and verified, the
	// destination is registered as one of its replicas.
	LFN string
}

// Request is a checked-by-type submission.
type Request struct {
	Owner, Project string
	Files          []File
	Verify         storage.Verify
	Overwrite      bool
	Retry          int
	RetryDelay     time.Duration
	Priority       int
	Deterministic  bool
	SID            string
	Metadata       json.RawMessage
	Multihop       bool
	// AllowNode says whether the submitter may use node:// storage on a
	// node (nil: any node).
	AllowNode func(ctx context.Context, node string) error
	// AllowLFN says whether the submitter may register replicas of a
	// catalogue path (nil: any path).
	AllowLFN func(path string) error
}

// FieldError is a submission refused because of one field.
type FieldError struct {
	Status   int    // 403 or 422
	Location string // "body.files[2].sources[0]"
	Value    any
	Message  string
}

func (e *FieldError) Error() string { return e.Location + ": " + e.Message }

// Error is a refusal with an HTTP status (403, 404, 409).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Service submits and controls transfer jobs.
type Service struct {
	Store     *store.Store
	Temporal  client.Client
	Endpoints *storage.Endpoints
	Optimizer optimizer.Config
	Logger    *slog.Logger
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func invalid(loc string, v any, format string, args ...any) error {
	return &FieldError{Status: 422, Location: loc, Value: v, Message: fmt.Sprintf(format, args...)}
}

// Submit checks a request, records the job and starts its workflow. A
// deterministic id already used returns that job with existed true.
func (s *Service) Submit(ctx context.Context, r Request) (job store.TransferJob, existed bool, err error) {
	bans, err := s.Store.ListBans(ctx, "")
	if err != nil {
		return job, false, err
	}
	banned := map[string]store.Ban{}
	for _, b := range bans {
		if b.Kind == store.BanUser && b.Subject == r.Owner {
			return job, false, &Error{Status: 403, Message: "user " + r.Owner + " is banned from transfers: " + b.Message}
		}
		if b.Kind == store.BanStorage {
			banned[b.Subject] = b
		}
	}
	files, err := s.check(ctx, r, banned)
	if err != nil {
		return job, false, err
	}
	job = store.TransferJob{
		ID: uuid.NewString(), Owner: r.Owner, Project: r.Project, State: store.TransferSubmitted, Priority: r.Priority,
		Verify: string(r.Verify), Overwrite: r.Overwrite, Retry: r.Retry, RetryDelay: r.RetryDelay, Multihop: r.Multihop,
		SID: r.SID, Metadata: r.Metadata, SourceSE: files[0].SourceSE, DestSE: files[0].DestSE,
	}
	if r.Deterministic {
		job.ID = DeterministicID(r.Owner, r.SID)
	}
	held := func(src, dst string) bool {
		return banned[src].Mode == store.BanWait || banned[dst].Mode == store.BanWait
	}
	job, existed, err = s.Store.InsertTransferJob(ctx, job, files, held)
	if err != nil {
		return job, false, err
	}
	if existed {
		if job.Owner != r.Owner {
			return store.TransferJob{}, false, &Error{Status: 409, Message: "transfer " + job.ID + " belongs to someone else"}
		}
		// The first submission may have died before its workflow started.
		if err := s.start(ctx, job.ID); err != nil && !isAlreadyStarted(err) {
			return job, true, err
		}
		return job, true, nil
	}
	if err := s.start(ctx, job.ID); err != nil && !isAlreadyStarted(err) {
		if derr := s.Store.DeleteTransferJob(context.WithoutCancel(ctx), job.ID); derr != nil {
			s.logger().Error("transfer: remove a job whose workflow did not start", "job", job.ID, "err", derr)
		}
		return job, false, fmt.Errorf("transfer: start the workflow of job %s: %w", job.ID, err)
	}
	return job, false, nil
}

func isAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}

func (s *Service) start(ctx context.Context, id string) error {
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: TaskQueue,
	}, WorkflowName, Params{ID: id})
	return err
}

// check validates every file of a request and returns the rows to insert.
func (s *Service) check(ctx context.Context, r Request, banned map[string]store.Ban) ([]store.TransferFile, error) {
	switch {
	case len(r.Files) == 0:
		return nil, invalid("body.files", nil, "a job needs at least one file")
	case len(r.Files) > MaxFiles:
		return nil, invalid("body.files", len(r.Files), "a job holds at most %d files, not %d: split it", MaxFiles, len(r.Files))
	case r.Priority < 1 || r.Priority > 5:
		return nil, invalid("body.params.priority", r.Priority, "priority goes from 1 (lowest) to 5 (highest)")
	case r.Retry < 0 || r.Retry > MaxRetry:
		return nil, invalid("body.params.retry", r.Retry, "retry goes from 0 to %d", MaxRetry)
	case r.RetryDelay < 0 || r.RetryDelay > MaxRetryDelay:
		return nil, invalid("body.params.retry_delay", r.RetryDelay.Seconds(), "retry_delay goes from 0 to %d seconds", int(MaxRetryDelay.Seconds()))
	case r.Deterministic && r.SID == "":
		return nil, invalid("body.params.sid", "", "the deterministic id generator needs a sid")
	}
	out := make([]store.TransferFile, len(r.Files))
	nodesOK := map[string]error{}
	for i, f := range r.Files {
		loc := fmt.Sprintf("body.files[%d]", i)
		if len(f.Sources) == 0 || len(f.Sources) > MaxSources {
			return nil, invalid(loc+".sources", len(f.Sources), "a file needs 1 to %d sources", MaxSources)
		}
		if len(f.Destinations) != 1 {
			return nil, invalid(loc+".destinations", len(f.Destinations), "a file needs exactly one destination (chain hops with multihop)")
		}
		if f.FileSize < 0 {
			return nil, invalid(loc+".filesize", f.FileSize, "filesize cannot be negative")
		}
		var sum checksum.Sum
		if f.Checksum != "" {
			var err error
			if sum, err = checksum.Parse(f.Checksum); err != nil {
				return nil, invalid(loc+".checksum", f.Checksum, "%v", err)
			}
		}
		sources, catSum, catSize, err := s.resolveLFNSources(ctx, loc, f.Sources)
		if err != nil {
			return nil, err
		}
		if sum.IsZero() && catSum != "" {
			// The catalogue knows the bytes: verify them against it.
			if sum, err = checksum.Parse(catSum); err != nil {
				sum = checksum.Sum{}
			}
		}
		if f.FileSize == 0 {
			f.FileSize = catSize
		}
		if err := r.Verify.Check(sum); err != nil {
			return nil, invalid(loc+".checksum", f.Checksum, "%v", err)
		}
		urls := make([]string, 0, len(sources)+1)
		urls = append(urls, sources...)
		urls = append(urls, f.Destinations[0])
		var parsed []storage.URL
		for k, raw := range urls {
			field := fmt.Sprintf("%s.sources[%d]", loc, k)
			dest := k == len(urls)-1
			if dest {
				field = loc + ".destinations[0]"
			}
			u, err := storage.Parse(raw)
			if err != nil {
				return nil, invalid(field, raw, "%v", err)
			}
			if err := s.Endpoints.Check(u, dest); err != nil {
				status := 422
				if storage.IsForbidden(err) {
					status = 403
				}
				return nil, &FieldError{Status: status, Location: field, Value: raw, Message: err.Error()}
			}
			if u.Scheme == "node" && r.AllowNode != nil {
				err, seen := nodesOK[u.Host]
				if !seen {
					err = r.AllowNode(ctx, u.Host)
					nodesOK[u.Host] = err
				}
				if err != nil {
					return nil, &FieldError{Status: 403, Location: field, Value: raw, Message: err.Error()}
				}
			}
			if b, ok := banned[u.StorageElement()]; ok && b.Mode == store.BanCancel {
				return nil, &FieldError{Status: 403, Location: field, Value: raw, Message: "storage " + u.StorageElement() + " is banned: " + b.Message}
			}
			parsed = append(parsed, u)
		}
		srcs := make([]string, len(sources))
		for k := range sources {
			srcs[k] = parsed[k].String()
		}
		dst := parsed[len(parsed)-1]
		lfn := ""
		if f.LFN != "" {
			var err error
			if lfn, err = store.CleanLFN(f.LFN); err != nil || lfn == "/" {
				return nil, invalid(loc+".lfn", f.LFN, "not a catalogue file path: write /USER/dir/name")
			}
			if r.AllowLFN != nil {
				if err := r.AllowLFN(lfn); err != nil {
					return nil, &FieldError{Status: 403, Location: loc + ".lfn", Value: f.LFN, Message: err.Error()}
				}
			}
		}
		if r.Multihop && i > 0 && out[i-1].Destination != srcs[0] {
			return nil, invalid(loc+".sources[0]", f.Sources[0], "multihop: hop %d must start where hop %d ended (%s)", i, i-1, out[i-1].Destination)
		}
		out[i] = store.TransferFile{Index: i, Sources: srcs, Destination: dst.String(), SourceSE: parsed[0].StorageElement(), DestSE: dst.StorageElement(),
			Checksum: sum.String(), FileSize: f.FileSize, Metadata: f.Metadata, LFN: lfn}
	}
	return out, nil
}

// LFNPrefix marks a source that names a file of the catalogue, as DIRAC
// writes logical file names: "lfn:/alice/run1/set.tar".
const LFNPrefix = "lfn:"

// resolveLFNSources replaces each "lfn:" source by the replicas the file
// catalogue lists for it, in their order, and returns the catalogue's
// checksum and size of the first such file (so that the copy is verified
// against what the catalogue says). Other sources are kept as they are.
func (s *Service) resolveLFNSources(ctx context.Context, loc string, sources []string) (out []string, sum string, size int64, err error) {
	for k, src := range sources {
		if !strings.HasPrefix(strings.ToLower(src), LFNPrefix) {
			out = append(out, src)
			continue
		}
		field := fmt.Sprintf("%s.sources[%d]", loc, k)
		path, cerr := store.CleanLFN(src[len(LFNPrefix):])
		if cerr != nil {
			return nil, "", 0, invalid(field, src, "not a catalogue file: write lfn:/USER/dir/name")
		}
		cf, gerr := s.Store.GetCatalogFile(ctx, path)
		switch {
		case errors.Is(gerr, store.ErrNotFound):
			return nil, "", 0, invalid(field, src, "the file catalogue has no file %s", path)
		case gerr != nil:
			return nil, "", 0, gerr
		case len(cf.Replicas) == 0:
			return nil, "", 0, invalid(field, src, "the file catalogue lists no replica of %s", path)
		}
		for _, r := range cf.Replicas {
			out = append(out, r.URL)
		}
		if sum == "" && size == 0 {
			sum, size = cf.Checksum, cf.Size
		}
	}
	if len(out) > MaxSources {
		out = out[:MaxSources]
	}
	return out, sum, size, nil
}

// Cancel cancels a job: its queued files at once, its running copies as
// the workflow stops them (they remove what they wrote).
func (s *Service) Cancel(ctx context.Context, id, by string) error {
	job, err := s.Store.GetTransferJob(ctx, id)
	if err != nil {
		return err
	}
	if store.IsTransferFinal(job.State) {
		return &Error{Status: 409, Message: fmt.Sprintf("transfer %s already ended: %s", id, job.State)}
	}
	reason := "canceled by " + by
	if _, err := s.Store.CancelTransferFiles(ctx, id, reason, 0); err != nil {
		return err
	}
	if err := s.Store.SetTransferJobState(ctx, id, store.TransferCanceled, reason); err != nil && !errors.Is(err, store.ErrFinal) {
		return err
	}
	if err := s.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return fmt.Errorf("transfer: cancel the workflow of %s: %w", id, err)
		}
	}
	return nil
}

// Ban bans a storage element (mode CANCEL or WAIT) or a user, and returns
// the ban as recorded and the number of queued files it canceled or held.
func (s *Service) Ban(ctx context.Context, b store.Ban) (store.Ban, int, error) {
	switch b.Kind {
	case store.BanStorage:
		b.Mode = strings.ToUpper(b.Mode)
		if b.Mode == "" {
			b.Mode = store.BanCancel
		}
		if b.Mode != store.BanCancel && b.Mode != store.BanWait {
			return b, 0, invalid("body.status", b.Mode, "a storage ban is CANCEL (queued files canceled, new ones refused) or WAIT (held until the unban)")
		}
		se, err := StorageName(b.Subject)
		if err != nil {
			return b, 0, invalid("body.storage", b.Subject, "%v", err)
		}
		b.Subject = se
	case store.BanUser:
		if b.Subject == "" {
			return b, 0, invalid("body.user_dn", "", "name the user to ban")
		}
		b.Mode = store.BanCancel
	}
	n, err := s.Store.AddBan(ctx, b)
	return b, n, err
}

// StorageName is the storage element a URL, or a storage element as
// written ("file:///", "node://n-1", "http://host:8080"), names.
func StorageName(s string) (string, error) {
	u, err := storage.Parse(s)
	if err != nil {
		var err2 error
		if u, err2 = storage.Parse(strings.TrimSuffix(s, "/") + "/x"); err2 != nil {
			return "", err
		}
	}
	return u.StorageElement(), nil
}

// Unban lifts a ban; held files resume.
func (s *Service) Unban(ctx context.Context, kind, subject string) (int, error) {
	if kind == store.BanStorage {
		if se, err := StorageName(subject); err == nil {
			subject = se
		}
	}
	return s.Store.RemoveBan(ctx, kind, subject)
}

// Decide is the optimizer's step for a pair's window, as the activities
// call it through store.OptimizePair.
func (s *Service) Decide(w store.PairWindow, span time.Duration) store.OptimizerRecord {
	tput := 0.0
	if span > 0 {
		tput = float64(w.Bytes) / span.Seconds()
	}
	d := s.Optimizer.Decide(optimizer.State{Active: int(w.Active), EMA: w.EMA}, optimizer.Sample{
		Finished: w.Finished, Failed: w.Failed, Throughput: tput, ActualActive: w.ActualActive, Queued: w.Queued,
		FileSizeAvg: w.FileSizeAvg, FileSizeStddev: w.FileSizeStddev,
	})
	return store.OptimizerRecord{Active: d.Active, EMA: d.EMA, Throughput: d.Throughput, Success: d.Success, ActualActive: w.ActualActive,
		QueueSize: w.Queued, FileSizeAvg: w.FileSizeAvg, FileSizeStddev: w.FileSizeStddev, Rationale: d.Rationale}
}
