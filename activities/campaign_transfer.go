package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// TransferAction is a transfer step instance.
type TransferAction struct {
	Files      []TransferFileAction
	Verify     string
	Overwrite  bool
	Retry      int
	RetryDelay time.Duration
	Priority   int
}

// TransferFileAction is one file of a transfer step: sources tried in turn.
type TransferFileAction struct {
	Sources     []string
	Destination string
	Checksum    string // "<algorithm>:<hex>" or ""
	LFN         string `json:",omitempty"` // the catalogue file to register the copy as a replica of
}

// stepChecksum joins the language's algorithm and digest; a digest without
// an algorithm is recognised by its length.
func stepChecksum(algo, digest string) (string, error) {
	if digest == "" {
		return "", nil
	}
	if algo == "" {
		switch len(digest) {
		case 8:
			algo = checksum.Adler32
		case 32:
			algo = checksum.MD5
		default:
			algo = checksum.SHA256
		}
	}
	sum, err := checksum.Parse(algo + ":" + digest)
	if err != nil {
		return "", err
	}
	return sum.String(), nil
}

// Transfer submits the transfer job of a campaign step instance (its id is
// deterministic, so a retried activity finds the job it made) and waits,
// heartbeating, for its end. A job that did not finish every file fails the
// step; canceling the step cancels the job.
func (a *Activities) Transfer(ctx context.Context, id, address string, act TransferAction) (json.RawMessage, error) {
	if a.Transfers == nil {
		return nil, nonRetryable(errors.New("transfers are not available in this engine"), "Unsupported")
	}
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	req := transfer.Request{Owner: rec.Owner, Verify: storage.Verify(act.Verify), Overwrite: act.Overwrite, Retry: act.Retry,
		RetryDelay: act.RetryDelay, Priority: max(act.Priority, 1), Deterministic: true, SID: "campaign " + id + " " + address,
		AllowNode: func(ctx context.Context, node string) error { return a.ownsNode(ctx, rec.Owner, node) },
		AllowLFN:  func(path string) error { return a.mayRegister(ctx, rec.Owner, path) }}
	if act.Priority == 0 {
		req.Priority = 3
	}
	for _, f := range act.Files {
		req.Files = append(req.Files, transfer.File{Sources: f.Sources, Destinations: []string{f.Destination}, Checksum: f.Checksum, LFN: f.LFN})
	}
	job, _, err := a.Transfers.Submit(ctx, req)
	var fe *transfer.FieldError
	var te *transfer.Error
	switch {
	case errors.As(err, &fe):
		return nil, nonRetryable(fmt.Errorf("%s: %s", address, strings.TrimPrefix(fe.Error(), "body.")), "Refused")
	case errors.As(err, &te):
		return nil, nonRetryable(fmt.Errorf("%s: %s", address, te.Message), "Refused")
	case err != nil:
		return nil, err
	}
	for {
		j, err := a.Store.GetTransferJob(ctx, job.ID)
		if err != nil {
			return nil, err
		}
		activity.RecordHeartbeat(ctx, j.State)
		if store.IsTransferFinal(j.State) {
			return a.transferOutput(ctx, address, j)
		}
		select {
		case <-ctx.Done():
			if cerr := a.Transfers.Cancel(context.WithoutCancel(ctx), job.ID, "campaign "+id); cerr != nil {
				activity.GetLogger(ctx).Warn("cancel the transfer of a canceled step", "job", job.ID, "err", cerr)
			}
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (a *Activities) transferOutput(ctx context.Context, address string, j store.TransferJob) (json.RawMessage, error) {
	files, _, err := a.Store.TransferFiles(ctx, j.ID, store.TransferFileFilter{})
	if err != nil {
		return nil, err
	}
	type fileOut struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
		State       string `json:"state"`
		Checksum    string `json:"checksum"`
	}
	var bytes int64
	outs := make([]fileOut, len(files))
	var failed []string
	for i, f := range files {
		src := f.SourceUsed
		if src == "" {
			src = f.Sources[0]
		}
		outs[i] = fileOut{Source: src, Destination: f.Destination, State: f.State, Checksum: f.DestChecksum}
		if f.State == store.TransferFinished {
			bytes += f.Bytes
		} else if len(failed) < 3 {
			failed = append(failed, fmt.Sprintf("%s: %s %s", f.Destination, f.State, f.Reason))
		}
	}
	if j.State != store.TransferFinished {
		return nil, nonRetryable(fmt.Errorf("%s: transfer %s ended %s: %s", address, j.ID, j.State, strings.Join(failed, "; ")), "TransferFailed")
	}
	return json.Marshal(map[string]any{"id": j.ID, "state": j.State, "bytes": bytes, "files": outs})
}

// ownsNode lets a campaign's transfers use the storage of the nodes its
// owner holds in a running reservation.
func (a *Activities) ownsNode(ctx context.Context, owner, node string) error {
	rs, _, err := a.Store.ListReservations(ctx, store.ReservationFilter{Owner: owner, State: store.ResRunning})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if slices.Contains(r.Nodes, node) {
			return nil
		}
	}
	return fmt.Errorf("node %s is not in one of %s's running reservations", node, owner)
}

// mayRegister lets a campaign register replicas where its owner may write
// in the file catalogue: under /<owner>, anywhere for an administrator.
func (a *Activities) mayRegister(ctx context.Context, owner, path string) error {
	if path == "/"+owner || strings.HasPrefix(path, "/"+owner+"/") {
		return nil
	}
	u, err := a.Store.GetUser(ctx, owner)
	if err != nil {
		return err
	}
	if u.Admin {
		return nil
	}
	return fmt.Errorf("%s may register files in the catalogue only under /%s, not at %s", owner, owner, path)
}
