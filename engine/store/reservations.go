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

// Reservation states, as OAR users know them.
const (
	ResWaiting    = "waiting"
	ResLaunching  = "launching"
	ResRunning    = "running"
	ResTerminated = "terminated"
	ResError      = "error"
	ResCanceled   = "canceled"
)

// ActiveStates hold nodes: a reservation in one of them is in the Gantt.
var ActiveStates = []string{ResWaiting, ResLaunching, ResRunning}

// Reservation is a set of nodes held by a user for a time window.
type Reservation struct {
	ID        string
	Site      string
	Owner     string
	Project   string
	Name      string
	Queue     string
	Types     []string
	Request   json.RawMessage // what the user asked for, as JSON
	State     string
	Reason    string
	Nodes     []string
	Walltime  time.Duration
	StartAt   time.Time
	EndAt     time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ReservationEvent is one state change of a reservation.
type ReservationEvent struct {
	Seq           int64
	ReservationID string
	At            time.Time
	State         string
	Message       string
}

// NewReservationID returns a fresh reservation id; it is also the id of the
// reservation's workflow.
func NewReservationID() string { return "r" + randomHex(8) }

const resColumns = `id, site, owner, project, name, queue, types, request, state, reason, nodes, walltime_s, start_at, end_at, created_at, updated_at`

type rowScanner interface{ Scan(...any) error }

func scanReservation(row rowScanner) (Reservation, error) {
	var r Reservation
	var types, nodes, request string
	var wall int64
	err := row.Scan(&r.ID, &r.Site, &r.Owner, &r.Project, &r.Name, &r.Queue, &types, &request, &r.State, &r.Reason, &nodes, &wall,
		timeCol{&r.StartAt}, timeCol{&r.EndAt}, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	if err != nil {
		return r, err
	}
	r.Walltime = time.Duration(wall) * time.Second
	r.Request = json.RawMessage(request)
	if err := json.Unmarshal([]byte(types), &r.Types); err != nil {
		return r, fmt.Errorf("store: reservation %s types: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(nodes), &r.Nodes); err != nil {
		return r, fmt.Errorf("store: reservation %s nodes: %w", r.ID, err)
	}
	return r, nil
}

// AllocTx is a transaction that holds the allocation lock: what it reads is
// what no other replica can change until it commits.
type AllocTx struct {
	s  *Store
	tx *sql.Tx
}

// WithAllocationLock runs fn holding the allocation lock — a transaction-scoped
// advisory lock on PostgreSQL, the write lock on SQLite — so that two replicas
// never allocate from the same view of the Gantt. fn's writes commit together.
func (s *Store) WithAllocationLock(ctx context.Context, fn func(a *AllocTx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270001)`); err != nil {
				return fmt.Errorf("store: allocation lock: %w", err)
			}
		}
		return fn(&AllocTx{s: s, tx: tx})
	})
}

// Active returns the reservations that hold nodes (waiting, launching, running)
// and end after now, on every site.
func (a *AllocTx) Active(ctx context.Context, now time.Time) ([]Reservation, error) {
	rows, err := a.tx.QueryContext(ctx, `SELECT `+resColumns+` FROM reservations WHERE state IN ($1, $2, $3) AND end_at > $4 ORDER BY start_at, id`,
		ResWaiting, ResLaunching, ResRunning, a.s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("store: active reservations: %w", err)
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NodeStates reads the node states inside the transaction: the allocation
// lock holds a connection, and asking the pool for a second one while every
// connection waits on the lock would deadlock.
func (a *AllocTx) NodeStates(ctx context.Context) (map[string]NodeState, error) {
	return nodeStates(ctx, a.tx)
}

// Get reads one reservation inside the transaction.
func (a *AllocTx) Get(ctx context.Context, id string) (Reservation, error) {
	r, err := scanReservation(a.tx.QueryRowContext(ctx, `SELECT `+resColumns+` FROM reservations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: reservation %s: %w", id, ErrNotFound)
	}
	return r, err
}

// Insert records a new reservation and its first event.
func (a *AllocTx) Insert(ctx context.Context, r Reservation, message string) error {
	now := a.s.now()
	types, _ := json.Marshal(nonNil(r.Types))
	nodes, _ := json.Marshal(nonNil(r.Nodes))
	if len(r.Request) == 0 {
		r.Request = json.RawMessage("{}")
	}
	_, err := a.tx.ExecContext(ctx, `INSERT INTO reservations (`+resColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
		r.ID, r.Site, r.Owner, r.Project, r.Name, r.Queue, string(types), string(r.Request), r.State, r.Reason, string(nodes),
		int64(r.Walltime/time.Second), a.s.ts(r.StartAt), a.s.ts(r.EndAt), a.s.ts(now), a.s.ts(now))
	if isUniqueViolation(err) {
		return fmt.Errorf("store: reservation %s: %w", r.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: insert reservation %s: %w", r.ID, err)
	}
	return addEvent(ctx, a.s, a.tx, r.ID, r.State, message, now)
}

// SetWindow moves a reservation's end (walltime change or preemption).
func (a *AllocTx) SetWindow(ctx context.Context, id string, end time.Time, walltime time.Duration, message string) error {
	now := a.s.now()
	res, err := a.tx.ExecContext(ctx, `UPDATE reservations SET end_at = $1, walltime_s = $2, updated_at = $3 WHERE id = $4`,
		a.s.ts(end), int64(walltime/time.Second), a.s.ts(now), id)
	if err != nil {
		return fmt.Errorf("store: resize reservation %s: %w", id, err)
	}
	if err := affected(res, ErrNotFound); err != nil {
		return fmt.Errorf("store: reservation %s: %w", id, err)
	}
	var state string
	if err := a.tx.QueryRowContext(ctx, `SELECT state FROM reservations WHERE id = $1`, id).Scan(&state); err != nil {
		return fmt.Errorf("store: reservation %s: %w", id, err)
	}
	return addEvent(ctx, a.s, a.tx, id, state, message, now)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func addEvent(ctx context.Context, s *Store, ex execer, id, state, message string, at time.Time) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO reservation_events (reservation_id, at, state, message) VALUES ($1, $2, $3, $4)`,
		id, s.ts(at), state, message)
	if err != nil {
		return fmt.Errorf("store: reservation %s event: %w", id, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ErrFinal is returned when a reservation in a final state would change state.
var ErrFinal = errors.New("reservation already ended")

// SetReservationState moves a reservation to state with an event. A final
// state (terminated, error, canceled) is never left: that returns ErrFinal,
// which makes the workflow's retried activities idempotent. Setting the state
// it already has is a no-op.
func (s *Store) SetReservationState(ctx context.Context, id, state, reason string) (Reservation, error) {
	var out Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := scanReservation(tx.QueryRowContext(ctx, `SELECT `+resColumns+` FROM reservations WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: reservation %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if r.State == state {
			out = r
			return nil
		}
		if isFinal(r.State) {
			out = r
			return fmt.Errorf("store: reservation %s is %s: %w", id, r.State, ErrFinal)
		}
		now := s.now()
		end := r.EndAt
		if isFinal(state) && now.Before(end) {
			end = norm(now) // an early end frees the nodes from now on
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET state = $1, reason = $2, end_at = $3, updated_at = $4 WHERE id = $5`,
			state, reason, s.ts(end), s.ts(now), id); err != nil {
			return fmt.Errorf("store: reservation %s state: %w", id, err)
		}
		r.State, r.Reason, r.EndAt, r.UpdatedAt = state, reason, end, norm(now)
		out = r
		return addEvent(ctx, s, tx, id, state, reason, now)
	})
	return out, err
}

func isFinal(state string) bool {
	return state == ResTerminated || state == ResError || state == ResCanceled
}

// GetReservation returns one reservation.
func (s *Store) GetReservation(ctx context.Context, id string) (Reservation, error) {
	r, err := scanReservation(s.db.QueryRowContext(ctx, `SELECT `+resColumns+` FROM reservations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: reservation %s: %w", id, ErrNotFound)
	}
	return r, err
}

// DeleteReservation removes a reservation that never started (its workflow
// could not be started): nothing half-created stays behind.
func (s *Store) DeleteReservation(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM reservations WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete reservation %s: %w", id, err)
	}
	return affected(res, ErrNotFound)
}

// ReservationFilter selects reservations; zero fields match everything.
type ReservationFilter struct {
	Site, Owner, State, Name, Queue string
	From, To                        time.Time // overlapping [From, To)
	Offset, Limit                   int
}

// ListReservations returns a page of reservations, newest first, and the total.
func (s *Store) ListReservations(ctx context.Context, f ReservationFilter) ([]Reservation, int, error) {
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
	if f.Name != "" {
		add("name = $%d", f.Name)
	}
	if f.Queue != "" {
		add("queue = $%d", f.Queue)
	}
	if !f.From.IsZero() {
		add("end_at > $%d", s.ts(f.From))
	}
	if !f.To.IsZero() {
		add("start_at < $%d", s.ts(f.To))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	return listPage(ctx, s, "reservations", "reservations", resColumns, cond, "created_at DESC, id DESC", args, f.Offset, f.Limit, scanReservation)
}

// ReservationEvents returns events after seq (0 = from the start), oldest
// first; id "" means every reservation (the SSE stream).
func (s *Store) ReservationEvents(ctx context.Context, id string, after int64, limit int) ([]ReservationEvent, error) {
	q := `SELECT seq, reservation_id, at, state, message FROM reservation_events WHERE seq > $1`
	args := []any{after}
	if id != "" {
		q += ` AND reservation_id = $2`
		args = append(args, id)
	}
	if limit <= 0 {
		limit = 1000
	}
	q += fmt.Sprintf(` ORDER BY seq LIMIT %d`, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: reservation events: %w", err)
	}
	defer rows.Close()
	var out []ReservationEvent
	for rows.Next() {
		var e ReservationEvent
		if err := rows.Scan(&e.Seq, &e.ReservationID, timeCol{&e.At}, &e.State, &e.Message); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
