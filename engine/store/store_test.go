package store

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridflow/gridflow/engine/store/pgtest"
)

func TestMain(m *testing.M) {
	BcryptCost = bcrypt.MinCost
	pgtest.Main(m)
}

var dialects = []string{DialectSQLite, DialectPostgres}

// dsnFor returns the DSN of a fresh, empty database of a dialect.
func dsnFor(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == DialectPostgres {
		return pgtest.DSN(t)
	}
	return "sqlite://" + filepath.Join(t.TempDir(), "gridflow.db")
}

// openRaw opens a fresh database without migrating it.
func openRaw(t *testing.T, dialect string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsnFor(t, dialect))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := s.Dialect(); got != dialect {
		t.Fatalf("Dialect() = %q, want %q", got, dialect)
	}
	return s
}

// newStore opens a fresh, migrated database.
func newStore(t *testing.T, dialect string) *Store {
	t.Helper()
	s := openRaw(t, dialect)
	if err := s.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return s
}

// forEachStore runs fn against a fresh, migrated store of each dialect, in
// parallel subtests named after the dialect. The calling test runs in
// parallel with the others.
func forEachStore(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	t.Parallel()
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t, d))
		})
	}
}

// forEachDialect is forEachStore without opening anything.
func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	t.Parallel()
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestSQLiteDSN(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		in, path string
	}{
		{"sqlite://" + dir + "/a/b.db", dir + "/a/b.db"},
		{"file:" + dir + "/c/d.db", dir + "/c/d.db"},
		{"file://" + dir + "/e.db", dir + "/e.db"},
		{dir + "/f/g.db", dir + "/f/g.db"},
		{"sqlite://" + dir + "/h.db?_pragma=foreign_keys(1)&_pragma=busy_timeout%3D50", dir + "/h.db"},
	} {
		got, err := sqliteDSN(tc.in)
		if err != nil {
			t.Fatalf("sqliteDSN(%q): %v", tc.in, err)
		}
		path, query, _ := strings.Cut(got, "?")
		if path != tc.path {
			t.Errorf("sqliteDSN(%q) path = %q, want %q", tc.in, path, tc.path)
		}
		q, err := url.ParseQuery(query)
		must(t, err, "parse query")
		if q.Get("_txlock") != "immediate" {
			t.Errorf("sqliteDSN(%q): _txlock = %q, want immediate", tc.in, q.Get("_txlock"))
		}
		for _, p := range []string{"busy_timeout", "journal_mode", "foreign_keys", "synchronous"} {
			if n := len(slices.DeleteFunc(slices.Clone(q["_pragma"]), func(v string) bool { return pragmaName(v) != p })); n != 1 {
				t.Errorf("sqliteDSN(%q): pragma %s given %d times in %v", tc.in, p, n, q["_pragma"])
			}
		}
		if _, err := os.Stat(filepath.Dir(tc.path)); err != nil {
			t.Errorf("sqliteDSN(%q) did not create the parent directory: %v", tc.in, err)
		}
	}
	for _, bad := range []string{"sqlite://", "file:", ":memory:", "file::memory:?cache=shared"} {
		if _, err := sqliteDSN(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("sqliteDSN(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

func TestOpenSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "gridflow.db")
	s, err := Open(ctx, path)
	must(t, err, "Open")
	defer s.Close()
	must(t, s.Ping(ctx), "Ping")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		must(t, s.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got), pragma)
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenPostgresErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Port 1 on loopback refuses at once.
	_, err := Open(ctx, "postgres://gridflow:s3cretpw@127.0.0.1:1/gridflow?connect_timeout=5")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not name the server: %v", err)
	}
}

func TestTimesRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// Nanoseconds are cut to microseconds, in a non-UTC zone on input.
		in := time.Date(2031, 7, 14, 10, 11, 12, 123456789, time.FixedZone("CEST", 2*3600))
		v, _, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: []byte(`{}`), CreatedAt: in})
		must(t, err, "SaveTestbedVersion")
		got, err := s.GetTestbedVersion(ctx, v.UID)
		must(t, err, "GetTestbedVersion")
		want := time.Date(2031, 7, 14, 8, 11, 12, 123456000, time.UTC)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v (%v), want %v UTC", got.CreatedAt, got.CreatedAt.Location(), want)
		}
		if !v.CreatedAt.Equal(got.CreatedAt) {
			t.Errorf("saved CreatedAt %v differs from read %v", v.CreatedAt, got.CreatedAt)
		}
	})
}
