package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/hashicorp/hcl/v2"

	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/store"
)

// CampaignSource is a campaign as JSON: its HCL source and variables.
type CampaignSource struct {
	Source    string            `json:"source" maxLength:"1048576" doc:"The campaign, in HCL"`
	Filename  string            `json:"filename,omitempty" maxLength:"200" doc:"Name used in diagnostics" default:"campaign.hcl"`
	Variables map[string]string `json:"variables,omitempty" doc:"Values of the campaign's variables (HCL expressions or plain strings, as -var)"`
	SID       string            `json:"sid,omitempty" maxLength:"100" doc:"Submission id: submitting again with the same sid returns the first campaign"`
	Name      string            `json:"name,omitempty" maxLength:"100"`
}

type campaignInput struct {
	ContentType string   `header:"Content-Type"`
	Name        string   `query:"name" maxLength:"100" doc:"With text/x-hcl: the campaign's name"`
	SID         string   `query:"sid" maxLength:"100" doc:"With text/x-hcl: the submission id"`
	Filename    string   `query:"filename" maxLength:"200" doc:"With text/x-hcl: the file name for diagnostics"`
	Var         []string `query:"var" doc:"With text/x-hcl: a variable as name=value (repeatable)"`
	RawBody     []byte   `contentType:"text/x-hcl"`
}

// source reads either form of a submission.
func (in *campaignInput) source() (CampaignSource, error) {
	ct, _, _ := strings.Cut(in.ContentType, ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "application/json":
		var cs CampaignSource
		if err := json.Unmarshal(in.RawBody, &cs); err != nil {
			return cs, huma.Error400BadRequest("the JSON body is malformed: " + err.Error())
		}
		if strings.TrimSpace(cs.Source) == "" {
			return cs, huma.Error422UnprocessableEntity("source is empty: put the campaign's HCL in source")
		}
		if cs.Filename == "" {
			cs.Filename = "campaign.hcl"
		}
		return cs, nil
	case "text/x-hcl", "application/hcl", "text/plain":
		cs := CampaignSource{Source: string(in.RawBody), Filename: in.Filename, SID: in.SID, Name: in.Name, Variables: map[string]string{}}
		if cs.Filename == "" {
			cs.Filename = "campaign.hcl"
		}
		for _, v := range in.Var {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return cs, huma.Error422UnprocessableEntity("var must be name=value, got " + quote(v))
			}
			cs.Variables[k] = val
		}
		return cs, nil
	}
	return CampaignSource{}, huma.NewError(http.StatusUnsupportedMediaType, "send the campaign as text/x-hcl or as application/json {source, variables}, not "+quote(in.ContentType))
}

// Diagnostic is an HCL diagnostic with its position.
type Diagnostic struct {
	Severity  string `json:"severity" enum:"error,warning"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail,omitempty"`
	Filename  string `json:"filename,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

func diagnostics(diags hcl.Diagnostics) []Diagnostic {
	out := []Diagnostic{}
	for _, d := range diags {
		x := Diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			x.Severity = "warning"
		}
		if d.Subject != nil {
			x.Filename, x.Line, x.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
			x.EndLine, x.EndColumn = d.Subject.End.Line, d.Subject.End.Column
		}
		out = append(out, x)
	}
	return out
}

// StepItem is one step of a campaign as it ran.
type StepItem struct {
	Address   string          `json:"address" example:"run.bench"`
	Kind      string          `json:"kind" example:"run"`
	State     string          `json:"state" enum:"pending,running,succeeded,failed,skipped,canceled"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error,omitempty"`
	StartedAt *time.Time      `json:"started_at,omitempty"`
	EndedAt   *time.Time      `json:"ended_at,omitempty"`
	Outputs   json.RawMessage `json:"outputs,omitempty" doc:"Per instance: what it recorded (nodes, stdout, exit codes…)"`
}

