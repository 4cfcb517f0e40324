package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/engine/transfer"
	"github.com/gridflow/gridflow/engine/transfer/storage"
)

// VerifyChecksum is FTS3's verify_checksum: a boolean, or one of none,
// source, target, both (or their initials).
type VerifyChecksum struct{ value any }

// UnmarshalJSON keeps the raw value; the service reads it.
func (v *VerifyChecksum) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &v.value) }

// MarshalJSON writes the value back.
func (v VerifyChecksum) MarshalJSON() ([]byte, error) { return json.Marshal(v.value) }

// Schema implements huma.SchemaProvider: a boolean, a mode name, or null.
func (VerifyChecksum) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Description: "Which checksums to compare: true (both), false (none), or none, source (yours vs the source), target (yours vs the destination), both (source vs destination, and yours when given)",
		AnyOf: []*huma.Schema{
			{Type: huma.TypeBoolean},
			{Type: huma.TypeString, Enum: []any{"none", "source", "target", "both", "n", "s", "t", "b", "r", "true", "false", ""}},
			{Type: "null"},
		},
	}
}

// SubmittedFile is one file of a submission, in FTS3's format.
type SubmittedFile struct {
	Sources      []string `json:"sources" minItems:"1" maxItems:"16" doc:"Where the file is: tried in turn. file:///path (under an allowed root), http(s)://host/path, node://NODE/path, or lfn:/path (the replicas the file catalogue lists for that file, in turn; its checksum and size are then checked unless you give yours)" example:"[\"node://paravance-1/results/run1.tar\"]"`
	Destinations []string `json:"destinations" minItems:"1" maxItems:"1" doc:"Where it goes (one URL)" example:"[\"file:///srv/gridflow/results/run1.tar\"]"`
	Checksum     string   `json:"checksum,omitempty" maxLength:"100" doc:"algorithm:value with adler32, md5 or sha256; compared as verify_checksum says" example:"adler32:0a1b2c3d"`
	FileSize     int64    `json:"filesize,omitempty" minimum:"0" doc:"Expected size in bytes; another size fails the file"`
	Metadata     any      `json:"metadata,omitempty" doc:"Any JSON value, kept with the file"`
	LFN          string   `json:"lfn,omitempty" maxLength:"4096" doc:"A logical file name of the file catalogue (under /YOUR_NAME, anywhere for administrators): once the file is copied and verified, its destination is registered as a replica of it, with its size and checksum" example:"/alice/run1/results.tar"`
}

// SubmissionParams are the job's parameters, in FTS3's format.
type SubmissionParams struct {
	VerifyChecksum *VerifyChecksum `json:"verify_checksum,omitempty"`
	Overwrite      bool            `json:"overwrite,omitempty" doc:"Replace an existing destination"`
	Retry          int             `json:"retry,omitempty" minimum:"0" maximum:"20" doc:"Retries of a file after a recoverable error"`
	RetryDelay     int             `json:"retry_delay,omitempty" minimum:"0" maximum:"3600" doc:"Seconds between retries"`
	Priority       int             `json:"priority,omitempty" minimum:"1" maximum:"5" doc:"1 (lowest) to 5 (highest); default 3. Higher priority jobs take a pair's free slots first"`
	IDGenerator    string          `json:"id_generator,omitempty" enum:"standard,deterministic" doc:"standard: a random id; deterministic: derived from your name and sid, so that submitting again returns the same job"`
	SID            string          `json:"sid,omitempty" maxLength:"128" doc:"Your id for the deterministic generator"`
	JobMetadata    any             `json:"job_metadata,omitempty" doc:"Any JSON value, kept with the job"`
	Multihop       bool            `json:"multihop,omitempty" doc:"The files are hops of one transfer, in order: each starts where the previous ended"`
	// Accepted for FTS3 clients, without effect here.
	Reuse            *bool   `json:"reuse,omitempty" doc:"FTS3 session reuse; accepted and ignored"`
	SpaceToken       *string `json:"spacetoken,omitempty" doc:"Accepted and ignored"`
	SourceSpaceToken *string `json:"source_spacetoken,omitempty" doc:"Accepted and ignored"`
	BringOnline      *int    `json:"bring_online,omitempty" doc:"Accepted and ignored (no tape here)"`
	CopyPinLifetime  *int    `json:"copy_pin_lifetime,omitempty" doc:"Accepted and ignored"`
	Gridftp          any     `json:"gridftp,omitempty" doc:"Accepted and ignored"`
}

