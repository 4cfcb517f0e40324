package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// migrationsFS holds one directory of golang-migrate files per dialect; both
// must hold the same versions.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationsFS embed.FS

// sqliteMigrateMu serialises SQLite migrations within the process; the dev
// role is the only user of SQLite and runs as one process.
var sqliteMigrateMu sync.Mutex

// Migrations returns the embedded migration files of a dialect ("sqlite" or
// "postgres"), e.g. for `gridflow migrate` to list them.
func Migrations(dialect string) (fs.FS, error) {
	switch dialect {
	case DialectSQLite, DialectPostgres:
		return fs.Sub(migrationsFS, "migrations/"+dialect)
	}
	return nil, fmt.Errorf("store: no migrations for dialect %q: %w", dialect, ErrInvalid)
}

// withMigrate runs fn with a golang-migrate instance on a handle of its own:
// migrate closes the handle it is given, and on PostgreSQL holds one
// connection for its advisory lock, which serialises replicas migrating at
// once. Cancelling ctx stops after the migration in progress.
func (s *Store) withMigrate(ctx context.Context, fn func(m *migrate.Migrate) error) error {
	if s.dialect == DialectSQLite {
		// golang-migrate's SQLite lock is per driver instance, so two stores
		// of one process migrating at once would both apply version 1.
		sqliteMigrateMu.Lock()
		defer sqliteMigrateMu.Unlock()
	}
	src, err := iofs.New(migrationsFS, "migrations/"+s.dialect)
	if err != nil {
		return fmt.Errorf("store: read embedded %s migrations: %w", s.dialect, err)
	}
	db, err := sql.Open(s.driverName, s.connDSN)
	if err != nil {
		src.Close()
		return fmt.Errorf("store: open %s for migrations: %w", s.dialect, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		src.Close()
		return fmt.Errorf("store: connect to %s for migrations: %w", s.dialect, err)
	}
	var drv database.Driver
	switch s.dialect {
	case DialectSQLite:
		drv, err = migratesqlite.WithInstance(db, &migratesqlite.Config{})
	default:
		drv, err = migratepgx.WithInstance(db, &migratepgx.Config{})
	}
	if err != nil {
		db.Close()
		src.Close()
		return fmt.Errorf("store: prepare %s migrations: %w", s.dialect, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, s.dialect, drv)
	if err != nil {
		drv.Close()
		src.Close()
		return fmt.Errorf("store: prepare %s migrations: %w", s.dialect, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true // buffered: never blocks
		case <-done:
		}
	}()
	err = fn(m)
	close(done)
	srcErr, dbErr := m.Close()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	if srcErr != nil || dbErr != nil {
		return fmt.Errorf("store: close migrations: %w", errors.Join(srcErr, dbErr))
	}
	return nil
}

// MigrateUp applies every migration not yet applied. It is idempotent and
// safe to run from several replicas at once on PostgreSQL.
func (s *Store) MigrateUp(ctx context.Context) error {
	return s.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return s.migrateErr("up", m, err)
		}
		return nil
	})
}

// MigrateDown rolls back steps migrations; steps <= 0, or more steps than
// are applied, rolls back all of them.
func (s *Store) MigrateDown(ctx context.Context, steps int) error {
	return s.withMigrate(ctx, func(m *migrate.Migrate) error {
		var err error
		if steps <= 0 {
			err = m.Down()
		} else {
			err = m.Steps(-steps)
		}
		var short migrate.ErrShortLimit
		switch {
		case err == nil, errors.Is(err, migrate.ErrNoChange), errors.As(err, &short):
			return nil
		case errors.Is(err, os.ErrNotExist) && steps > 0:
			// Nothing applied: there is nothing to roll back.
			if _, _, verr := m.Version(); errors.Is(verr, migrate.ErrNilVersion) {
				return nil
			}
		}
		return s.migrateErr("down", m, err)
	})
}

// MigrateForce records version as applied and clean without running
// anything: the way out after a migration failed halfway and the schema was
// repaired by hand. version -1 means none applied.
func (s *Store) MigrateForce(ctx context.Context, version int) error {
	return s.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Force(version); err != nil {
			return fmt.Errorf("store: force %s schema to version %d: %w", s.dialect, version, err)
		}
		return nil
	})
}

// MigrationVersion reports the applied schema version, 0 when none is, and
// whether the last migration failed halfway (dirty).
func (s *Store) MigrationVersion(ctx context.Context) (version uint, dirty bool, err error) {
	err = s.withMigrate(ctx, func(m *migrate.Migrate) error {
		var verr error
		version, dirty, verr = m.Version()
		if errors.Is(verr, migrate.ErrNilVersion) {
			version, dirty, verr = 0, false, nil
		}
		if verr != nil {
			return fmt.Errorf("store: read %s schema version: %w", s.dialect, verr)
		}
		return nil
	})
	return version, dirty, err
}

func (s *Store) migrateErr(dir string, m *migrate.Migrate, err error) error {
	var dirty migrate.ErrDirty
	if errors.As(err, &dirty) {
		return fmt.Errorf("store: migrate %s %s: schema is dirty at version %d (a migration failed halfway): repair the schema by hand, then force the version (gridflow migrate force): %w",
			s.dialect, dir, dirty.Version, err)
	}
	if v, d, verr := m.Version(); verr == nil && d {
		return fmt.Errorf("store: migrate %s %s: migration %d failed and left the schema dirty: %w", s.dialect, dir, v, err)
	}
	return fmt.Errorf("store: migrate %s %s: %w", s.dialect, dir, err)
}