// CampaignItem is a campaign with its steps and outputs.
type CampaignItem struct {
	itemMedia
	UID       string            `json:"uid"`
	Type      string            `json:"type" example:"campaign"`
	Name      string            `json:"name,omitempty"`
	Owner     string            `json:"owner"`
	State     string            `json:"state" enum:"pending,running,succeeded,failed,canceled"`
	Reason    string            `json:"reason,omitempty"`
	Filename  string            `json:"filename"`
	Variables map[string]string `json:"variables,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	StartedAt *time.Time        `json:"started_at,omitempty"`
	EndedAt   *time.Time        `json:"ended_at,omitempty"`
	Steps     []StepItem        `json:"steps,omitempty"`
	Outputs   json.RawMessage   `json:"outputs,omitempty"`
	Links     []Link            `json:"links"`
}

func campaignItem(ctx context.Context, c store.Campaign) CampaignItem {
	it := CampaignItem{UID: c.ID, Type: "campaign", Name: c.Name, Owner: c.Owner, State: c.State, Reason: c.Reason,
		Filename: c.Filename, Variables: c.Variables, CreatedAt: c.CreatedAt, StartedAt: c.StartedAt, EndedAt: c.EndedAt,
		Links: []Link{link(ctx, "self", "/campaigns/"+c.ID, ItemType), link(ctx, "parent", "/campaigns", CollectionType)}}
	if len(c.Outputs) > 0 && string(c.Outputs) != "{}" {
		it.Outputs = c.Outputs
	}
	for _, st := range c.Steps {
		si := StepItem{Address: st.Address, Kind: st.Kind, State: st.State, Attempts: st.Attempts, Error: st.Error,
			StartedAt: st.StartedAt, EndedAt: st.EndedAt}
		if len(st.Outputs) > 0 && string(st.Outputs) != "null" {
			si.Outputs = st.Outputs
		}
		it.Steps = append(it.Steps, si)
	}
	return it
}

func (s *Server) ownCampaign(ctx context.Context, id string) (store.Campaign, error) {
	c, err := s.eng.Store.GetCampaign(ctx, id)
	if err != nil {
		return c, storeError(err, "campaign "+quote(id))
	}
	if p := caller(ctx); !p.User.Admin && p.User.Name != c.Owner {
		return c, huma.Error403Forbidden("campaign " + id + " belongs to " + c.Owner)
	}
	return c, nil
}

func (s *Server) registerCampaigns(api huma.API) {
	submit := op("create-campaign", http.MethodPost, "/v1/campaigns", "Run a campaign", "campaigns")
	submit.DefaultStatus = http.StatusCreated
	submit.MaxBodyBytes = 2 << 20
	submit.Description = "The HCL source as `text/x-hcl` (variables as `?var=name=value`), or JSON `{source, variables, sid}`. " +
		"A campaign with errors is refused with 422 and its diagnostics (file:line:column); nothing is created. " +
		"A `sid` already used by you returns the first campaign (200) instead of a second one."
	huma.Register(api, submit, func(ctx context.Context, in *campaignInput) (*struct {
		Status   int
		Location string `header:"Location"`
		Body     CampaignItem
	}, error) {
		cs, err := in.source()
		if err != nil {
			return nil, err
		}
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second) // validation of hostile input is bounded
		defer cancel()
		rec, created, diags, err := s.eng.SubmitCampaign(vctx, engine.CampaignSubmission{Owner: caller(ctx).User.Name, Name: cs.Name,
			SID: cs.SID, Filename: cs.Filename, Source: []byte(cs.Source), Variables: cs.Variables})
		if diags.HasErrors() {
			return nil, huma.Error422UnprocessableEntity("the campaign has errors", diagnosticErrors(diags)...)
		}
		if err != nil {
			return nil, engineError(err, "campaign")
		}
		full, err := s.eng.Store.GetCampaign(ctx, rec.ID)
		if err != nil {
			return nil, storeError(err, "campaign")
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK
		}
		return &struct {
			Status   int
			Location string `header:"Location"`
			Body     CampaignItem
		}{status, base(ctx) + "/campaigns/" + rec.ID, campaignItem(ctx, full)}, nil
	})
	alsoAnswers(api, http.MethodPost, "/v1/campaigns", http.StatusOK, "The campaign your sid already names: nothing new was started")

	validate := op("validate-campaign", http.MethodPost, "/v1/campaigns/validate", "Check a campaign without running it", "campaigns")
	validate.MaxBodyBytes = 2 << 20
	huma.Register(api, validate, func(ctx context.Context, in *campaignInput) (*struct {
		Body struct {
			Valid       bool         `json:"valid"`
			Diagnostics []Diagnostic `json:"diagnostics"`
			Plan        string       `json:"plan,omitempty" doc:"The step graph and what each step will reserve or move"`
		}
	}, error) {
		cs, err := in.source()
		if err != nil {
			return nil, err
		}
		c, _, diags := s.eng.ValidateCampaign(ctx, cs.Filename, []byte(cs.Source), cs.Variables)
		out := &struct {
			Body struct {
				Valid       bool         `json:"valid"`
				Diagnostics []Diagnostic `json:"diagnostics"`
				Plan        string       `json:"plan,omitempty" doc:"The step graph and what each step will reserve or move"`
			}
		}{}
		out.Body.Valid = !diags.HasErrors()
		out.Body.Diagnostics = diagnostics(diags)
		if c != nil {
			out.Body.Plan = c.Plan().String()
		}
		return out, nil
	})

	huma.Register(api, op("list-campaigns", http.MethodGet, "/v1/campaigns", "List campaigns (yours; all for administrators)", "campaigns"),
		func(ctx context.Context, in *struct {
			Paging
			State string `query:"state" enum:"pending,running,succeeded,failed,canceled,"`
		}) (*struct{ Body Collection[CampaignItem] }, error) {
			p := caller(ctx)
			owner := p.User.Name
			if p.User.Admin {
				owner = ""
			}
			cs, total, err := s.eng.Store.ListCampaigns(ctx, owner, in.State, in.Offset, in.Limit)
			if err != nil {
				return nil, storeError(err, "campaigns")
			}
			items := make([]CampaignItem, len(cs))
			for i, c := range cs {
				items[i] = campaignItem(ctx, c)
			}
			return &struct{ Body Collection[CampaignItem] }{storePage(ctx, items, total, in.Paging, "/campaigns", "", "")}, nil
		})
	huma.Register(api, op("get-campaign", http.MethodGet, "/v1/campaigns/{id}", "Get a campaign with its steps and outputs", "campaigns"),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{ Body CampaignItem }, error) {
			c, err := s.ownCampaign(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &struct{ Body CampaignItem }{campaignItem(ctx, c)}, nil
		})
	cancel := op("cancel-campaign", http.MethodDelete, "/v1/campaigns/{id}", "Cancel a campaign; what it reserved is released", "campaigns")
	cancel.DefaultStatus = http.StatusAccepted
	huma.Register(api, cancel, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*struct{}, error) {
		if _, err := s.ownCampaign(ctx, in.ID); err != nil {
			return nil, err
		}
		if err := s.eng.CancelCampaign(ctx, in.ID); err != nil {
			return nil, engineError(err, "campaign")
		}
		return nil, nil
	})
}
