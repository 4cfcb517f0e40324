package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
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
var runnableKinds = map[campaign.Kind]bool{campaign.KindReservation: true, campaign.KindDeployment: true, campaign.KindTransfer: true, campaign.KindContainer: true, campaign.KindRun: true, campaign.KindJob: true}

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
	// Recording the campaign and starting its workflow go together or not at
	// all: they get their own time, not what is left of the caller's (which
	// bounds validation), and the caller going away does not cut them apart.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	rec, created, err := e.Store.CreateCampaign(ctx, store.Campaign{ID: store.NewCampaignID(), Owner: sub.Owner, Name: sub.Name,
		SID: sub.SID, Filename: sub.Filename, Source: string(sub.Source), Variables: sub.Variables}, steps)
	if err != nil {
		return rec, false, diags, err
	}
	start := func() error {
		_, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: rec.ID, TaskQueue: TaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}, workflows.Campaign, workflows.CampaignParams{ID: rec.ID})
		return err
	}
	if !created {
		// The first submission with this sid may have recorded the campaign
		// and died (a replica killed) before it started the workflow: a
		// resubmission starts it. Starting it twice is refused by Temporal.
		if rec.State == store.CampaignPending {
			var started *serviceerror.WorkflowExecutionAlreadyStarted
			if err := start(); err != nil && !errors.As(err, &started) {
				return rec, false, diags, fmt.Errorf("start the workflow of pending campaign %s: %w", rec.ID, err)
			}
		}
		return rec, false, diags, nil
	}
	if err = start(); err != nil {
		_ = e.Store.SetCampaignState(context.WithoutCancel(ctx), rec.ID, store.CampaignFailed, "the campaign workflow did not start: "+err.Error(), nil)
		return rec, false, diags, fmt.Errorf("start the campaign workflow: %w", err)
	}
	return rec, true, diags, nil
}

// StartMissingCampaigns starts the workflows of pending campaigns recorded
// more than grace ago that have none: their submission was cut short
// between the two (see resv.Service.StartMissing).
func (e *Engine) StartMissingCampaigns(ctx context.Context, grace time.Duration) (int, error) {
	pending, _, err := e.Store.ListCampaigns(ctx, "", store.CampaignPending, 0, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range pending {
		if c.CreatedAt.After(time.Now().Add(-grace)) {
			continue
		}
		if _, err := e.Temporal.DescribeWorkflowExecution(ctx, c.ID, ""); err == nil || !resv.IsNotFound(err) {
			if err != nil {
				return n, err
			}
			continue
		}
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		_, err := e.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: c.ID, TaskQueue: TaskQueue,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE}, workflows.Campaign, workflows.CampaignParams{ID: c.ID})
		if err != nil && !errors.As(err, &started) {
			return n, fmt.Errorf("start the workflow of campaign %s: %w", c.ID, err)
		}
		if err == nil {
			n++
			e.Logger.Warn("started the missing workflow of a campaign (its submission was cut short)", "campaign", c.ID)
		}
	}
	return n, nil
}

// StartMissingWorkflows runs StartMissing for reservations and campaigns
// every interval until ctx ends. Every replica runs it.
func (e *Engine) StartMissingWorkflows(ctx context.Context, interval, grace time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := e.Reservations.StartMissing(ctx, grace); err != nil && ctx.Err() == nil {
			e.Logger.Warn("cannot check reservations for a missing workflow", "err", err)
		}
		if _, err := e.StartMissingCampaigns(ctx, grace); err != nil && ctx.Err() == nil {
			e.Logger.Warn("cannot check campaigns for a missing workflow", "err", err)
		}
	}
}

// startTimeout bounds recording a new campaign and starting its workflow.
const startTimeout = 30 * time.Second

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
