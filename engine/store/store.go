// Package store is Gridflow's SQL store: users, projects, credentials,
// settings, the testbed reference history and live node states, on SQLite
// (the dev role) or PostgreSQL (the server role, shared by replicas).
//
// It is the only package that speaks SQL. Schema changes are golang-migrate
// migrations embedded from migrations/{sqlite,postgres}; Open never migrates,
// MigrateUp does.
//
// Both dialects behave the same: times are stored in UTC with microsecond
// precision (timestamptz on PostgreSQL, fixed-width RFC 3339 text on SQLite,
// which sorts like the time it encodes), and every error a caller may act on
// wraps one of the sentinel errors below.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors. Errors returned by the store wrap them with context; test
// them with errors.Is.
var (
	// ErrNotFound: the addressed row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a row with the same identity already exists.
	ErrConflict = errors.New("already exists")
	// ErrInvalid: an argument was rejected before reaching the database.
	ErrInvalid = errors.New("invalid argument")
	// ErrInvalidCredentials: unknown user or client, or wrong password or
	// secret. Deliberately the same error for all of these.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrTokenExpired: the bearer token is past its expiry.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenRevoked: the bearer token was revoked.
	ErrTokenRevoked = errors.New("token revoked")
)

// Dialect names returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Store is a handle on the Gridflow database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect string
	// driverName and connDSN open a second handle on the same database, for
	// migrations (golang-migrate closes the handle it is given).
	driverName string
	connDSN    string
	// now is the clock for timestamps the store sets itself.
	now func() time.Time
	// nodeGen counts node state changes made through this handle.
	nodeGen atomic.Uint64
}

// Open connects to the database named by dsn and checks that it answers. It
// does not migrate the schema: call MigrateUp.
//
//   - "postgres://…" or "postgresql://…": PostgreSQL through pgx.
//   - "sqlite://PATH", "file:PATH" or a plain PATH: an SQLite file, created
//     with its parent directory if missing, in WAL mode with foreign keys
//     enforced and a busy timeout. "sqlite:///abs/path" is an absolute path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{now: time.Now}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect, s.driverName, s.connDSN = DialectPostgres, "pgx", dsn
	default:
		conn, err := sqliteDSN(dsn)
		if err != nil {
			return nil, err
		}
		s.dialect, s.driverName, s.connDSN = DialectSQLite, "sqlite", conn
	}
	db, err := sql.Open(s.driverName, s.connDSN)
	if err != nil {
		return nil, fmt.Errorf("store: open %s database %s: %w", s.dialect, redact(dsn), err)
	}
	if s.dialect == DialectPostgres {
		db.SetMaxOpenConns(25)
		db.SetMaxIdleConns(5)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s.db = db
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s database %s: %w", s.dialect, redact(dsn), err)
	}
	return s, nil
}

// sqliteDSN turns the user's SQLite DSN into a modernc.org/sqlite one with the
// pragmas every connection needs. Transactions begin IMMEDIATE so that two
// writers queue on busy_timeout instead of failing on lock upgrade.
func sqliteDSN(dsn string) (string, error) {
	path, query, _ := strings.Cut(dsn, "?")
	switch {
	case strings.HasPrefix(path, "sqlite://"):
		path = strings.TrimPrefix(path, "sqlite://")
	case strings.HasPrefix(path, "file://"):
		path = strings.TrimPrefix(path, "file://")
	case strings.HasPrefix(path, "file:"):
		path = strings.TrimPrefix(path, "file:")
	}
	if path == "" {
		return "", fmt.Errorf("store: SQLite DSN %q names no file: use sqlite://PATH, file:PATH or a plain path: %w", dsn, ErrInvalid)
	}
	if path == ":memory:" || strings.HasPrefix(path, ":memory:") {
		return "", fmt.Errorf("store: in-memory SQLite is not supported (each connection would see its own database): use a file, e.g. under t.TempDir(): %w", ErrInvalid)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", fmt.Errorf("store: create directory for SQLite database %s: %w", path, err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("store: SQLite DSN %q: bad query: %v: %w", dsn, err, ErrInvalid)
	}
	// The caller's pragmas win; ours fill in the ones not given.
	for _, def := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		name := pragmaName(def)
		if !slices.ContainsFunc(q["_pragma"], func(p string) bool { return pragmaName(p) == name }) {
			q.Add("_pragma", def)
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	// A plain path: modernc strips the query before opening the file.
	return path + "?" + q.Encode(), nil
}

// pragmaName is the name in "name(value)" or "name=value".
func pragmaName(p string) string {
	if i := strings.IndexAny(p, "(="); i >= 0 {
		p = p[:i]
	}
	return strings.ToLower(strings.TrimSpace(p))
}

// redact hides a password in a URL-style DSN for error messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn
	}
	return u.Redacted()
}

// Close releases the database handle.
func (s *Store) Close() error { return s.db.Close() }

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.dialect, err)
	}
	return nil
}

// --- time encoding -------------------------------------------------------

// sqliteTime is fixed width so that text order is time order in SQL
// comparisons and ORDER BY.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// norm is the precision both dialects keep.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ts encodes a time as a query argument for this dialect.
func (s *Store) ts(t time.Time) any {
	t = norm(t)
	if s.dialect == DialectSQLite {
		return t.Format(sqliteTime)
	}
	return t
}

// tsOpt encodes an optional time: the zero time and nil are NULL.
func (s *Store) tsOpt(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return s.ts(*t)
}

// timeCol scans a time column of either dialect into a UTC time; NULL leaves
// the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = norm(v)
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("store: cannot scan %T into a time", src)
	}
	return nil
}

func (c timeCol) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("store: bad time %q in database: %w", v, err)
	}
	*c.t = norm(t)
	return nil
}

// optTimeCol scans a nullable time column into a *time.Time.
type optTimeCol struct{ t **time.Time }

func (c optTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// --- errors and helpers --------------------------------------------------

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// inTx runs fn in a transaction, committing if it returns nil. On SQLite the
// transaction holds the write lock from the start (see sqliteDSN).
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// affected returns notFound if the statement touched no row.
func affected(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: count affected rows: %w", err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}
