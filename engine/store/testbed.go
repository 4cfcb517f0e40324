package store

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// TestbedVersion is one state of the testbed reference description, like a
// Grid'5000 reference-repository version. UID is the hex SHA-1 of Snapshot
// unless the caller chose another; Snapshot is JSON and is not loaded by
// ListTestbedVersions.
type TestbedVersion struct {
	UID       string
	Message   string
	Author    string
	CreatedAt time.Time
	Snapshot  []byte
}

// SnapshotUID is the UID SaveTestbedVersion gives a snapshot.
func SnapshotUID(snapshot []byte) string {
	sum := sha1.Sum(snapshot)
	return hex.EncodeToString(sum[:])
}

// SaveTestbedVersion appends a version unless the latest one has the same
// UID, in which case it returns that one and created=false. An empty UID is
// computed from the snapshot; a zero CreatedAt is now. Concurrent calls with
// the same snapshot create one version.
func (s *Store) SaveTestbedVersion(ctx context.Context, v TestbedVersion) (TestbedVersion, bool, error) {
	if len(v.Snapshot) == 0 || !json.Valid(v.Snapshot) {
		return TestbedVersion{}, false, fmt.Errorf("store: testbed version: the snapshot must be a JSON document: %w", ErrInvalid)
	}
	if v.UID == "" {
		v.UID = SnapshotUID(v.Snapshot)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.now()
	}
	v.CreatedAt = norm(v.CreatedAt)
	saved, created := v, true
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Serialise writers so that two replicas saving the same snapshot
		// cannot both see an older latest. SQLite transactions already hold
		// the write lock (BEGIN IMMEDIATE); readers are not blocked.
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `LOCK TABLE testbed_versions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("store: lock testbed versions: %w", err)
			}
		}
		latest, err := scanVersion(tx.QueryRowContext(ctx,
			`SELECT uid, message, author, created_at, snapshot FROM testbed_versions ORDER BY created_at DESC, seq DESC LIMIT 1`), true)
		switch {
		case err == nil && latest.UID == v.UID:
			saved, created = latest, false
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("store: latest testbed version: %w", err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO testbed_versions (uid, message, author, created_at, snapshot) VALUES ($1, $2, $3, $4, $5)`,
			v.UID, v.Message, v.Author, s.ts(v.CreatedAt), v.Snapshot)
		if err != nil {
			return fmt.Errorf("store: save testbed version %s: %w", v.UID, err)
		}
		return nil
	})
	if err != nil {
		return TestbedVersion{}, false, err
	}
	return saved, created, nil
}

func scanVersion(row interface{ Scan(...any) error }, withSnapshot bool) (TestbedVersion, error) {
	var v TestbedVersion
	dest := []any{&v.UID, &v.Message, &v.Author, timeCol{&v.CreatedAt}}
	if withSnapshot {
		dest = append(dest, &v.Snapshot)
	}
	err := row.Scan(dest...)
	return v, err
}

func (s *Store) oneVersion(ctx context.Context, what, where string, args ...any) (TestbedVersion, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx,
		`SELECT uid, message, author, created_at, snapshot FROM testbed_versions `+where+
			` ORDER BY created_at DESC, seq DESC LIMIT 1`, args...), true)
	if errors.Is(err, sql.ErrNoRows) {
		return TestbedVersion{}, fmt.Errorf("store: testbed version %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return TestbedVersion{}, fmt.Errorf("store: testbed version %s: %w", what, err)
	}
	return v, nil
}

// LatestTestbedVersion returns the newest version; ErrNotFound if none.
func (s *Store) LatestTestbedVersion(ctx context.Context) (TestbedVersion, error) {
	return s.oneVersion(ctx, "latest", "")
}

// GetTestbedVersion returns the version with a UID (the newest, if the
// testbed came back to an earlier description).
func (s *Store) GetTestbedVersion(ctx context.Context, uid string) (TestbedVersion, error) {
	return s.oneVersion(ctx, fmt.Sprintf("%q", uid), `WHERE uid = $1`, uid)
}

// TestbedVersionAt returns the version in force at t: the newest created at
// or before t. ErrNotFound if t is before the first version.
func (s *Store) TestbedVersionAt(ctx context.Context, t time.Time) (TestbedVersion, error) {
	return s.oneVersion(ctx, "at "+norm(t).Format(time.RFC3339Nano), `WHERE created_at <= $1`, s.ts(t))
}

// ListTestbedVersions returns a page of versions, newest first, without
// snapshots, and the total number of versions. limit <= 0 means no limit.
func (s *Store) ListTestbedVersions(ctx context.Context, offset, limit int) ([]TestbedVersion, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM testbed_versions`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count testbed versions: %w", err)
	}
	offset = max(offset, 0)
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT uid, message, author, created_at FROM testbed_versions ORDER BY created_at DESC, seq DESC LIMIT $1 OFFSET $2`,
		limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list testbed versions: %w", err)
	}
	defer rows.Close()
	out := []TestbedVersion{}
	for rows.Next() {
		v, err := scanVersion(rows, false)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list testbed versions: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list testbed versions: %w", err)
	}
	return out, total, nil
}