// TransferSubmission is the body of POST /v1/transfers.
type TransferSubmission struct {
	Files  []SubmittedFile  `json:"files" minItems:"1" maxItems:"20000"`
	Params SubmissionParams `json:"params,omitempty"`
}

// TransferFileItem is one file of a job.
type TransferFileItem struct {
	FileIndex      int        `json:"file_index"`
	FileState      string     `json:"file_state" enum:"SUBMITTED,ACTIVE,ON_HOLD,FINISHED,FAILED,CANCELED"`
	Reason         string     `json:"reason,omitempty"`
	Sources        []string   `json:"sources"`
	SourceSurl     string     `json:"source_surl,omitempty" doc:"The source the bytes came from"`
	DestSurl       string     `json:"dest_surl"`
	SourceSE       string     `json:"source_se"`
	DestSE         string     `json:"dest_se"`
	Checksum       string     `json:"checksum,omitempty" doc:"Your checksum"`
	SourceChecksum string     `json:"source_checksum,omitempty"`
	DestChecksum   string     `json:"dest_checksum,omitempty"`
	UserFilesize   int64      `json:"user_filesize" doc:"The size you gave (0: none)"`
	Filesize       int64      `json:"filesize" doc:"Bytes copied (so far, while ACTIVE)"`
	Retry          int        `json:"retry" doc:"Retries so far"`
	Throughput     float64    `json:"throughput" doc:"Bytes per second of the copy"`
	TxDuration     float64    `json:"tx_duration" doc:"Seconds the copy took (so far)"`
	StartTime      *time.Time `json:"start_time,omitempty"`
	FinishTime     *time.Time `json:"finish_time,omitempty"`
	FileMetadata   any        `json:"file_metadata,omitempty"`
	LFN            string     `json:"lfn,omitempty" doc:"The catalogue file the destination is registered as a replica of"`
}

// TransferJobItem is a transfer job.
type TransferJobItem struct {
	itemMedia
	UID            string             `json:"uid"`
	JobID          string             `json:"job_id"`
	JobState       string             `json:"job_state" enum:"SUBMITTED,ACTIVE,FINISHED,FINISHEDDIRTY,FAILED,CANCELED"`
	Reason         string             `json:"reason,omitempty"`
	Owner          string             `json:"owner"`
	Project        string             `json:"project,omitempty"`
	Priority       int                `json:"priority"`
	VerifyChecksum string             `json:"verify_checksum"`
	Overwrite      bool               `json:"overwrite_flag"`
	Retry          int                `json:"retry"`
	RetryDelay     int                `json:"retry_delay"`
	Multihop       bool               `json:"multihop"`
	SID            string             `json:"sid,omitempty"`
	JobMetadata    any                `json:"job_metadata,omitempty"`
	SourceSE       string             `json:"source_se"`
	DestSE         string             `json:"dest_se"`
	SubmitTime     time.Time          `json:"submit_time"`
	JobFinished    *time.Time         `json:"job_finished,omitempty"`
	FilesTotal     int                `json:"files_total"`
	FileCounts     map[string]int     `json:"file_counts" doc:"Files per state"`
	Files          []TransferFileItem `json:"files,omitempty" doc:"The first files (all of a job of up to 1000 files); the files link pages them all"`
	Links          []Link             `json:"links"`
}

const itemFiles = 1000

