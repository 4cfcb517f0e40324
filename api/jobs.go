package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/store"
)

// GridJobManifest is a grid job as a user submits it, in DIRAC's words.
type GridJobManifest struct {
	Executable    string            `json:"Executable" minLength:"1" maxLength:"4096" doc:"The program to run: a path on the node, or the name of a file of the InputSandbox" example:"/bin/echo"`
	Arguments     string            `json:"Arguments,omitempty" maxLength:"65536" doc:"Its arguments, split as a shell splits words (quotes, backslashes; no expansion)" example:"Hello World"`
	JobName       string            `json:"JobName,omitempty" maxLength:"256" doc:"A name to find the job by" example:"hello"`
	JobGroup      string            `json:"JobGroup,omitempty" maxLength:"256" doc:"A group to find jobs by"`
	Project       string            `json:"Project,omitempty" maxLength:"64" doc:"One of your projects (DIRAC's OwnerGroup)"`
	Sites         []string          `json:"Sites,omitempty" maxItems:"100" doc:"Sites the job may run at, tried in order; empty or [\"ANY\"]: any site"`
	BannedSites   []string          `json:"BannedSites,omitempty" maxItems:"100" doc:"Sites it must not run at"`
	Cores         int               `json:"Cores,omitempty" minimum:"0" doc:"Cores the node must have at least"`
	Memory        string            `json:"Memory,omitempty" maxLength:"32" doc:"Memory the node must have at least" example:"1GiB"`
	CPUTime       int               `json:"CPUTime,omitempty" minimum:"0" maximum:"604800" doc:"Seconds the job may run (wall clock); past them it is killed and fails. Default 3600"`
	Environment   map[string]string `json:"Environment,omitempty" doc:"Environment variables of the job (JOBID is set too)"`
	InputSandbox  []string          `json:"InputSandbox,omitempty" maxItems:"1000" doc:"Files sent with the job (multipart parts), put in its working directory"`
	OutputSandbox []string          `json:"OutputSandbox,omitempty" maxItems:"1000" doc:"Files of its working directory to bring back, beside std.out and std.err"`
	// MaxReschedules bounds the moves to another node.
	MaxReschedules *int     `json:"MaxReschedules,omitempty" minimum:"0" maximum:"10" doc:"Moves to another node when the node dies while the job runs (default 3)"`
	OutputData     []string `json:"OutputData,omitempty" maxItems:"1000" doc:"Files of its working directory to register in the file catalogue once the job is Done, under OutputPath, with their copy on the node as replica"`
	OutputPath     string   `json:"OutputPath,omitempty" maxLength:"4096" doc:"Catalogue directory of OutputData (under /YOUR_NAME); default /YOUR_NAME/jobs/JOB_ID" example:"/alice/run1"`
}

// GridJobItem is a grid job as the API shows it, with DIRAC's attribute names.
type GridJobItem struct {
	itemMedia
	UID            string     `json:"uid"`
	JobID          string     `json:"JobID"`
	Status         string     `json:"Status" enum:"Received,Waiting,Matched,Running,Completed,Done,Failed,Killed"`
	MinorStatus    string     `json:"MinorStatus"`
	Reason         string     `json:"Reason,omitempty"`
	Owner          string     `json:"Owner"`
	Project        string     `json:"Project,omitempty"`
	JobName        string     `json:"JobName,omitempty"`
	JobGroup       string     `json:"JobGroup,omitempty"`
	Site           string     `json:"Site,omitempty"`
	Node           string     `json:"Node,omitempty"`
	Reservation    string     `json:"Reservation,omitempty" doc:"The reservation that holds (held) its node"`
	Reschedules    int        `json:"RescheduleCounter"`
	ExitCode       *int       `json:"ExitCode,omitempty" doc:"Of the executable; -1 when a signal ended it"`
	InputSandbox   string     `json:"InputSandbox,omitempty" doc:"sha256 of the input sandbox archive"`
	OutputSandbox  string     `json:"OutputSandbox,omitempty" doc:"sha256 of the output sandbox archive"`
	SubmissionTime time.Time  `json:"SubmissionTime"`
	StartExecTime  *time.Time `json:"StartExecTime,omitempty"`
	EndExecTime    *time.Time `json:"EndExecTime,omitempty"`
	LastUpdateTime time.Time  `json:"LastUpdateTime"`
	Links          []Link     `json:"links"`
}

