package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Campaign states.
const (
	CampaignPending   = "pending"
	CampaignRunning   = "running"
	CampaignSucceeded = "succeeded"
	CampaignFailed    = "failed"
	CampaignCanceled  = "canceled"
)

// Step states.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
	StepCanceled  = "canceled"
)

// Campaign is a submitted campaign and where it stands.
type Campaign struct {
	ID        string
	Owner     string
	Name      string
	SID       string
	Filename  string
	Source    string
	Variables map[string]string
	State     string
	Reason    string
	Outputs   json.RawMessage
	CreatedAt time.Time
	StartedAt *time.Time
	EndedAt   *time.Time
	Steps     []CampaignStep // filled by GetCampaign
}

// CampaignStep is one step of a campaign as it ran.
type CampaignStep struct {
	Address   string
	Kind      string
	Position  int
	State     string
	Attempts  int
	Error     string
	Outputs   json.RawMessage
	StartedAt *time.Time
	EndedAt   *time.Time
}

// NewCampaignID returns a fresh campaign id, also its workflow id.
func NewCampaignID() string { return "c" + randomHex(8) }

const campaignColumns = `id, owner, name, COALESCE(sid, ''), filename, source, variables, state, reason, outputs, created_at, started_at, ended_at`

func scanCampaign(row rowScanner) (Campaign, error) {
	var c Campaign
	var vars, outputs string
	err := row.Scan(&c.ID, &c.Owner, &c.Name, &c.SID, &c.Filename, &c.Source, &vars, &c.State, &c.Reason, &outputs,
		timeCol{&c.CreatedAt}, optTimeCol{&c.StartedAt}, optTimeCol{&c.EndedAt})
	if err != nil {
		return c, err
	}
	c.Outputs = json.RawMessage(outputs)
	if err := json.Unmarshal([]byte(vars), &c.Variables); err != nil {
		return c, fmt.Errorf("store: campaign %s variables: %w", c.ID, err)
	}
	return c, nil
}

// CreateCampaign records a campaign with its steps (pending). With a SID
// already used by the owner it returns the existing campaign and created=false.
func (s *Store) CreateCampaign(ctx context.Context, c Campaign, steps []CampaignStep) (Campaign, bool, error) {
	vars, _ := json.Marshal(c.Variables)
	if c.Variables == nil {
		vars = []byte("{}")
	}
	now := s.now()
	var sid any
	if c.SID != "" {
		sid = c.SID
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO campaigns (id, owner, name, sid, filename, source, variables, state, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, c.ID, c.Owner, c.Name, sid, c.Filename, c.Source, string(vars), CampaignPending, s.ts(now))
		if err != nil {
			return err
		}
		for i, st := range steps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_steps (campaign_id, address, kind, position, state) VALUES ($1, $2, $3, $4, $5)`,
				c.ID, st.Address, st.Kind, i, StepPending); err != nil {
				return err
			}
		}
		return nil
	})
	if isUniqueViolation(err) && c.SID != "" {
		existing, gerr := scanCampaign(s.db.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE owner = $1 AND sid = $2`, c.Owner, c.SID))
		if gerr != nil {
			return Campaign{}, false, fmt.Errorf("store: campaign with sid %q: %w", c.SID, gerr)
		}
		return existing, false, nil
	}
	if err != nil {
		return Campaign{}, false, fmt.Errorf("store: create campaign: %w", err)
	}
	got, err := s.GetCampaign(ctx, c.ID)
	return got, true, err
}

