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

// Grid job states, as DIRAC names them.
const (
	JobReceived  = "Received"  // recorded, its workflow not yet at work
	JobWaiting   = "Waiting"   // looking for, or waiting for, a node
	JobMatched   = "Matched"   // a node is reserved for it
	JobRunning   = "Running"   // its sandbox is staged, its executable runs
	JobCompleted = "Completed" // the executable ended; the output is collected
	JobDone      = "Done"      // final: ended with exit code 0
	JobFailed    = "Failed"    // final: see the minor status and the reason
	JobKilled    = "Killed"    // final: its owner or an administrator killed it
)

// JobStates lists every state, in the order a job goes through them.
var JobStates = []string{JobReceived, JobWaiting, JobMatched, JobRunning, JobCompleted, JobDone, JobFailed, JobKilled}

// IsJobFinal reports whether a job state is final.
func IsJobFinal(state string) bool {
	return state == JobDone || state == JobFailed || state == JobKilled
}

// Job is a grid job.
type Job struct {
	ID, Owner, Project string
	Name, Group        string
	State              string
	MinorStatus        string
	Reason             string
	// Manifest is the manifest as accepted (JSON).
	Manifest json.RawMessage
	// Site, Node and ReservationID name where it runs (ran, last).
	Site, Node, ReservationID string
	// Reschedules counts the times it was moved to another node.
	Reschedules int
	// ExitCode of the executable: nil until it ended (-1: a signal ended it).
	ExitCode *int
	// InputSandbox and OutputSandbox are sha256 hex digests of the archives
	// ("" when there is none).
	InputSandbox, OutputSandbox string
	CreatedAt, UpdatedAt        time.Time
	StartedAt, FinishedAt       *time.Time
}

const jobColumns = `id, owner, project, name, job_group, state, minor_status, reason, manifest, site, node, reservation_id, reschedules, exit_code, input_sandbox, output_sandbox, created_at, updated_at, started_at, finished_at`

func scanJob(row rowScanner) (Job, error) {
	var j Job
	var manifest string
	var exit sql.NullInt64
	err := row.Scan(&j.ID, &j.Owner, &j.Project, &j.Name, &j.Group, &j.State, &j.MinorStatus, &j.Reason, &manifest, &j.Site, &j.Node,
		&j.ReservationID, &j.Reschedules, &exit, &j.InputSandbox, &j.OutputSandbox,
		timeCol{&j.CreatedAt}, timeCol{&j.UpdatedAt}, optTimeCol{&j.StartedAt}, optTimeCol{&j.FinishedAt})
	if exit.Valid {
		c := int(exit.Int64)
		j.ExitCode = &c
	}
	j.Manifest = json.RawMessage(manifest)
	return j, err
}

