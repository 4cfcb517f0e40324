package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StateFree is the state of a node that has no stored state.
const StateFree = "free"

// NodeState is the live state of a node (free, reserved, deploying, down…)
// with the reason for the last change.
type NodeState struct {
	Node      string
	State     string
	Reason    string
	UpdatedAt time.Time
}

// SetNodeState records a node's state, replacing the previous one.
func (s *Store) SetNodeState(ctx context.Context, node, state, reason string) error {
	if node == "" || state == "" {
		return fmt.Errorf("store: node state needs a node and a state (got node %q, state %q): %w", node, state, ErrInvalid)
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO node_states (node, state, reason, updated_at) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (node) DO UPDATE SET state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at`,
		node, state, reason, s.ts(s.now()))
	if err != nil {
		return fmt.Errorf("store: set state of node %q: %w", node, err)
	}
	s.nodeGen.Add(1)
	return nil
}

// NodeStatesGeneration counts the node state changes made through this
// Store, so that a cache in this process knows when to read again.
func (s *Store) NodeStatesGeneration() uint64 { return s.nodeGen.Load() }

// NodeStates returns the stored states by node name. A node missing from
// the map is free.
func (s *Store) NodeStates(ctx context.Context) (map[string]NodeState, error) {
	return nodeStates(ctx, s.db)
}

type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func nodeStates(ctx context.Context, q rowsQuerier) (map[string]NodeState, error) {
	rows, err := q.QueryContext(ctx, `SELECT node, state, reason, updated_at FROM node_states`)
	if err != nil {
		return nil, fmt.Errorf("store: node states: %w", err)
	}
	defer rows.Close()
	out := map[string]NodeState{}
	for rows.Next() {
		var n NodeState
		if err := rows.Scan(&n.Node, &n.State, &n.Reason, timeCol{&n.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("store: node states: %w", err)
		}
		out[n.Node] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: node states: %w", err)
	}
	return out, nil
}
