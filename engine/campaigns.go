package engine

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
	"github.com/gridflow/gridflow/workflows"
)

// CampaignSubmission is what a user sends to run a campaign.
type CampaignSubmission struct {
	Owner     string
	Name      string
	SID       string // optional: a resubmission with the same sid returns the first campaign
	Filename  string
	Source    []byte
	Variables map[string]string
}

// runnableKinds are the step kinds this engine can run.
var runnableKinds = map[campaign.Kind]bool{campaign.KindReservation: true, campaign.KindDeployment: true, campaign.KindTransfer: true, campaign.KindContainer: true, campaign.KindRun: true}

// ValidateCampaign loads a campaign against the current testbed. The files
// map renders the diagnostics with their source lines.
func (e *Engine) ValidateCampaign(ctx context.Context, filename string, src []byte, vars map[string]string) (*campaign.Campaign, map[string]*hcl.File, hcl.Diagnostics) {
	in := campaign.Input{Filename: filename, Source: src, Vars: vars}
	if snap, err := e.Current(ctx); err == nil {
		in.Inventory = e.inventory(snap)
	}
	p := campaign.NewParser()
	c, diags := p.Load(in)
	return c, p.Files(), diags
}

// SubmitCampaign validates a campaign, records it and starts its workflow.
// Diagnostics with errors mean nothing was created.
func (e *Engine) SubmitCampaign(ctx context.Context, sub CampaignSubmission) (store.Campaign, bool, hcl.Diagnostics, error) {
	c, _, diags := e.ValidateCampaign(ctx, sub.Filename, sub.Source, sub.Variables)
	if diags.HasErrors() {
		return store.Campaign{}, false, diags, nil
	}
	for _, st := range c.Steps {
		if !runnableKinds[st.Kind] {
			rng := st.DeclRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &rng,
				Summary: fmt.Sprintf("%s steps cannot run yet", st.Kind),
				Detail:  fmt.Sprintf("This engine runs every step kind but this one; %s is valid HCL but its service is not available yet. Remove the block or run it by hand.", st.Address)})
		}
	}
	if diags.HasErrors() {
		return store.Campaign{}, false, diags, nil
	}
	steps := make([]store.CampaignStep, len(c.Steps))
	for i, st := range c.Steps {
		steps[i] = store.CampaignStep{Address: st.Address, Kind: string(st.Kind)}
	}
	rec, created, err := e.Store.CreateCampaign(ctx, store.Campaign{ID: store.NewCampaignID(), Owner: sub.Owner, Name: sub.Name,
		SID: sub.SID, Filename: sub.Filename, Source: string(sub.Source), Variables: sub.Variables}, steps)
	if err != nil || !created {
		return rec, false, diags, err
	}
	_, err = e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: rec.ID, TaskQueue: TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}, workflows.Campaign, workflows.CampaignParams{ID: rec.ID})
	if err != nil {
		_ = e.Store.SetCampaignState(context.WithoutCancel(ctx), rec.ID, store.CampaignFailed, "the campaign workflow did not start: "+err.Error(), nil)
		return rec, false, diags, fmt.Errorf("start the campaign workflow: %w", err)
	}
	return rec, true, diags, nil
}

// CancelCampaign cancels a campaign's workflow; it releases what it holds.
func (e *Engine) CancelCampaign(ctx context.Context, id string) error {
	rec, err := e.Store.GetCampaign(ctx, id)
	if err != nil {
		return err
	}
	switch rec.State {
	case store.CampaignSucceeded, store.CampaignFailed, store.CampaignCanceled:
		return &RequestError{Status: 409, Msg: fmt.Sprintf("campaign %s already ended (%s)", id, rec.State)}
	}
	if err := e.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		if resv.IsNotFound(err) {
			return &RequestError{Status: 409, Msg: fmt.Sprintf("campaign %s already ended", id)}
		}
		return err
	}
	return nil
}

// RequestError is a request the engine refuses as asked (a 4xx).
type RequestError = resv.RequestError
