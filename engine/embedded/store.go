package embedded

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

const (
	dbFileName    = "temporal.db"
	stateFileName = "temporal-state.json"
	lockFileName  = "temporal.lock"
)

// Tables whose presence says the schema was set up: the first and last tables of the
// main schema and the visibility table. Setup runs in one transaction, so either all
// or none exist unless the file was made by something else.
var sentinelTables = []string{"namespaces", "cluster_metadata_info", "executions_visibility"}

// state is what the embedded server keeps next to the database.
type state struct {
	ClusterID               string    `json:"clusterId"`
	SchemaVersion           string    `json:"schemaVersion"`
	VisibilitySchemaVersion string    `json:"visibilitySchemaVersion"`
	CreatedAt               time.Time `json:"createdAt"`
}

// loadOrCreateState reads DataDir's state file, creating it with a new cluster id on
// first use. The cluster id must stay the same across restarts.
func loadOrCreateState(dir string) (*state, error) {
	path := filepath.Join(dir, stateFileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("embedded temporal: reading %s: %w", path, err)
		}
		if !validUUID(st.ClusterID) {
			return nil, fmt.Errorf("embedded temporal: %s: cluster id %q is not a UUID", path, st.ClusterID)
		}
		return &st, nil
	case errors.Is(err, fs.ErrNotExist):
		id, err := newUUID()
		if err != nil {
			return nil, err
		}
		st := &state{
			ClusterID:               id,
			SchemaVersion:           sqliteschema.Version,
			VisibilitySchemaVersion: sqliteschema.VisibilityVersion,
			CreatedAt:               time.Now().UTC(),
		}
		return st, writeFileAtomic(path, st)
	default:
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
}

func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("embedded temporal: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("embedded temporal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	return nil
}

func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("embedded temporal: cluster id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// sqlConfig is the persistence config of the server for the SQLite file at path.
func sqlConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode": "rwc",
			// WAL: readers do not block the single writer, and a commit is one append.
			// synchronous=NORMAL keeps every commit across a process crash (kill -9);
			// only an OS crash or power loss can drop the last commits.
			"journal_mode": "wal",
			"synchronous":  "NORMAL",
		},
	}
}

// ensureSchema sets up the Temporal schema in the SQLite file at path unless its tables
// exist. It decides by the tables, not by the file: a 0-byte or freshly created file
// gets the schema, a file with part of it is refused. The setup runs in one transaction.
func ensureSchema(path string) (created bool, err error) {
	dsn := "file:" + path + "?mode=rwc&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn) // driver registered by the server's SQLite plugin
	if err != nil {
		return false, fmt.Errorf("embedded temporal: opening %s: %w", path, err)
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)

	tables := map[string]bool{}
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type='table'")
	if err != nil {
		return false, fmt.Errorf("embedded temporal: reading %s (not a SQLite database?): %w", path, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("embedded temporal: reading %s: %w", path, err)
		}
		tables[name] = true
	}
	if err := rows.Close(); err != nil {
		return false, fmt.Errorf("embedded temporal: reading %s: %w", path, err)
	}
	var present []string
	for _, t := range sentinelTables {
		if tables[t] {
			present = append(present, t)
		}
	}
	switch len(present) {
	case len(sentinelTables):
		return false, nil
	case 0:
	default:
		return false, fmt.Errorf("embedded temporal: %s has only part of the Temporal schema (%s); move it away to start afresh",
			path, strings.Join(present, ", "))
	}

	tx, err := db.Begin()
	if err != nil {
		return false, fmt.Errorf("embedded temporal: schema setup: %w", err)
	}
	if err := sqliteschema.SetupSchemaOnDB(txAdminDB{tx: tx}); err != nil {
		_ = tx.Rollback()
		return false, fmt.Errorf("embedded temporal: schema setup in %s: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("embedded temporal: schema setup in %s: %w", path, err)
	}
	return true, nil
}

// txAdminDB runs the schema statements of sqliteschema.SetupSchemaOnDB, which only
// calls Exec, inside one transaction. Other methods are not provided.
type txAdminDB struct {
	sqlplugin.AdminDB
	tx *sql.Tx
}

func (a txAdminDB) Exec(stmt string, args ...any) error {
	_, err := a.tx.Exec(stmt, args...)
	return err
}

// createNamespace registers the namespace in the database if it does not exist yet. It
// is safe on every start; the retention applies when the namespace is first created.
func createNamespace(cfg *config.SQL, clusterName, name string, retention time.Duration) error {
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, nil)
	if err != nil {
		return fmt.Errorf("embedded temporal: namespace %q: %w", name, err)
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(retention)
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return fmt.Errorf("embedded temporal: namespace %q: %w", name, err)
	}
	return nil
}