func rawAny(r json.RawMessage) any {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

func transferFileItem(f store.TransferFile, now time.Time) TransferFileItem {
	return TransferFileItem{FileIndex: f.Index, FileState: f.State, Reason: f.Reason, Sources: f.Sources, SourceSurl: f.SourceUsed, DestSurl: f.Destination,
		SourceSE: f.SourceSE, DestSE: f.DestSE, Checksum: f.Checksum, SourceChecksum: f.SourceChecksum, DestChecksum: f.DestChecksum,
		UserFilesize: f.FileSize, Filesize: f.Bytes, Retry: f.Retries, Throughput: f.Throughput, TxDuration: f.Duration(now).Seconds(),
		StartTime: f.StartedAt, FinishTime: f.FinishedAt, FileMetadata: rawAny(f.Metadata), LFN: f.LFN}
}

func transferJobItem(ctx context.Context, j store.TransferJob, files []store.TransferFile) TransferJobItem {
	it := TransferJobItem{UID: j.ID, JobID: j.ID, JobState: j.State, Reason: j.Reason, Owner: j.Owner, Project: j.Project, Priority: j.Priority,
		VerifyChecksum: j.Verify, Overwrite: j.Overwrite, Retry: j.Retry, RetryDelay: int(j.RetryDelay / time.Second), Multihop: j.Multihop, SID: j.SID,
		JobMetadata: rawAny(j.Metadata), SourceSE: j.SourceSE, DestSE: j.DestSE, SubmitTime: j.CreatedAt, JobFinished: j.FinishedAt,
		FilesTotal: j.FilesTotal, FileCounts: j.Counts,
		Links: []Link{
			link(ctx, "self", "/transfers/"+j.ID, ItemType),
			link(ctx, "parent", "/transfers", CollectionType),
			link(ctx, "files", "/transfers/"+j.ID+"/files", CollectionType),
			link(ctx, "events", "/transfers/"+j.ID+"/events", "text/event-stream"),
		}}
	if it.FileCounts == nil {
		it.FileCounts = map[string]int{}
	}
	now := time.Now()
	for _, f := range files {
		it.Files = append(it.Files, transferFileItem(f, now))
	}
	return it
}

// transferError maps the transfer service's refusals to problems.
func transferError(err error) error {
	var fe *transfer.FieldError
	var te *transfer.Error
	switch {
	case errors.As(err, &fe):
		detail := &huma.ErrorDetail{Location: fe.Location, Message: fe.Message, Value: fe.Value}
		if fe.Status == http.StatusForbidden {
			return huma.Error403Forbidden(fe.Location+": "+fe.Message, detail)
		}
		return huma.Error422UnprocessableEntity(fe.Location+": "+fe.Message, detail)
	case errors.As(err, &te):
		return huma.NewError(te.Status, te.Message)
	case errors.Is(err, store.ErrFinal):
		return huma.Error409Conflict(err.Error())
	}
	return storeError(err, "transfer")
}

// TransferPath addresses a job.
type TransferPath struct {
	ID string `path:"id" maxLength:"64" doc:"Job id" example:"3f2b6c1e-5d7a-4b8e-9c0d-1e2f3a4b5c6d"`
}

// TransferListQuery filters job lists.
type TransferListQuery struct {
	Paging
	State    string `query:"state" enum:"SUBMITTED,ACTIVE,FINISHED,FINISHEDDIRTY,FAILED,CANCELED," doc:"Only jobs in this state"`
	Owner    string `query:"owner" maxLength:"64" doc:"Only jobs of this user (administrators; others see their own)"`
	Project  string `query:"project" maxLength:"64" doc:"Only jobs of this project"`
	SourceSE string `query:"source_se" maxLength:"1024" doc:"Only jobs with a file from this storage, as file://localhost, http://host:port or node://NODE"`
	DestSE   string `query:"dest_se" maxLength:"1024" doc:"Only jobs with a file to this storage"`
	Since    string `query:"since" doc:"Only jobs submitted at or after this time (RFC 3339)"`
	Until    string `query:"until" doc:"Only jobs submitted before this time (RFC 3339)"`
}

// TransferFilesQuery filters the files of a job.
type TransferFilesQuery struct {
	Paging
	State string `query:"state" enum:"SUBMITTED,ACTIVE,ON_HOLD,FINISHED,FAILED,CANCELED," doc:"Only files in this state"`
}

// TransferCreated answers a submission.
type TransferCreated struct {
	itemMedia
	JobID   string `json:"job_id"`
	Existed bool   `json:"existed" doc:"True when a deterministic id named a job submitted before: that job is returned, no new one made"`
	TransferJobItem
}

func (s *Server) ownTransfer(ctx context.Context, id string) (store.TransferJob, error) {
	j, err := s.eng.Store.GetTransferJob(ctx, id)
	if err != nil {
		return j, storeError(err, "transfer "+quote(id))
	}
	if p := caller(ctx); !p.User.Admin && j.Owner != p.User.Name {
		return j, huma.Error404NotFound("transfer " + quote(id) + " not found")
	}
	return j, nil
}

// allowNode lets a submission use node storage on the nodes of the caller's
// running reservations (any node for an administrator).
func (s *Server) allowNode(ctx context.Context, node string) error {
	snap, err := s.eng.Current(ctx)
	if err != nil {
		return err
	}
	if snap.Testbed.Node(node) == nil {
		return fmt.Errorf("no node %q in the testbed", node)
	}
	if _, err := s.holder(ctx, node); err != nil {
		return fmt.Errorf("node %s is not in one of your running reservations: reserve it first", node)
	}
	return nil
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, huma.Error422UnprocessableEntity(field+": not an RFC 3339 time: "+v, &huma.ErrorDetail{Location: "query." + field, Value: v})
	}
	return t, nil
}