func gridJobItem(ctx context.Context, j store.Job) GridJobItem {
	it := GridJobItem{UID: j.ID, JobID: j.ID, Status: j.State, MinorStatus: j.MinorStatus, Reason: j.Reason, Owner: j.Owner, Project: j.Project,
		JobName: j.Name, JobGroup: j.Group, Site: j.Site, Node: j.Node, Reservation: j.ReservationID, Reschedules: j.Reschedules,
		ExitCode: j.ExitCode, InputSandbox: j.InputSandbox, OutputSandbox: j.OutputSandbox, SubmissionTime: j.CreatedAt,
		StartExecTime: j.StartedAt, EndExecTime: j.FinishedAt, LastUpdateTime: j.UpdatedAt,
		Links: []Link{
			link(ctx, "self", "/jobs/"+j.ID, ItemType),
			link(ctx, "parent", "/jobs", CollectionType),
			link(ctx, "manifest", "/jobs/"+j.ID+"/manifest", ItemType),
		}}
	if j.InputSandbox != "" {
		it.Links = append(it.Links, link(ctx, "inputsandbox", "/jobs/"+j.ID+"/inputsandbox", "application/gzip"))
	}
	if j.OutputSandbox != "" {
		it.Links = append(it.Links, link(ctx, "outputsandbox", "/jobs/"+j.ID+"/outputsandbox", "application/gzip"))
	}
	if j.ReservationID != "" && j.Site != "" {
		it.Links = append(it.Links, link(ctx, "reservation", "/sites/"+j.Site+"/reservations/"+j.ReservationID, ItemType))
	}
	return it
}

// jobError maps the job service's refusals to problems.
func jobError(err error) error {
	var fe *jobs.FieldError
	var je *jobs.Error
	switch {
	case errors.As(err, &fe):
		detail := &huma.ErrorDetail{Location: fe.Location, Message: fe.Message, Value: fe.Value}
		return huma.NewError(fe.Status, fe.Location+": "+fe.Message, detail)
	case errors.As(err, &je):
		return huma.NewError(je.Status, je.Message)
	case errors.Is(err, jobs.ErrTooLarge):
		return huma.NewError(http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, store.ErrFinal):
		return huma.Error409Conflict(err.Error())
	}
	return storeError(err, "job")
}

// GridJobPath addresses a job.
type GridJobPath struct {
	ID string `path:"id" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Job id" example:"j3f2b6c1e5d7a4b8e"`
}

// GridJobListQuery holds DIRAC's listing parameters; every job attribute is a
// filter, each a list (repeat the parameter or comma-separate the values).
type GridJobListQuery struct {
	AllOwners   bool     `query:"allOwners" doc:"Jobs of every owner instead of yours only (administrators)"`
	MaxJobs     int      `query:"maxJobs" minimum:"1" maximum:"1000" default:"100" doc:"Most jobs to return"`
	StartJob    int      `query:"startJob" minimum:"0" default:"0" doc:"Index of the first job to return (newest first)"`
	Offset      int      `query:"offset" minimum:"0" doc:"Same as startJob (the API's usual name)"`
	Limit       int      `query:"limit" minimum:"0" maximum:"1000" doc:"Same as maxJobs (the API's usual name); 0: maxJobs"`
	Status      []string `query:"Status,explode" doc:"Only jobs in these states: Received, Waiting, Matched, Running, Completed, Done, Failed, Killed"`
	MinorStatus []string `query:"MinorStatus,explode" doc:"Only jobs with this minor status"`
	Site        []string `query:"Site,explode" doc:"Only jobs at these sites"`
	Node        []string `query:"Node,explode" doc:"Only jobs on these nodes"`
	JobName     []string `query:"JobName,explode" doc:"Only jobs of these names"`
	JobGroup    []string `query:"JobGroup,explode" doc:"Only jobs of these groups"`
	Owner       []string `query:"Owner,explode" doc:"Only jobs of these users (others than you: administrators)"`
	Project     []string `query:"Project,explode" doc:"Only jobs of these projects"`
}

