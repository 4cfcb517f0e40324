package store

import (
	"context"
	"fmt"
)

// listPage counts the rows of table that match cond (" WHERE …" or "") and
// reads one page of them in order, each with scan: what every paged list of
// the store does. A limit of 0 or less reads them all.
func listPage[T any](ctx context.Context, s *Store, what, table, columns, cond, order string, args []any, offset, limit int,
	scan func(rowScanner) (T, error)) ([]T, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count %s: %w", what, err)
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	args = append(args[:len(args):len(args)], limit, max(offset, 0))
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %s%s ORDER BY %s LIMIT $%d OFFSET $%d`,
		columns, table, cond, order, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", what, err)
	}
	return out, total, nil
}