func (s *Server) registerTransfers(api huma.API) {
	submit := op("submit-transfer", http.MethodPost, "/v1/transfers", "Submit a transfer job (FTS3 format)", "transfers")
	submit.Description = "Files with their sources (tried in turn), one destination each, an optional checksum, and the job's parameters. " +
		"Answers 201 with the job, or 200 with the job a deterministic id already names. The JSON Schema of the body is at /v1/transfers/schema."
	submit.DefaultStatus = http.StatusCreated
	submit.MaxBodyBytes = 16 << 20
	huma.Register(api, submit, func(ctx context.Context, in *struct{ Body TransferSubmission }) (*struct {
		Status   int
		Location string `header:"Location"`
		Body     TransferCreated
	}, error) {
		p := caller(ctx)
		b := in.Body
		var verifyRaw any
		if b.Params.VerifyChecksum != nil {
			verifyRaw = b.Params.VerifyChecksum.value
		}
		verify, err := storage.ParseVerify(verifyRaw)
		if err != nil {
			return nil, huma.Error422UnprocessableEntity("params.verify_checksum: "+err.Error(), &huma.ErrorDetail{Location: "body.params.verify_checksum", Value: verifyRaw})
		}
		req := transfer.Request{Owner: p.User.Name, Verify: verify, Overwrite: b.Params.Overwrite, Retry: b.Params.Retry,
			RetryDelay: time.Duration(b.Params.RetryDelay) * time.Second, Priority: b.Params.Priority, SID: b.Params.SID,
			Deterministic: b.Params.IDGenerator == "deterministic", Multihop: b.Params.Multihop}
		if req.Priority == 0 {
			req.Priority = 3
		}
		if !p.User.Admin {
			req.AllowNode = s.allowNode
			req.AllowLFN = func(path string) error { return mayWrite(ctx, path) }
		}
		if b.Params.JobMetadata != nil {
			req.Metadata, _ = json.Marshal(b.Params.JobMetadata)
		}
		for _, f := range b.Files {
			tf := transfer.File{Sources: f.Sources, Destinations: f.Destinations, Checksum: f.Checksum, FileSize: f.FileSize, LFN: f.LFN}
			if f.Metadata != nil {
				tf.Metadata, _ = json.Marshal(f.Metadata)
			}
			req.Files = append(req.Files, tf)
		}
		job, existed, err := s.eng.Transfers.Submit(ctx, req)
		if err != nil {
			return nil, transferError(err)
		}
		job, err = s.eng.Store.GetTransferJob(ctx, job.ID)
		if err != nil {
			return nil, storeError(err, "transfer")
		}
		status := http.StatusCreated
		if existed {
			status = http.StatusOK
		}
		return &struct {
			Status   int
			Location string `header:"Location"`
			Body     TransferCreated
		}{status, base(ctx) + "/transfers/" + job.ID, TransferCreated{JobID: job.ID, Existed: existed, TransferJobItem: transferJobItem(ctx, job, nil)}}, nil
	})
	alsoAnswers(api, http.MethodPost, "/v1/transfers", http.StatusOK, "The job your deterministic id (params.sid) already names: nothing new was submitted")

	huma.Register(api, public("transfer-schema", http.MethodGet, "/v1/transfers/schema", "The JSON Schema of a transfer submission", "transfers"),
		func(ctx context.Context, in *struct{}) (*struct {
			ContentType string `header:"Content-Type"`
			Body        []byte
		}, error) {
			schema, err := submissionSchema(api)
			if err != nil {
				return nil, huma.Error500InternalServerError("schema: " + err.Error())
			}
			return &struct {
				ContentType string `header:"Content-Type"`
				Body        []byte
			}{"application/schema+json", schema}, nil
		})

	huma.Register(api, op("list-transfers", http.MethodGet, "/v1/transfers", "List transfer jobs, newest first", "transfers"),
		func(ctx context.Context, in *struct{ TransferListQuery }) (*struct{ Body Collection[TransferJobItem] }, error) {
			p, q := caller(ctx), in.TransferListQuery
			f := store.TransferFilter{State: q.State, Owner: q.Owner, Project: q.Project, SourceSE: q.SourceSE, DestSE: q.DestSE, Offset: q.Offset, Limit: q.Limit}
			if !p.User.Admin {
				if q.Owner != "" && q.Owner != p.User.Name {
					return nil, huma.Error403Forbidden("you can list only your own transfers: drop owner or set it to " + p.User.Name)
				}
				f.Owner = p.User.Name
			}
			var err error
			if f.Since, err = parseTime("since", q.Since); err != nil {
				return nil, err
			}
			if f.Until, err = parseTime("until", q.Until); err != nil {
				return nil, err
			}
			jobs, total, err := s.eng.Store.ListTransferJobs(ctx, f)
			if err != nil {
				return nil, storeError(err, "transfers")
			}
			items := make([]TransferJobItem, len(jobs))
			for i, j := range jobs {
				items[i] = transferJobItem(ctx, j, nil)
			}
			var extra []string
			for k, v := range map[string]string{"state": q.State, "owner": q.Owner, "project": q.Project, "source_se": q.SourceSE, "dest_se": q.DestSE, "since": q.Since, "until": q.Until} {
				if v != "" {
					extra = append(extra, k+"="+v)
				}
			}
			return &struct{ Body Collection[TransferJobItem] }{storePage(ctx, items, total, q.Paging, "/transfers", "", sortedJoin(extra))}, nil
		})

	huma.Register(api, op("get-transfer", http.MethodGet, "/v1/transfers/{id}", "A transfer job with its files", "transfers"),
		func(ctx context.Context, in *TransferPath) (*struct{ Body TransferJobItem }, error) {
			j, err := s.ownTransfer(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			files, _, err := s.eng.Store.TransferFiles(ctx, j.ID, store.TransferFileFilter{Limit: itemFiles})
			if err != nil {
				return nil, storeError(err, "transfer files")
			}
			return &struct{ Body TransferJobItem }{transferJobItem(ctx, j, files)}, nil
		})

	huma.Register(api, op("list-transfer-files", http.MethodGet, "/v1/transfers/{id}/files", "The files of a transfer job", "transfers"),
		func(ctx context.Context, in *struct {
			TransferPath
			TransferFilesQuery
		}) (*struct{ Body Collection[TransferFileItem] }, error) {
			j, err := s.ownTransfer(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			q := in.TransferFilesQuery
			files, total, err := s.eng.Store.TransferFiles(ctx, j.ID, store.TransferFileFilter{State: q.State, Offset: q.Offset, Limit: q.Limit})
			if err != nil {
				return nil, storeError(err, "transfer files")
			}
			now := time.Now()
			items := make([]TransferFileItem, len(files))
			for i, f := range files {
				items[i] = transferFileItem(f, now)
			}
			extra := ""
			if q.State != "" {
				extra = "state=" + q.State
			}
			return &struct{ Body Collection[TransferFileItem] }{storePage(ctx, items, total, q.Paging, "/transfers/"+j.ID+"/files", "/transfers/"+j.ID, extra)}, nil
		})

	cancel := op("cancel-transfer", http.MethodDelete, "/v1/transfers/{id}", "Cancel a transfer job", "transfers")
	cancel.Description = "Queued files are canceled at once; running copies stop and remove what they wrote. Answers 202 with the job."
	cancel.DefaultStatus = http.StatusAccepted
	huma.Register(api, cancel, func(ctx context.Context, in *TransferPath) (*struct{ Body TransferJobItem }, error) {
		j, err := s.ownTransfer(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if err := s.eng.Transfers.Cancel(ctx, j.ID, caller(ctx).User.Name); err != nil {
			return nil, transferError(err)
		}
		j, err = s.eng.Store.GetTransferJob(ctx, j.ID)
		if err != nil {
			return nil, storeError(err, "transfer")
		}
		return &struct{ Body TransferJobItem }{transferJobItem(ctx, j, nil)}, nil
	})

	events := op("transfer-events", http.MethodGet, "/v1/transfers/{id}/events", "Stream a job's state and its files' progress (Server-Sent Events)", "transfers")
	// The stream's 200 and headers go out before the handler runs: check
	// the job first, so that another user's job is a 404, not a stream.
	events.Middlewares = huma.Middlewares{func(hctx huma.Context, next func(huma.Context)) {
		if _, err := s.ownTransfer(hctx.Context(), hctx.Param("id")); err != nil {
			status := http.StatusInternalServerError
			var se huma.StatusError
			if errors.As(err, &se) {
				status = se.GetStatus()
			}
			_ = huma.WriteErr(api, hctx, status, err.Error())
			return
		}
		next(hctx)
	}}
	sse.Register(api, events, map[string]any{"job": TransferJobEvent{}, "file": TransferFileItem{}}, func(ctx context.Context, in *TransferPath, send sse.Sender) {
		j, err := s.ownTransfer(ctx, in.ID)
		if err != nil {
			_ = send(sse.Message{Data: TransferJobEvent{JobID: in.ID, JobState: "", Reason: err.Error()}})
			return
		}
		var after time.Time
		lastState := ""
		tick := time.NewTicker(500 * time.Millisecond) // the store is the bus: every replica sees every change
		defer tick.Stop()
		for {
			j, err = s.eng.Store.GetTransferJob(ctx, j.ID)
			if err != nil {
				return
			}
			// Read the files changed since the last round; the next round
			// starts from the newest change seen.
			files, _, err := s.eng.Store.TransferFiles(ctx, j.ID, store.TransferFileFilter{UpdatedAfter: after, Limit: 1000})
			if err != nil {
				return
			}
			now := time.Now()
			for _, f := range files {
				if f.UpdatedAt.After(after) {
					after = f.UpdatedAt
				}
				if send(sse.Message{Data: transferFileItem(f, now)}) != nil {
					return
				}
			}
			if j.State != lastState {
				lastState = j.State
				if send(sse.Message{Data: TransferJobEvent{JobID: j.ID, JobState: j.State, Reason: j.Reason, FileCounts: j.Counts}}) != nil {
					return
				}
			}
			if store.IsTransferFinal(j.State) && len(files) < 1000 {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})

	s.registerOptimizer(api)
	s.registerBans(api)
}

// TransferJobEvent is the "job" message of a job's event stream.
type TransferJobEvent struct {
	JobID      string         `json:"job_id"`
	JobState   string         `json:"job_state"`
	Reason     string         `json:"reason,omitempty"`
	FileCounts map[string]int `json:"file_counts,omitempty"`
}

func sortedJoin(parts []string) string {
	slices.Sort(parts) // map order would make the links change between calls
	return strings.Join(parts, "&")
}

// submissionSchema renders the submission's schema with every schema it
// refers to, as one JSON Schema document (2020-12) a client can validate
// against.
func submissionSchema(api huma.API) ([]byte, error) {
	reg := api.OpenAPI().Components.Schemas
	defs := map[string]any{}
	var walk func(name string) error
	walk = func(name string) error {
		if _, ok := defs[name]; ok {
			return nil
		}
		sc := reg.Map()[name]
		if sc == nil {
			return fmt.Errorf("no schema %s", name)
		}
		raw, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(raw), "#/components/schemas/", "#/$defs/")
		defs[name] = json.RawMessage(text)
		for _, part := range strings.Split(string(raw), `"$ref":"#/components/schemas/`)[1:] {
			if err := walk(part[:strings.IndexByte(part, '"')]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("TransferSubmission"); err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "/v1/transfers/schema",
		"title":   "Gridflow transfer submission (FTS3 format)",
		"$ref":    "#/$defs/TransferSubmission",
		"$defs":   defs,
	}, "", "  ")
}
