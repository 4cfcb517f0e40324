package store

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"testing"
)

// latestVersion is the newest migration; bump it with each new migration.
const latestVersion = 9

var (
	tablesV1 = []string{"oauth_clients", "project_members", "projects", "settings", "tokens", "users"}
	tablesV2 = []string{"node_states", "testbed_versions"}
	tablesV3 = []string{"reservation_events", "reservations"}
	tablesV4 = []string{"campaign_steps", "campaigns"}
	tablesV5 = []string{"deployment_nodes", "deployments", "environments"}
	tablesV6 = []string{"optimizer_evolution", "transfer_bans", "transfer_files", "transfer_jobs", "transfer_pairs"}
	tablesV7 = []string{"catalog_dir_meta", "catalog_dirs", "catalog_file_meta", "catalog_files", "catalog_meta_keys", "catalog_replicas"}
	tablesV8 = []string{"job_sandboxes", "jobs"}
)

// tables lists the tables of the store's schema, migrate's own excepted.
func tables(t *testing.T, s *Store) []string {
	t.Helper()
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if s.Dialect() == DialectPostgres {
		query = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`
	}
	names, err := s.column(context.Background(), query)
	must(t, err, "list tables")
	return slices.DeleteFunc(names, func(n string) bool { return n == "schema_migrations" })
}

func wantVersion(t *testing.T, s *Store, want uint) {
	t.Helper()
	v, dirty, err := s.MigrationVersion(context.Background())
	must(t, err, "MigrationVersion")
	if v != want || dirty {
		t.Fatalf("MigrationVersion = %d dirty=%v, want %d clean", v, dirty, want)
	}
}

func wantTables(t *testing.T, s *Store, want ...[]string) {
	t.Helper()
	var all []string
	for _, w := range want {
		all = append(all, w...)
	}
	slices.Sort(all)
	if got := tables(t, s); !slices.Equal(got, all) {
		t.Fatalf("tables = %v, want %v", got, all)
	}
}

func TestMigrateUpDownUp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		s := openRaw(t, dialect)
		wantVersion(t, s, 0)
		wantTables(t, s)

		must(t, s.MigrateUp(ctx), "MigrateUp")
		wantVersion(t, s, latestVersion)
		wantTables(t, s, tablesV1, tablesV2, tablesV3, tablesV4, tablesV5, tablesV6, tablesV7, tablesV8)
		must(t, s.MigrateUp(ctx), "MigrateUp again")
		wantVersion(t, s, latestVersion)

		// Data written at version 2 must be usable, and version 1 data must
		// survive going down one step.
		_, err := s.CreateUser(ctx, "alice", "", "password1", false)
		must(t, err, "CreateUser")
		must(t, s.SetNodeState(ctx, "n-1", "down", "test"), "SetNodeState")

		must(t, s.MigrateDown(ctx, latestVersion-2), "MigrateDown(latest-2)")
		wantVersion(t, s, 2)
		wantTables(t, s, tablesV1, tablesV2)
		must(t, s.MigrateDown(ctx, 1), "MigrateDown(1) again")
		wantVersion(t, s, 1)
		wantTables(t, s, tablesV1)
		_, err = s.GetUser(ctx, "alice")
		must(t, err, "GetUser after one step down")

		must(t, s.MigrateDown(ctx, 0), "MigrateDown(all)")
		wantVersion(t, s, 0)
		wantTables(t, s)
		must(t, s.MigrateDown(ctx, 0), "MigrateDown(all) at 0")
		must(t, s.MigrateDown(ctx, 3), "MigrateDown(3) at 0")
		wantVersion(t, s, 0)

		must(t, s.MigrateUp(ctx), "MigrateUp after down")
		wantVersion(t, s, latestVersion)
		wantTables(t, s, tablesV1, tablesV2, tablesV3, tablesV4, tablesV5, tablesV6, tablesV7, tablesV8)
		if _, err := s.GetUser(ctx, "alice"); err == nil {
			t.Fatal("user survived a full down migration")
		}
		// More steps than applied goes all the way down.
		must(t, s.MigrateDown(ctx, latestVersion+5), "MigrateDown(too many)")
		wantVersion(t, s, 0)
		wantTables(t, s)
	})
}

func TestMigrateConcurrent(t *testing.T) {
	// Replicas starting together all migrate: all must succeed, once.
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		dsn := dsnFor(t, dialect)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			s, err := Open(ctx, dsn)
			must(t, err, "Open")
			t.Cleanup(func() { s.Close() })
			wg.Go(func() { errs[i] = s.MigrateUp(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			must(t, err, fmt.Sprintf("MigrateUp #%d", i))
		}
		s, err := Open(ctx, dsn)
		must(t, err, "Open")
		defer s.Close()
		wantVersion(t, s, latestVersion)
	})
}

func TestMigrateCancelled(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		s := openRaw(t, dialect)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.MigrateUp(ctx); err == nil {
			t.Fatal("MigrateUp with a cancelled context succeeded")
		}
	})
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	names := map[string][]string{}
	for _, d := range dialects {
		fsys, err := Migrations(d)
		must(t, err, "Migrations")
		files, err := fs.Glob(fsys, "*.sql")
		must(t, err, "Glob")
		if len(files) != 2*latestVersion {
			t.Errorf("%s: %d migration files, want an up and a down for each of %d versions: %v", d, len(files), latestVersion, files)
		}
		names[d] = files
	}
	if !slices.Equal(names[DialectSQLite], names[DialectPostgres]) {
		t.Errorf("migration files differ between dialects:\nsqlite:   %v\npostgres: %v", names[DialectSQLite], names[DialectPostgres])
	}
	if _, err := Migrations("mysql"); err == nil {
		t.Error("Migrations(mysql) succeeded")
	}
}
