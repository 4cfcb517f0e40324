package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Environment visibilities.
const (
	VisibilityPublic  = "public"  // everyone
	VisibilityProject = "project" // members of the environment's project
	VisibilityPrivate = "private" // its owner
)

// Environment is an entry of the environments catalog: an OS image archive
// and the checksum it must have.
type Environment struct {
	Name        string
	Version     string
	Description string
	OS          string
	URL         string
	Checksum    string // "<algorithm>:<hex>"
	Size        int64
	Owner       string
	Project     string
	Visibility  string
	CreatedAt   time.Time
}

// Ref is "name@version", the name a node reports for the environment it runs.
func (e Environment) Ref() string { return e.Name + "@" + e.Version }

const envColumns = `name, version, description, os, url, checksum, size, owner, project, visibility, created_at`

func scanEnvironment(row rowScanner) (Environment, error) {
	var e Environment
	err := row.Scan(&e.Name, &e.Version, &e.Description, &e.OS, &e.URL, &e.Checksum, &e.Size, &e.Owner, &e.Project, &e.Visibility, timeCol{&e.CreatedAt})
	return e, err
}

func validEnvironment(e Environment) error {
	switch {
	case e.Name == "" || e.Version == "":
		return fmt.Errorf("store: an environment needs a name and a version: %w", ErrInvalid)
	case strings.Contains(e.Name, "@") || strings.Contains(e.Version, "@"):
		return fmt.Errorf("store: environment %q version %q: '@' separates name and version and may not appear in them: %w", e.Name, e.Version, ErrInvalid)
	case e.Visibility != VisibilityPublic && e.Visibility != VisibilityProject && e.Visibility != VisibilityPrivate:
		return fmt.Errorf("store: environment %s: visibility %q is not public, project or private: %w", e.Ref(), e.Visibility, ErrInvalid)
	case e.Visibility == VisibilityProject && e.Project == "":
		return fmt.Errorf("store: environment %s is visible to a project but names none: %w", e.Ref(), ErrInvalid)
	}
	return nil
}