// GetCampaign returns a campaign with its steps in plan order.
func (s *Store) GetCampaign(ctx context.Context, id string) (Campaign, error) {
	c, err := scanCampaign(s.db.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("store: campaign %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT address, kind, position, state, attempts, error, outputs, started_at, ended_at
		FROM campaign_steps WHERE campaign_id = $1 ORDER BY position`, id)
	if err != nil {
		return c, fmt.Errorf("store: campaign %s steps: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st CampaignStep
		var outputs string
		if err := rows.Scan(&st.Address, &st.Kind, &st.Position, &st.State, &st.Attempts, &st.Error, &outputs,
			optTimeCol{&st.StartedAt}, optTimeCol{&st.EndedAt}); err != nil {
			return c, err
		}
		st.Outputs = json.RawMessage(outputs)
		c.Steps = append(c.Steps, st)
	}
	return c, rows.Err()
}

// ListCampaigns returns a page of campaigns (without steps), newest first.
func (s *Store) ListCampaigns(ctx context.Context, owner, state string, offset, limit int) ([]Campaign, int, error) {
	cond, args := " WHERE 1=1", []any{}
	if owner != "" {
		args = append(args, owner)
		cond += fmt.Sprintf(" AND owner = $%d", len(args))
	}
	if state != "" {
		args = append(args, state)
		cond += fmt.Sprintf(" AND state = $%d", len(args))
	}
	return listPage(ctx, s, "campaigns", "campaigns", campaignColumns, cond, "created_at DESC, id DESC", args, offset, limit, scanCampaign)
}

func isFinalCampaign(state string) bool {
	return state == CampaignSucceeded || state == CampaignFailed || state == CampaignCanceled
}

// SetCampaignState moves a campaign to state; a final state is never left
// (ErrFinal), so retried activities are idempotent. outputs may be nil.
func (s *Store) SetCampaignState(ctx context.Context, id, state, reason string, outputs json.RawMessage) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM campaigns WHERE id = $1`, id).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: campaign %s: %w", id, ErrNotFound)
			}
			return err
		}
		if cur == state {
			return nil
		}
		if isFinalCampaign(cur) {
			return fmt.Errorf("store: campaign %s is %s: %w", id, cur, ErrFinal)
		}
		now := s.ts(s.now())
		q := `UPDATE campaigns SET state = $1, reason = $2`
		args := []any{state, reason}
		if outputs != nil {
			args = append(args, string(outputs))
			q += fmt.Sprintf(", outputs = $%d", len(args))
		}
		if state == CampaignRunning {
			args = append(args, now)
			q += fmt.Sprintf(", started_at = COALESCE(started_at, $%d)", len(args))
		}
		if isFinalCampaign(state) {
			args = append(args, now)
			q += fmt.Sprintf(", ended_at = $%d", len(args))
		}
		args = append(args, id)
		_, err := tx.ExecContext(ctx, q+fmt.Sprintf(" WHERE id = $%d", len(args)), args...)
		return err
	})
}

// SetStepState records a step's progress. outputs may be nil (kept).
func (s *Store) SetStepState(ctx context.Context, id, address, state string, attempts int, errMsg string, outputs json.RawMessage) error {
	now := s.ts(s.now())
	q := `UPDATE campaign_steps SET state = $1, attempts = $2, error = $3`
	args := []any{state, attempts, errMsg}
	if outputs != nil {
		args = append(args, string(outputs))
		q += fmt.Sprintf(", outputs = $%d", len(args))
	}
	switch state {
	case StepRunning:
		args = append(args, now)
		q += fmt.Sprintf(", started_at = COALESCE(started_at, $%d), ended_at = NULL", len(args))
	case StepSucceeded, StepFailed, StepSkipped, StepCanceled:
		args = append(args, now)
		q += fmt.Sprintf(", ended_at = $%d", len(args))
	}
	args = append(args, id, address)
	res, err := s.db.ExecContext(ctx, q+fmt.Sprintf(" WHERE campaign_id = $%d AND address = $%d", len(args)-1, len(args)), args...)
	if err != nil {
		return fmt.Errorf("store: step %s of %s: %w", address, id, err)
	}
	return affected(res, ErrNotFound)
}

// FindReservationByName returns the owner's reservation with that name, most
// recent first: campaign activities name their reservations so that a retried
// activity finds the one it already made.
func (s *Store) FindReservationByName(ctx context.Context, owner, name string) (Reservation, error) {
	r, err := scanReservation(s.db.QueryRowContext(ctx, `SELECT `+resColumns+` FROM reservations WHERE owner = $1 AND name = $2 ORDER BY created_at DESC LIMIT 1`, owner, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: reservation %q of %s: %w", name, owner, ErrNotFound)
	}
	return r, err
}

// StepOutputs returns the state and outputs of some steps of a campaign,
// by address: what a step's expressions read, without the whole campaign.
func (s *Store) StepOutputs(ctx context.Context, id string, addresses []string) (map[string]CampaignStep, error) {
	out := make(map[string]CampaignStep, len(addresses))
	if len(addresses) == 0 {
		return out, nil
	}
	args := []any{id}
	marks := make([]string, len(addresses))
	for i, a := range addresses {
		args = append(args, a)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT address, state, outputs FROM campaign_steps WHERE campaign_id = $1 AND address IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: step outputs of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st CampaignStep
		var outs string
		if err := rows.Scan(&st.Address, &st.State, &outs); err != nil {
			return nil, err
		}
		st.Outputs = json.RawMessage(outs)
		out[st.Address] = st
	}
	return out, rows.Err()
}
