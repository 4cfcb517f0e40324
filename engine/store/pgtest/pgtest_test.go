package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestDSN(t *testing.T) {
	ctx := context.Background()
	var first string
	parent := t
	t.Run("fresh", func(t *testing.T) {
		first = DSN(t)
		second := DSN(t)
		if first == second {
			t.Fatalf("two DSN calls gave the same database %s", first)
		}
		db, err := sql.Open("pgx", first)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx,
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil {
			t.Fatalf("query the new database: %v", err)
		}
		if n != 0 {
			t.Errorf("new database has %d tables", n)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (id int)`); err != nil {
			t.Fatalf("create a table: %v", err)
		}
		if os.Getenv(EnvVar) == "" {
			var listen string
			if err := db.QueryRowContext(ctx, `SHOW listen_addresses`).Scan(&listen); err != nil {
				t.Fatal(err)
			}
			if listen != "127.0.0.1" {
				t.Errorf("listen_addresses = %q, want 127.0.0.1 only", listen)
			}
		}
		// Left open on purpose: the drop must disconnect stragglers.
		straggler, err := sql.Open("pgx", second)
		if err != nil {
			t.Fatal(err)
		}
		if err := straggler.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		parent.Cleanup(func() { straggler.Close() })
	})
	if first == "" {
		return
	}
	u, err := url.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	var exists bool
	if err := adminDB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