// values splits comma lists and refuses values no job attribute can hold.
func values(field string, in []string) ([]string, error) {
	var out []string
	for _, v := range in {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if len(part) > 4096 || strings.ContainsRune(part, 0) {
				return nil, huma.Error422UnprocessableEntity(field+": a value is at most 4096 bytes, without NUL",
					&huma.ErrorDetail{Location: "query." + field, Value: part})
			}
			out = append(out, part)
		}
	}
	return out, nil
}

func (s *Server) ownJob(ctx context.Context, id string) (store.Job, error) {
	j, err := s.eng.Store.GetJob(ctx, id)
	if err != nil {
		return j, storeError(err, "job "+quote(id))
	}
	if p := caller(ctx); !p.User.Admin && j.Owner != p.User.Name {
		return j, huma.Error403Forbidden("job " + quote(id) + " belongs to another user: only its owner and administrators may see or kill it")
	}
	return j, nil
}

type jobSubmitInput struct {
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"multipart/form-data"`
}

// decodeManifest reads a JSON manifest strictly: unknown attributes and
// trailing data are refused, each error names its field.
func decodeManifest(raw []byte, loc string) (jobs.Manifest, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return jobs.Manifest{}, huma.Error400BadRequest("send a manifest: a JSON object such as {\"Executable\": \"/bin/echo\", \"Arguments\": \"Hello World\"}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m GridJobManifest
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return jobs.Manifest{}, huma.Error422UnprocessableEntity(fmt.Sprintf("%s.%s: expected %s, got a JSON %s", loc, te.Field, te.Type, te.Value),
				&huma.ErrorDetail{Location: loc + "." + te.Field, Message: "expected " + te.Type.String()})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			known := []string{}
			for i := range reflect.TypeFor[GridJobManifest]().NumField() {
				known = append(known, strings.Split(reflect.TypeFor[GridJobManifest]().Field(i).Tag.Get("json"), ",")[0])
			}
			return jobs.Manifest{}, huma.Error422UnprocessableEntity(fmt.Sprintf("%s.%s: unknown manifest attribute; the attributes are %s", loc, field, strings.Join(known, ", ")),
				&huma.ErrorDetail{Location: loc + "." + field, Message: "unknown attribute"})
		}
		return jobs.Manifest{}, huma.Error400BadRequest("the manifest is not valid JSON: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jobs.Manifest{}, huma.Error400BadRequest("the manifest is followed by more data: send one JSON object")
	}
	return jobs.Manifest(m), nil
}

// readSubmission reads a JSON manifest, or a multipart form with a
// manifest part and file parts (the input sandbox).
func (s *Server) readSubmission(in *jobSubmitInput) (jobs.Manifest, []jobs.File, error) {
	mt, params, err := mime.ParseMediaType(in.ContentType)
	if in.ContentType == "" {
		mt, err = JSONType, nil
	}
	if err != nil {
		return jobs.Manifest{}, nil, huma.NewError(http.StatusUnsupportedMediaType, "unreadable Content-Type "+quote(in.ContentType)+": send application/json or multipart/form-data")
	}
	switch strings.ToLower(mt) {
	case JSONType:
		m, err := decodeManifest(in.RawBody, "body")
		return m, nil, err
	case "multipart/form-data":
	default:
		return jobs.Manifest{}, nil, huma.NewError(http.StatusUnsupportedMediaType,
			"send the manifest as application/json, or as multipart/form-data with a manifest part and file parts, not "+quote(in.ContentType))
	}
	if params["boundary"] == "" {
		return jobs.Manifest{}, nil, huma.Error400BadRequest("the multipart/form-data Content-Type names no boundary")
	}
	limit := s.eng.Jobs.Limit()
	mr := multipart.NewReader(bytes.NewReader(in.RawBody), params["boundary"])
	var m *jobs.Manifest
	var files []jobs.File
	var total int64
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return jobs.Manifest{}, nil, huma.Error400BadRequest("the multipart body is malformed: " + err.Error())
		}
		switch name, file := part.FormName(), part.FileName(); {
		case file != "":
			data, err := io.ReadAll(io.LimitReader(part, limit-total+1))
			if err != nil {
				return jobs.Manifest{}, nil, huma.Error400BadRequest("the multipart body is malformed: " + err.Error())
			}
			total += int64(len(data))
			if total > limit {
				return jobs.Manifest{}, nil, huma.NewError(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("the input sandbox is over its limit of %d bytes (at file %s): send less, or put big inputs in storage and fetch them from the job", limit, quote(file)),
					&huma.ErrorDetail{Location: "body.InputSandbox", Value: file})
			}
			files = append(files, jobs.File{Name: file, Data: data})
		case name == "manifest":
			if m != nil {
				return jobs.Manifest{}, nil, huma.Error422UnprocessableEntity("send one manifest part, not two")
			}
			raw, err := io.ReadAll(io.LimitReader(part, defaultMaxBodyBytes+1))
			if err != nil {
				return jobs.Manifest{}, nil, huma.Error400BadRequest("the multipart body is malformed: " + err.Error())
			}
			if len(raw) > defaultMaxBodyBytes {
				return jobs.Manifest{}, nil, huma.NewError(http.StatusRequestEntityTooLarge, "the manifest part is over 1 MiB")
			}
			mm, err := decodeManifest(raw, "body.manifest")
			if err != nil {
				return jobs.Manifest{}, nil, err
			}
			m = &mm
		default:
			return jobs.Manifest{}, nil, huma.Error422UnprocessableEntity("unexpected form field "+quote(name)+": send a manifest part (JSON) and file parts (with a filename)",
				&huma.ErrorDetail{Location: "body." + name})
		}
	}
	if m == nil {
		return jobs.Manifest{}, nil, huma.Error422UnprocessableEntity("the multipart body has no manifest part: add a form field named manifest holding the JSON manifest",
			&huma.ErrorDetail{Location: "body.manifest"})
	}
	return *m, files, nil
}

func (s *Server) registerJobs(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	manifestSchema := reg.Schema(reflect.TypeFor[GridJobManifest](), true, "GridJobManifest")

	submit := op("submit-job", http.MethodPost, "/v1/jobs", "Submit a grid job (DIRAC manifest)", "jobs")
	submit.Description = "A JSON manifest, or multipart/form-data with a `manifest` part (the JSON manifest) and file parts that become the input sandbox " +
		"(files not named in the manifest's InputSandbox are added to it). The engine matches the job to a node of one of its Sites, reserves it, " +
		"stages the input sandbox, runs the executable, collects std.out, std.err and the OutputSandbox files, and releases the node. Answers 201 with the job."
	submit.DefaultStatus = http.StatusCreated
	// The body is read here, as JSON or multipart, and checked field by
	// field by the service (huma would only know the JSON form).
	submit.SkipValidateBody = true
	// Multipart overhead and the manifest beside the sandbox's own limit.
	submit.MaxBodyBytes = s.eng.Jobs.Limit() + 2<<20
	submit.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		JSONType: {Schema: manifestSchema},
		"multipart/form-data": {Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"manifest"}, Properties: map[string]*huma.Schema{
			"manifest": {Type: huma.TypeString, Description: "The JSON manifest", Examples: []any{`{"Executable":"/bin/cat","Arguments":"input.txt"}`}},
			"files":    {Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeString, Format: "binary"}, Description: "Files of the input sandbox (any part with a filename)"},
		}}},
	}}
	huma.Register(api, submit, func(ctx context.Context, in *jobSubmitInput) (*struct {
		Location string `header:"Location"`
		Body     GridJobItem
	}, error) {
		m, files, err := s.readSubmission(in)
		if err != nil {
			return nil, err
		}
		p := caller(ctx)
		j, err := s.eng.Jobs.Submit(ctx, jobs.Request{Owner: p.User.Name, Admin: p.User.Admin, Projects: p.User.Projects, Manifest: m, Files: files})
		if err != nil {
			return nil, jobError(err)
		}
		return &struct {
			Location string `header:"Location"`
			Body     GridJobItem
		}{base(ctx) + "/jobs/" + j.ID, gridJobItem(ctx, j)}, nil
	})

	list := op("list-jobs", http.MethodGet, "/v1/jobs", "List grid jobs, newest first (DIRAC's parameters)", "jobs")
	list.Description = "Your jobs, or every owner's with allOwners=true (administrators). Page with startJob and maxJobs (or offset and limit). " +
		"Any job attribute filters: Status, MinorStatus, Site, Node, JobName, JobGroup, Owner, Project, each a list " +
		"(Status=Running&Status=Waiting or Status=Running,Waiting)."
	huma.Register(api, list, func(ctx context.Context, in *struct{ GridJobListQuery }) (*struct{ Body Collection[GridJobItem] }, error) {
		p, q := caller(ctx), in.GridJobListQuery
		f := store.JobFilter{Offset: q.StartJob, Limit: q.MaxJobs}
		if q.Offset > 0 {
			f.Offset = q.Offset
		}
		if q.Limit > 0 {
			f.Limit = q.Limit
		}
		lists := []struct {
			name string
			in   []string
			out  *[]string
		}{{"Status", q.Status, &f.States}, {"MinorStatus", q.MinorStatus, &f.MinorStatuses}, {"Site", q.Site, &f.Sites}, {"Node", q.Node, &f.Nodes},
			{"JobName", q.JobName, &f.Names}, {"JobGroup", q.JobGroup, &f.Groups}, {"Owner", q.Owner, &f.Owners}, {"Project", q.Project, &f.Projects}}
		var extra []string
		for _, l := range lists {
			vs, err := values(l.name, l.in)
			if err != nil {
				return nil, err
			}
			*l.out = vs
			if len(vs) > 0 {
				extra = append(extra, l.name+"="+strings.Join(vs, ","))
			}
		}
		for _, st := range f.States {
			if !slices.Contains(store.JobStates, st) {
				return nil, huma.Error422UnprocessableEntity("Status: no state "+quote(st)+"; the states are "+strings.Join(store.JobStates, ", "),
					&huma.ErrorDetail{Location: "query.Status", Value: st})
			}
		}
		switch {
		case !p.User.Admin && q.AllOwners:
			return nil, huma.Error403Forbidden("allOwners is for administrators: you see your own jobs")
		case !p.User.Admin && slices.ContainsFunc(f.Owners, func(o string) bool { return o != p.User.Name }):
			return nil, huma.Error403Forbidden("you can list only your own jobs: drop Owner or set it to " + p.User.Name)
		case len(f.Owners) == 0 && !q.AllOwners:
			f.Owners = []string{p.User.Name}
		}
		if q.AllOwners {
			extra = append(extra, "allOwners=true")
		}
		js, total, err := s.eng.Store.ListJobs(ctx, f)
		if err != nil {
			return nil, storeError(err, "jobs")
		}
		items := make([]GridJobItem, len(js))
		for i, j := range js {
			items[i] = gridJobItem(ctx, j)
		}
		return &struct{ Body Collection[GridJobItem] }{storePage(ctx, items, total, Paging{Offset: f.Offset, Limit: f.Limit}, "/jobs", "", sortedJoin(extra))}, nil
	})

	huma.Register(api, op("get-job", http.MethodGet, "/v1/jobs/{id}", "A grid job", "jobs"),
		func(ctx context.Context, in *GridJobPath) (*struct{ Body GridJobItem }, error) {
			j, err := s.ownJob(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &struct{ Body GridJobItem }{gridJobItem(ctx, j)}, nil
		})

	huma.Register(api, op("get-job-manifest", http.MethodGet, "/v1/jobs/{id}/manifest", "The manifest of a grid job, as accepted (defaults filled in, sandbox files listed)", "jobs"),
		func(ctx context.Context, in *GridJobPath) (*struct{ Body GridJobManifest }, error) {
			j, err := s.ownJob(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			var m GridJobManifest
			if err := json.Unmarshal(j.Manifest, &m); err != nil {
				return nil, huma.Error500InternalServerError("job " + j.ID + ": unreadable manifest: " + err.Error())
			}
			return &struct{ Body GridJobManifest }{m}, nil
		})

	sandbox := func(which string) {
		o := op("get-job-"+which, http.MethodGet, "/v1/jobs/{id}/"+which, "The "+strings.TrimSuffix(which, "sandbox")+" sandbox of a grid job (tar.gz)", "jobs")
		if which == "outputsandbox" {
			o.Description = "std.out, std.err and the files of the manifest's OutputSandbox that the job wrote. 404 until the job has run."
		}
		o.Responses = map[string]*huma.Response{"200": {Description: "The archive", Content: map[string]*huma.MediaType{
			"application/gzip": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}
		huma.Register(api, o, func(ctx context.Context, in *GridJobPath) (*struct {
			ContentType        string `header:"Content-Type"`
			ContentDisposition string `header:"Content-Disposition"`
			Body               []byte
		}, error) {
			j, err := s.ownJob(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			sha := j.InputSandbox
			if which == "outputsandbox" {
				sha = j.OutputSandbox
			}
			if sha == "" {
				msg := "job " + j.ID + " was submitted without input files"
				if which == "outputsandbox" {
					msg = "job " + j.ID + " has no output sandbox yet (it is " + j.State + "): it is collected once the executable ends"
				}
				return nil, huma.Error404NotFound(msg)
			}
			f, _, err := s.eng.Jobs.Sandboxes.Open(sha)
			if err != nil {
				return nil, huma.Error503ServiceUnavailable("sandbox " + sha + " of job " + j.ID + " cannot be read on this server: " + err.Error())
			}
			defer f.Close()
			b, err := io.ReadAll(f)
			if err != nil {
				return nil, huma.Error503ServiceUnavailable("sandbox " + sha + ": " + err.Error())
			}
			return &struct {
				ContentType        string `header:"Content-Type"`
				ContentDisposition string `header:"Content-Disposition"`
				Body               []byte
			}{"application/gzip", fmt.Sprintf("attachment; filename=%q", j.ID+"-"+which+".tar.gz"), b}, nil
		})
	}
	sandbox("inputsandbox")
	sandbox("outputsandbox")

	kill := op("kill-job", http.MethodDelete, "/v1/jobs/{id}", "Kill a grid job", "jobs")
	kill.Description = "Its process is stopped and its node released; it ends Killed. Answers 202 with the job (minor status \"Marked for termination\"); 409 when it already ended."
	kill.DefaultStatus = http.StatusAccepted
	huma.Register(api, kill, func(ctx context.Context, in *GridJobPath) (*struct{ Body GridJobItem }, error) {
		j, err := s.ownJob(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		if j, err = s.eng.Jobs.Kill(ctx, j.ID, caller(ctx).User.Name); err != nil {
			return nil, jobError(err)
		}
		return &struct{ Body GridJobItem }{gridJobItem(ctx, j)}, nil
	})
}