// InsertJob records a new job (state Received unless set). An id already
// used is ErrConflict.
func (s *Store) InsertJob(ctx context.Context, j Job) (Job, error) {
	if j.ID == "" || j.Owner == "" || len(j.Manifest) == 0 {
		return j, fmt.Errorf("store: a job needs an id, an owner and a manifest: %w", ErrInvalid)
	}
	if j.State == "" {
		j.State = JobReceived
	}
	now := norm(s.now())
	j.CreatedAt, j.UpdatedAt = now, now
	var exit any
	if j.ExitCode != nil {
		exit = *j.ExitCode
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)`,
		j.ID, j.Owner, j.Project, j.Name, j.Group, j.State, j.MinorStatus, j.Reason, string(j.Manifest), j.Site, j.Node, j.ReservationID,
		j.Reschedules, exit, j.InputSandbox, j.OutputSandbox, s.ts(now), s.ts(now), s.tsOpt(j.StartedAt), s.tsOpt(j.FinishedAt))
	if isUniqueViolation(err) {
		return j, fmt.Errorf("store: job %s: %w", j.ID, ErrConflict)
	}
	if err != nil {
		return j, fmt.Errorf("store: insert job %s: %w", j.ID, err)
	}
	return j, nil
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("store: job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("store: job %s: %w", id, err)
	}
	return j, nil
}

// DeleteJob removes a job (a submission whose workflow did not start).
func (s *Store) DeleteJob(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM jobs WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete job %s: %w", id, err)
	}
	return affected(res, fmt.Errorf("store: job %s: %w", id, ErrNotFound))
}

// JobFilter selects jobs. Each list matches any of its values; empty lists
// match everything. Lists are DIRAC's "any job attribute as a restriction".
type JobFilter struct {
	Owners, Projects, Names, Groups []string
	States, MinorStatuses           []string
	Sites, Nodes                    []string
	Offset, Limit                   int
}

// ListJobs returns a page of the jobs that pass f, newest first, and how
// many pass it in all.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]Job, int, error) {
	var where []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		ph := make([]string, len(vals))
		for i, v := range vals {
			args = append(args, v)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
	}
	in("owner", f.Owners)
	in("project", f.Projects)
	in("name", f.Names)
	in("job_group", f.Groups)
	in("state", f.States)
	in("minor_status", f.MinorStatuses)
	in("site", f.Sites)
	in("node", f.Nodes)
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	return listPage(ctx, s, "jobs", "jobs", jobColumns, cond, "created_at DESC, id DESC", args, f.Offset, f.Limit, scanJob)
}

// JobUpdate changes a job; nil fields are left as they are.
type JobUpdate struct {
	State, MinorStatus, Reason *string
	Site, Node, ReservationID  *string
	Reschedules                *int
	ExitCode                   *int
	OutputSandbox              *string
}

// Str is a helper for JobUpdate's fields.
func Str(s string) *string { return &s }

// UpdateJob applies u to a job and returns it. A job in a final state does
// not change any more (ErrFinal), so that a retried activity, or a kill
// racing the job's end, cannot move it back. The first move to Running
// sets StartedAt, a final state FinishedAt.
func (s *Store) UpdateJob(ctx context.Context, id string, u JobUpdate) (Job, error) {
	var out Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: job %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: job %s: %w", id, err)
		}
		if IsJobFinal(cur.State) {
			return fmt.Errorf("store: job %s is %s: %w", id, cur.State, ErrFinal)
		}
		now := norm(s.now())
		var sets []string
		var args []any
		set := func(col string, v any) {
			args = append(args, v)
			sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
		}
		str := func(col string, p *string, dst *string) {
			if p != nil {
				set(col, *p)
				*dst = *p
			}
		}
		str("state", u.State, &cur.State)
		str("minor_status", u.MinorStatus, &cur.MinorStatus)
		str("reason", u.Reason, &cur.Reason)
		str("site", u.Site, &cur.Site)
		str("node", u.Node, &cur.Node)
		str("reservation_id", u.ReservationID, &cur.ReservationID)
		str("output_sandbox", u.OutputSandbox, &cur.OutputSandbox)
		if u.Reschedules != nil {
			set("reschedules", *u.Reschedules)
			cur.Reschedules = *u.Reschedules
		}
		if u.ExitCode != nil {
			set("exit_code", *u.ExitCode)
			c := *u.ExitCode
			cur.ExitCode = &c
		}
		if cur.State == JobRunning && cur.StartedAt == nil {
			set("started_at", s.ts(now))
			cur.StartedAt = &now
		}
		if IsJobFinal(cur.State) {
			set("finished_at", s.ts(now))
			cur.FinishedAt = &now
		}
		set("updated_at", s.ts(now))
		cur.UpdatedAt = now
		args = append(args, id)
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE jobs SET %s WHERE id = $%d`, strings.Join(sets, ", "), len(args)), args...); err != nil {
			return fmt.Errorf("store: update job %s: %w", id, err)
		}
		out = cur
		return nil
	})
	return out, err
}

// Sandbox is a stored sandbox archive.
type Sandbox struct {
	SHA256    string
	Size      int64
	CreatedAt time.Time
}

// RecordSandbox records a stored archive; recording one already known
// changes nothing (sandboxes are content-addressed) and returns the first
// record.
func (s *Store) RecordSandbox(ctx context.Context, sha string, size int64) (Sandbox, error) {
	if len(sha) != 64 || size < 0 {
		return Sandbox{}, fmt.Errorf("store: sandbox %q of %d bytes: %w", sha, size, ErrInvalid)
	}
	now := norm(s.now())
	if _, err := s.db.ExecContext(ctx, `INSERT INTO job_sandboxes (sha256, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING`,
		sha, size, s.ts(now)); err != nil {
		return Sandbox{}, fmt.Errorf("store: record sandbox %s: %w", sha, err)
	}
	return s.GetSandbox(ctx, sha)
}

// GetSandbox reads the record of a sandbox archive.
func (s *Store) GetSandbox(ctx context.Context, sha string) (Sandbox, error) {
	var sb Sandbox
	err := s.db.QueryRowContext(ctx, `SELECT sha256, size, created_at FROM job_sandboxes WHERE sha256 = $1`, sha).
		Scan(&sb.SHA256, &sb.Size, timeCol{&sb.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return sb, fmt.Errorf("store: sandbox %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return sb, fmt.Errorf("store: sandbox %s: %w", sha, err)
	}
	return sb, nil
}