// CreateEnvironment adds an environment version to the catalog; a version
// that exists is ErrConflict.
func (s *Store) CreateEnvironment(ctx context.Context, e Environment) (Environment, error) {
	if err := validEnvironment(e); err != nil {
		return e, err
	}
	e.CreatedAt = norm(s.now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO environments (`+envColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		e.Name, e.Version, e.Description, e.OS, e.URL, e.Checksum, e.Size, e.Owner, e.Project, e.Visibility, s.ts(e.CreatedAt))
	if isUniqueViolation(err) {
		return e, fmt.Errorf("store: environment %s: %w", e.Ref(), ErrConflict)
	}
	if err != nil {
		return e, fmt.Errorf("store: insert environment %s: %w", e.Ref(), err)
	}
	return e, nil
}

// SeedEnvironments adds the environments that are not in the catalog yet and
// leaves the others as they are; replicas may call it concurrently.
func (s *Store) SeedEnvironments(ctx context.Context, envs []Environment) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.ts(s.now())
		for _, e := range envs {
			if err := validEnvironment(e); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO environments (`+envColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
				ON CONFLICT (name, version) DO NOTHING`,
				e.Name, e.Version, e.Description, e.OS, e.URL, e.Checksum, e.Size, e.Owner, e.Project, e.Visibility, now); err != nil {
				return fmt.Errorf("store: seed environment %s: %w", e.Ref(), err)
			}
		}
		return nil
	})
}

// ListEnvironments returns the catalog, or the versions of one name, by
// name then newest first. Visibility is the caller's business.
func (s *Store) ListEnvironments(ctx context.Context, name string) ([]Environment, error) {
	q := `SELECT ` + envColumns + ` FROM environments`
	var args []any
	if name != "" {
		q += ` WHERE name = $1`
		args = append(args, name)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY name, created_at DESC, version DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list environments: %w", err)
	}
	defer rows.Close()
	var out []Environment
	for rows.Next() {
		e, err := scanEnvironment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEnvironment returns one version of an environment.
func (s *Store) GetEnvironment(ctx context.Context, name, version string) (Environment, error) {
	e, err := scanEnvironment(s.db.QueryRowContext(ctx, `SELECT `+envColumns+` FROM environments WHERE name = $1 AND version = $2`, name, version))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("store: environment %s@%s: %w", name, version, ErrNotFound)
	}
	return e, err
}

// DeleteEnvironment removes one version of an environment. Deployments keep
// the URL and checksum they were made with.
func (s *Store) DeleteEnvironment(ctx context.Context, name, version string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM environments WHERE name = $1 AND version = $2`, name, version)
	if err != nil {
		return fmt.Errorf("store: delete environment %s@%s: %w", name, version, err)
	}
	if err := affected(res, ErrNotFound); err != nil {
		return fmt.Errorf("store: environment %s@%s: %w", name, version, err)
	}
	return nil
}

// Deployment states, as kadeploy users know them.
const (
	DeployWaiting    = "waiting"
	DeployProcessing = "processing"
	DeployTerminated = "terminated" // every node has a result, OK or KO
	DeployCanceled   = "canceled"
	DeployError      = "error" // the engine failed, not the nodes
)

// Node results of a deployment.
const (
	NodePending    = "pending"
	NodeProcessing = "processing"
	NodeOK         = "ok"
	NodeKO         = "ko"
)

// Steps of a node's deployment, in order.
const (
	StepPrepare = "prepare"
	StepWrite   = "write"
	StepVerify  = "verify"
	StepBoot    = "boot"
	StepCheck   = "check"
)

// DeploySteps lists the steps in order.
var DeploySteps = []string{StepPrepare, StepWrite, StepVerify, StepBoot, StepCheck}

// Fallbacks a node's deployment may need, kadeploy's: a soft reboot between
// the tries of a failed boot or check, then a hard power cycle when the
// boot still fails. They are keys of DeploymentNode.Timings beside the
// steps, with the seconds they took.
const (
	FallbackReboot     = "reboot"
	FallbackPowerCycle = "power_cycle"
)

// Deployment is an environment deployed on nodes of a reservation.
type Deployment struct {
	ID            string
	Site          string
	Owner         string
	ReservationID string
	Environment   string // "name@version", or a label for an image given by URL
	EnvURL        string
	EnvChecksum   string
	State         string
	Reason        string
	Run           int             // 1, then one more per retry
	Options       json.RawMessage // force, timeouts, retries as submitted
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Nodes         []DeploymentNode // sorted by node
}

// DeploymentNode is where one node of a deployment stands.
type DeploymentNode struct {
	Node   string
	State  string // pending, processing, ok, ko
	Step   string // the step it is at, or stopped at when KO
	Reason string
	// Timings are the seconds each step took, by step name.
	Timings map[string]float64
	// Attempts counts the image writes on this node over every run.
	Attempts int
	// Run is the last run that deployed the node.
	Run       int
	UpdatedAt time.Time
}

// Fallback returns the strongest fallback the node needed in its last run:
// FallbackPowerCycle, FallbackReboot, or "".
func (n DeploymentNode) Fallback() string {
	for _, f := range []string{FallbackPowerCycle, FallbackReboot} {
		if _, ok := n.Timings[f]; ok {
			return f
		}
	}
	return ""
}

// NewDeploymentID returns a fresh deployment id, also its workflow id.
func NewDeploymentID() string { return "d" + randomHex(8) }

// BusyError says which nodes another deployment is writing to.
type BusyError struct {
	Nodes []string
	By    []string // the deployments, in the order of Nodes
}

func (e *BusyError) Error() string {
	parts := make([]string, len(e.Nodes))
	for i, n := range e.Nodes {
		parts[i] = n + " (by " + e.By[i] + ")"
	}
	return "nodes already being deployed: " + strings.Join(parts, ", ")
}

func (e *BusyError) Unwrap() error { return ErrConflict }

const depColumns = `id, site, owner, reservation_id, environment, env_url, env_checksum, state, reason, run, options, created_at, updated_at`

func scanDeployment(row rowScanner) (Deployment, error) {
	var d Deployment
	var opts string
	err := row.Scan(&d.ID, &d.Site, &d.Owner, &d.ReservationID, &d.Environment, &d.EnvURL, &d.EnvChecksum, &d.State, &d.Reason,
		&d.Run, &opts, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	d.Options = json.RawMessage(opts)
	return d, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// busyNodes returns which of nodes an unfinished deployment other than
// except is still writing to.
func (s *Store) busyNodes(ctx context.Context, q querier, nodes []string, except string) error {
	if len(nodes) == 0 {
		return nil
	}
	args := []any{DeployWaiting, DeployProcessing, NodePending, NodeProcessing, except}
	marks := make([]string, len(nodes))
	for i, n := range nodes {
		args = append(args, n)
		marks[i] = fmt.Sprintf("$%d", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT n.node, n.deployment_id FROM deployment_nodes n JOIN deployments d ON d.id = n.deployment_id
		WHERE d.state IN ($1, $2) AND n.state IN ($3, $4) AND d.id <> $5 AND n.node IN (`+strings.Join(marks, ", ")+`) ORDER BY n.node, n.deployment_id`, args...)
	if err != nil {
		return fmt.Errorf("store: busy nodes: %w", err)
	}
	defer rows.Close()
	busy := &BusyError{}
	for rows.Next() {
		var n, by string
		if err := rows.Scan(&n, &by); err != nil {
			return err
		}
		busy.Nodes, busy.By = append(busy.Nodes, n), append(busy.By, by)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(busy.Nodes) > 0 {
		return busy
	}
	return nil
}

// withDeployLock runs fn in a transaction that no other deployment
// submission or retry runs beside, so that two of them never both find a
// node idle.
func (s *Store) withDeployLock(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270002)`); err != nil {
				return fmt.Errorf("store: deployment lock: %w", err)
			}
		}
		return fn(tx)
	})
}

// InsertDeployment records a new deployment with its nodes pending. Unless
// force, a node that another unfinished deployment is writing to makes it
// fail with a *BusyError (which wraps ErrConflict) and records nothing.
func (s *Store) InsertDeployment(ctx context.Context, d Deployment, nodes []string, force bool) (Deployment, error) {
	if len(nodes) == 0 {
		return d, fmt.Errorf("store: deployment %s has no nodes: %w", d.ID, ErrInvalid)
	}
	nodes = slices.Sorted(slices.Values(nodes))
	if len(d.Options) == 0 {
		d.Options = json.RawMessage("{}")
	}
	if d.Run == 0 {
		d.Run = 1
	}
	now := norm(s.now())
	err := s.withDeployLock(ctx, func(tx *sql.Tx) error {
		if !force {
			if err := s.busyNodes(ctx, tx, nodes, d.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO deployments (`+depColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			d.ID, d.Site, d.Owner, d.ReservationID, d.Environment, d.EnvURL, d.EnvChecksum, d.State, d.Reason, d.Run, string(d.Options), s.ts(now), s.ts(now))
		if isUniqueViolation(err) {
			return fmt.Errorf("store: deployment %s: %w", d.ID, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("store: insert deployment %s: %w", d.ID, err)
		}
		for _, n := range nodes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deployment_nodes (deployment_id, node, state, run, updated_at) VALUES ($1, $2, $3, $4, $5)`,
				d.ID, n, NodePending, d.Run, s.ts(now)); err != nil {
				return fmt.Errorf("store: insert node %s of deployment %s: %w", n, d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = now, now
	d.Nodes = make([]DeploymentNode, len(nodes))
	for i, n := range nodes {
		d.Nodes[i] = DeploymentNode{Node: n, State: NodePending, Timings: map[string]float64{}, Run: d.Run, UpdatedAt: now}
	}
	return d, nil
}

// DeleteDeployment removes a deployment whose workflow could not start.
func (s *Store) DeleteDeployment(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM deployments WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete deployment %s: %w", id, err)
	}
	return affected(res, ErrNotFound)
}

// IsDeploymentFinal reports whether a deployment state is final.
func IsDeploymentFinal(state string) bool {
	return state == DeployTerminated || state == DeployCanceled || state == DeployError
}

// SetDeploymentState moves a deployment to state. A final state is left only
// by RestartDeployment: trying returns ErrFinal, which makes retried
// activities idempotent. Setting the state it has is a no-op.
func (s *Store) SetDeploymentState(ctx context.Context, id, state, reason string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT state FROM deployments WHERE id = $1`, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: deployment %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: deployment %s: %w", id, err)
		}
		if cur == state {
			return nil
		}
		if IsDeploymentFinal(cur) {
			return fmt.Errorf("store: deployment %s is %s: %w", id, cur, ErrFinal)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deployments SET state = $1, reason = $2, updated_at = $3 WHERE id = $4`,
			state, reason, s.ts(s.now()), id); err != nil {
			return fmt.Errorf("store: deployment %s state: %w", id, err)
		}
		return nil
	})
}

// NodeUpdate changes where a node of a deployment stands; empty fields keep
// their value.
type NodeUpdate struct {
	State, Step, Reason string
	// Timings replace the node's timings when not nil.
	Timings map[string]float64
	// AddAttempt counts one more image write.
	AddAttempt bool
}

// UpdateDeploymentNode records a node's progress or result for run. An
// update of an older run than the node's, or of a deployment that ended (a
// late activity), changes nothing.
func (s *Store) UpdateDeploymentNode(ctx context.Context, id, node string, run int, u NodeUpdate) error {
	sets := []string{"updated_at = $1"}
	args := []any{s.ts(s.now())}
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if u.State != "" {
		add("state", u.State)
	}
	if u.Step != "" {
		add("step", u.Step)
	}
	if u.Reason != "" || u.State == NodeOK || u.State == NodeProcessing { // a new attempt clears the last reason
		add("reason", u.Reason)
	}
	if u.Timings != nil {
		b, _ := json.Marshal(u.Timings)
		add("timings", string(b))
	}
	if u.AddAttempt {
		sets = append(sets, "attempts = attempts + 1")
	}
	// A node of a deployment that ended (canceled while an activity still
	// ran) keeps the result it ended with.
	args = append(args, id, node, run, DeployWaiting, DeployProcessing)
	n := len(args)
	res, err := s.db.ExecContext(ctx, fmt.Sprintf(`UPDATE deployment_nodes SET %s WHERE deployment_id = $%d AND node = $%d AND run <= $%d
		AND deployment_id IN (SELECT id FROM deployments WHERE state IN ($%d, $%d))`,
		strings.Join(sets, ", "), n-4, n-3, n-2, n-1, n), args...)
	if err != nil {
		return fmt.Errorf("store: node %s of deployment %s: %w", node, id, err)
	}
	return affected(res, nil)
}

// FinishUnfinishedNodes marks every node of run still pending or processing
// KO with reason (a canceled or failed deployment) and returns how many.
func (s *Store) FinishUnfinishedNodes(ctx context.Context, id string, run int, reason string) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE deployment_nodes SET state = $1, reason = $2, updated_at = $3
		WHERE deployment_id = $4 AND run = $5 AND state IN ($6, $7)`, NodeKO, reason, s.ts(s.now()), id, run, NodePending, NodeProcessing)
	if err != nil {
		return 0, fmt.Errorf("store: finish nodes of deployment %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RestartDeployment starts run+1 of a final deployment on its nodes that are
// not OK: they become pending in the new run, the deployment waiting. It
// returns the deployment as it is now and the nodes to redeploy; a node that
// another deployment writes to meanwhile is a *BusyError unless force.
// Nothing to redeploy is ErrInvalid; a deployment not final yet, ErrConflict.
func (s *Store) RestartDeployment(ctx context.Context, id string, force bool) (Deployment, []string, error) {
	var nodes []string
	err := s.withDeployLock(ctx, func(tx *sql.Tx) error {
		d, err := scanDeployment(tx.QueryRowContext(ctx, `SELECT `+depColumns+` FROM deployments WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: deployment %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !IsDeploymentFinal(d.State) {
			return fmt.Errorf("store: deployment %s is still %s: wait for it to end: %w", id, d.State, ErrConflict)
		}
		if nodes, err = column(ctx, tx, `SELECT node FROM deployment_nodes WHERE deployment_id = $1 AND state <> $2 ORDER BY node`, id, NodeOK); err != nil {
			return err
		}
		if len(nodes) == 0 {
			return fmt.Errorf("store: every node of deployment %s is OK: nothing to redeploy: %w", id, ErrInvalid)
		}
		if !force {
			if err := s.busyNodes(ctx, tx, nodes, id); err != nil {
				return err
			}
		}
		now := s.ts(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE deployments SET state = $1, reason = $2, run = run + 1, updated_at = $3 WHERE id = $4`,
			DeployWaiting, fmt.Sprintf("retry: redeploying %d nodes", len(nodes)), now, id); err != nil {
			return fmt.Errorf("store: restart deployment %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deployment_nodes SET state = $1, run = run + 1, updated_at = $2 WHERE deployment_id = $3 AND state <> $4`,
			NodePending, now, id, NodeOK); err != nil {
			return fmt.Errorf("store: restart nodes of deployment %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Deployment{}, nil, err
	}
	d, err := s.GetDeployment(ctx, id)
	return d, nodes, err
}

// UndoRestart puts back a deployment whose new run could not start: its
// nodes of that run are KO again and it is final again, with reason.
func (s *Store) UndoRestart(ctx context.Context, id string, run int, state, reason string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.ts(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE deployment_nodes SET state = $1, run = run - 1, updated_at = $2 WHERE deployment_id = $3 AND run = $4`,
			NodeKO, now, id, run); err != nil {
			return fmt.Errorf("store: undo restart of deployment %s: %w", id, err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE deployments SET state = $1, reason = $2, run = run - 1, updated_at = $3 WHERE id = $4 AND run = $5`,
			state, reason, now, id, run)
		if err != nil {
			return fmt.Errorf("store: undo restart of deployment %s: %w", id, err)
		}
		return nil
	})
}

func column(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetDeployment returns a deployment with its nodes.
func (s *Store) GetDeployment(ctx context.Context, id string) (Deployment, error) {
	d, err := scanDeployment(s.db.QueryRowContext(ctx, `SELECT `+depColumns+` FROM deployments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("store: deployment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, err
	}
	nodes, err := s.deploymentNodes(ctx, []string{id})
	d.Nodes = nodes[id]
	return d, err
}

func (s *Store) deploymentNodes(ctx context.Context, ids []string) (map[string][]DeploymentNode, error) {
	out := map[string][]DeploymentNode{}
	if len(ids) == 0 {
		return out, nil
	}
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
	}
	rows, err := s.db.QueryContext(ctx, `SELECT deployment_id, node, state, step, reason, timings, attempts, run, updated_at FROM deployment_nodes
		WHERE deployment_id IN (`+strings.Join(marks, ", ")+`) ORDER BY deployment_id, node`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: deployment nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, timings string
		var n DeploymentNode
		if err := rows.Scan(&id, &n.Node, &n.State, &n.Step, &n.Reason, &timings, &n.Attempts, &n.Run, timeCol{&n.UpdatedAt}); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(timings), &n.Timings); err != nil {
			return nil, fmt.Errorf("store: timings of %s in deployment %s: %w", n.Node, id, err)
		}
		out[id] = append(out[id], n)
	}
	return out, rows.Err()
}

// DeploymentFilter selects deployments; zero fields match everything.
type DeploymentFilter struct {
	Site, Owner, State, Environment, Reservation string
	Offset, Limit                                int
}

// ListDeployments returns a page of deployments with their nodes, newest
// first, and the total.
func (s *Store) ListDeployments(ctx context.Context, f DeploymentFilter) ([]Deployment, int, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Site != "" {
		add("site = $%d", f.Site)
	}
	if f.Owner != "" {
		add("owner = $%d", f.Owner)
	}
	if f.State != "" {
		add("state = $%d", f.State)
	}
	if f.Environment != "" {
		if strings.Contains(f.Environment, "@") {
			add("environment = $%d", f.Environment)
		} else {
			add("environment LIKE $%d", f.Environment+"@%")
		}
	}
	if f.Reservation != "" {
		add("reservation_id = $%d", f.Reservation)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	out, total, err := listPage(ctx, s, "deployments", "deployments", depColumns, cond, "created_at DESC, id DESC", args, f.Offset, f.Limit, scanDeployment)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, len(out))
	for i, d := range out {
		ids[i] = d.ID
	}
	nodes, err := s.deploymentNodes(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		out[i].Nodes = nodes[out[i].ID]
	}
	return out, total, nil
}

// DeploymentChange is a deployment, or one of its nodes, as it stands after
// a change: what /v1/deployments/events streams. Node is "" for the
// deployment itself.
type DeploymentChange struct {
	Deployment string
	Site       string
	Owner      string
	Node       string
	State      string
	Step       string
	Reason     string
	Run        int
	At         time.Time // when the row last changed (its updated_at)
}

// DeploymentChangeFilter selects the changes of DeploymentChanges.
type DeploymentChangeFilter struct {
	// After: only rows changed strictly after it.
	After time.Time
	// Until, when not zero: only rows changed at or before it.
	Until time.Time
	// Owner, Site and Deployment restrict the deployments; "" matches all.
	Owner, Site, Deployment string
	// Limit bounds each of the two reads (deployments, nodes); 0: 1000.
	Limit int
}

// DeploymentChanges returns the deployments and deployment nodes that
// changed in (f.After, f.Until], oldest change first, each as it is now:
// the rows' updated_at make the stream, with no table of its own. All the
// rows that changed at one instant come together (one transaction can
// touch thousands of nodes), so a caller that goes on after the last
// instant it got misses nothing committed by then; several changes of a row
// between two calls show as its latest.
//
// No index on updated_at is needed: a node changes only while its
// deployment is unfinished, or before the change that finished it, so only
// the nodes of unfinished deployments and of deployments changed since are
// read.
func (s *Store) DeploymentChanges(ctx context.Context, f DeploymentChangeFilter) ([]DeploymentChange, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	// $1 is the instant compared with; the filters follow it.
	args := []any{s.ts(f.After)}
	var where []string
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Owner != "" {
		add("d.owner = $%d", f.Owner)
	}
	if f.Site != "" {
		add("d.site = $%d", f.Site)
	}
	if f.Deployment != "" {
		add("d.id = $%d", f.Deployment)
	}
	until := 0
	if !f.Until.IsZero() {
		args = append(args, s.ts(f.Until))
		until = len(args)
	}
	conds := func(col string) string {
		c := append([]string{col + " %s $1"}, where...)
		if until > 0 {
			c = append(c, fmt.Sprintf("%s <= $%d", col, until))
		}
		return strings.Join(c, " AND ")
	}
	depQuery := `SELECT d.id, d.site, d.owner, '', d.state, '', d.reason, d.run, d.updated_at FROM deployments d
		WHERE ` + conds("d.updated_at") + ` ORDER BY d.updated_at, d.id`
	nodeArgs := append(slices.Clone(args), DeployWaiting, DeployProcessing)
	nodeQuery := fmt.Sprintf(`SELECT d.id, d.site, d.owner, n.node, n.state, n.step, n.reason, n.run, n.updated_at
		FROM deployments d JOIN deployment_nodes n ON n.deployment_id = d.id
		WHERE (d.state IN ($%d, $%d) OR d.updated_at >= $1) AND `, len(nodeArgs)-1, len(nodeArgs)) +
		conds("n.updated_at") + ` ORDER BY n.updated_at, d.id, n.node`
	deps, err := s.changes(ctx, depQuery, args, limit)
	if err != nil {
		return nil, fmt.Errorf("store: deployment changes: %w", err)
	}
	nodes, err := s.changes(ctx, nodeQuery, nodeArgs, limit)
	if err != nil {
		return nil, fmt.Errorf("store: deployment node changes: %w", err)
	}
	// A read cut by the limit is complete only up to its last instant: the
	// changes after it wait for the next call.
	var cut time.Time
	for _, l := range [][]DeploymentChange{deps, nodes} {
		if len(l) >= limit {
			if last := l[len(l)-1].At; cut.IsZero() || last.Before(cut) {
				cut = last
			}
		}
	}
	out := append(deps, nodes...)
	if !cut.IsZero() {
		out = slices.DeleteFunc(out, func(c DeploymentChange) bool { return c.At.After(cut) })
	}
	slices.SortStableFunc(out, func(a, b DeploymentChange) int { return a.At.Compare(b.At) })
	return out, nil
}

// changes runs a change query, whose "%s" compares the row's instant with
// $1, with limit, and completes the last instant when the limit cut it.
func (s *Store) changes(ctx context.Context, query string, args []any, limit int) ([]DeploymentChange, error) {
	read := func(q string, args []any) ([]DeploymentChange, error) {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []DeploymentChange
		for rows.Next() {
			var c DeploymentChange
			if err := rows.Scan(&c.Deployment, &c.Site, &c.Owner, &c.Node, &c.State, &c.Step, &c.Reason, &c.Run, timeCol{&c.At}); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	out, err := read(fmt.Sprintf(query, ">")+fmt.Sprintf(" LIMIT %d", limit), args)
	if err != nil || len(out) < limit {
		return out, err
	}
	last := out[len(out)-1].At
	out = slices.DeleteFunc(out, func(c DeploymentChange) bool { return c.At.Equal(last) })
	same := slices.Clone(args)
	same[0] = s.ts(last)
	rest, err := read(fmt.Sprintf(query, "="), same)
	return append(out, rest...), err
}
