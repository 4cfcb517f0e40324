package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gridflow/gridflow/agent/checksum"
)

// The file catalogue (DIRAC style) names files by logical file names (LFNs):
// absolute paths in a directory tree. A file has a size, a checksum and
// replicas (storage URLs holding its bytes); directories and files carry
// metadata, key → number or string, each key with one type fixed by its first
// use. A directory's metadata applies to everything below it unless a
// subdirectory or file sets the key itself, as in DIRAC.

// Types of metadata keys.
const (
	MetaNumber = "number"
	MetaString = "string"
)

// Kinds of catalogue entries.
const (
	CatalogKindDir  = "directory"
	CatalogKindFile = "file"
)

// Limits of catalogue names and values.
const (
	MaxLFNLength        = 1024 // bytes of a whole path
	MaxLFNSegment       = 255  // bytes of one name in it
	MaxMetaStringLength = 1024
	maxReplicaURLLength = 8192
)

// Metadata maps metadata keys to values: float64 for number keys, string for
// string keys. In a change, a nil value removes the key.
type Metadata map[string]any

// CatalogDir is a directory of the catalogue.
type CatalogDir struct {
	Path      string
	Owner     string
	CreatedAt time.Time
	// Metadata holds the directory's own keys and those it inherits.
	Metadata Metadata
	// InheritedFrom names, for each inherited key, the ancestor that sets it.
	InheritedFrom map[string]string
}

// CatalogFile is a file of the catalogue.
type CatalogFile struct {
	Path      string
	Owner     string
	Size      int64
	Checksum  string // "<algorithm>:<hex>", or "" when unknown
	CreatedAt time.Time
	Replicas  []CatalogReplica
	// Metadata holds the file's own keys and those its directories set.
	Metadata Metadata
	// InheritedFrom names, for each inherited key, the directory that sets it.
	InheritedFrom map[string]string
}

// CatalogReplica is one copy of a file's bytes.
type CatalogReplica struct {
	URL       string
	SE        string // the storage element: file://localhost, node://NODE, https://host
	CreatedAt time.Time
}

// CatalogEntry is a directory or file as a directory listing shows it.
// Replicas and Metadata (the entry's own keys) are filled in verbose
// listings only.
type CatalogEntry struct {
	Kind      string // CatalogKindDir or CatalogKindFile
	Path      string
	Owner     string
	CreatedAt time.Time
	Size      int64  // files
	Checksum  string // files
	Replicas  []CatalogReplica
	Metadata  Metadata
}

// CatalogMetaKey is a metadata key and the type of its values.
type CatalogMetaKey struct {
	Key, Type string
}

// CatalogDirUsage is a directory found by a metadata search, with the files
// in it and below it and their total size.
type CatalogDirUsage struct {
	Path     string
	Metadata Metadata // own and inherited
	Files    int
	Size     int64
}

// --- paths ----------------------------------------------------------------

// CleanLFN checks an absolute catalogue path and returns it without a
// trailing slash ("/" stays the root). Empty names ("//"), "." and "..",
// control characters and invalid UTF-8 are refused.
func CleanLFN(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("store: catalogue path %q: %s: %w", p, why, ErrInvalid)
	}
	switch {
	case p == "":
		return bad("empty; write an absolute path such as /alice/run1/data.root")
	case !strings.HasPrefix(p, "/"):
		return bad("not absolute: it must start with /")
	case len(p) > MaxLFNLength:
		return bad(fmt.Sprintf("longer than %d bytes", MaxLFNLength))
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("holds a control character")
	}
	if p == "/" {
		return p, nil
	}
	clean := strings.TrimSuffix(p, "/")
	for _, name := range strings.Split(clean[1:], "/") {
		switch {
		case name == "":
			return bad("holds an empty name (//)")
		case name == "." || name == "..":
			return bad(fmt.Sprintf("holds %q: write the path without it", name))
		case len(name) > MaxLFNSegment:
			return bad(fmt.Sprintf("holds a name longer than %d bytes", MaxLFNSegment))
		}
	}
	return clean, nil
}

// lfnParent is the directory of a clean path other than the root.
func lfnParent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// lfnAncestors lists the directories above a clean path, from the root down.
func lfnAncestors(p string) []string {
	var out []string
	for p != "/" {
		p = lfnParent(p)
		out = append(out, p)
	}
	slices.Reverse(out)
	return out
}

// subtree returns the bounds of the paths strictly below dir: every such
// path is in [lo, hi) byte-wise, and no other path is ('0' follows '/').
func subtree(dir string) (lo, hi string) {
	if dir == "/" {
		return "/", "0"
	}
	return dir + "/", dir + "0"
}

// --- metadata values and conditions ---------------------------------------

var metaKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ReservedMetaKeys are query parameters of the catalogue's endpoints; a
// metadata key may not take their names, or a condition on it could not be
// told from them.
var ReservedMetaKeys = []string{"offset", "limit", "verbose", "url"}

func checkMetaKey(key string) error {
	if !metaKeyRE.MatchString(key) {
		return fmt.Errorf("store: metadata key %q: must start with a letter followed by at most 63 of A-Z, a-z, 0-9, '_', '.', '-': %w", key, ErrInvalid)
	}
	if slices.Contains(ReservedMetaKeys, strings.ToLower(key)) {
		return fmt.Errorf("store: metadata key %q is reserved (it is a query parameter of the catalogue: %s): choose another name: %w", key, strings.Join(ReservedMetaKeys, ", "), ErrInvalid)
	}
	return nil
}

// metaValue checks a value and returns its type, number and string.
func metaValue(key string, v any) (typ string, num float64, str string, err error) {
	switch x := v.(type) {
	case float64:
		num = x
	case float32:
		num = float64(x)
	case int:
		num = float64(x)
	case int64:
		num = float64(x)
	case string:
		if len(x) > MaxMetaStringLength || !utf8.ValidString(x) {
			return "", 0, "", fmt.Errorf("store: metadata %s: a string value is valid UTF-8 of at most %d bytes: %w", key, MaxMetaStringLength, ErrInvalid)
		}
		return MetaString, 0, x, nil
	default:
		return "", 0, "", fmt.Errorf("store: metadata %s: %v is a %T; values are numbers or strings: %w", key, v, v, ErrInvalid)
	}
	if math.IsNaN(num) || math.IsInf(num, 0) {
		return "", 0, "", fmt.Errorf("store: metadata %s: %v is not a finite number: %w", key, num, ErrInvalid)
	}
	return MetaNumber, num, "", nil
}

// Metadata condition operators, as DIRAC writes them.
const (
	OpLess      = "<"
	OpGreater   = ">"
	OpEqual     = "="
	OpLessEq    = "<="
	OpGreaterEq = ">="
	OpIn        = "in"
)

var numericOps = []string{OpLess, OpGreater, OpEqual, OpLessEq, OpGreaterEq}

// MetaCondition restricts a metadata key: a comparison with a number, or
// membership of a string in a list.
type MetaCondition struct {
	Key string
	Op  string
	Num float64  // numeric operators
	In  []string // OpIn
}

func (c MetaCondition) String() string {
	if c.Op == OpIn {
		return c.Key + "=in|" + strings.Join(c.In, ",")
	}
	return c.Key + "=" + c.Op + "|" + strconv.FormatFloat(c.Num, 'g', -1, 64)
}

// ParseMetaCondition reads DIRAC's form of a condition on key, the value of
// a query parameter named after the key: "op|value" with op one of <, >, =,
// <=, >= and a number, or "in" and a comma-separated list of strings, as in
// run=>=|1200 or site=in|rennes,lyon. Whether the key exists and has the
// operator's type is checked when the condition is used.
func ParseMetaCondition(key, raw string) (MetaCondition, error) {
	c := MetaCondition{Key: key}
	op, val, ok := strings.Cut(raw, "|")
	if !ok {
		return c, fmt.Errorf("store: condition %s=%s: write op|value, as in %s=>=|5 (numbers: <, >, =, <=, >=) or %s=in|a,b (strings): %w", key, raw, key, key, ErrInvalid)
	}
	c.Op = strings.TrimSpace(op)
	switch {
	case c.Op == OpIn:
		for s := range strings.SplitSeq(val, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.In = append(c.In, s)
			}
		}
		if len(c.In) == 0 {
			return c, fmt.Errorf("store: condition %s=%s: in needs a comma-separated list of values: %w", key, raw, ErrInvalid)
		}
	case slices.Contains(numericOps, c.Op):
		n, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return c, fmt.Errorf("store: condition %s=%s: %s compares numbers and %q is not one (strings take in: %s=in|%s): %w", key, raw, c.Op, val, key, val, ErrInvalid)
		}
		c.Num = n
	default:
		return c, fmt.Errorf("store: condition %s=%s: unknown operator %q: use <, >, =, <=, >= with a number, or in with a comma-separated list of strings: %w", key, raw, c.Op, ErrInvalid)
	}
	return c, nil
}

// match reports whether a value satisfies the condition.
func (c MetaCondition) match(v any) bool {
	switch x := v.(type) {
	case float64:
		switch c.Op {
		case OpLess:
			return x < c.Num
		case OpGreater:
			return x > c.Num
		case OpEqual:
			return x == c.Num
		case OpLessEq:
			return x <= c.Num
		case OpGreaterEq:
			return x >= c.Num
		}
	case string:
		return c.Op == OpIn && slices.Contains(c.In, x)
	}
	return false
}

func matchAll(m Metadata, conds []MetaCondition) bool {
	for _, c := range conds {
		v, ok := m[c.Key]
		if !ok || !c.match(v) {
			return false
		}
	}
	return true
}

// checkConditions refuses conditions on unknown keys and operators of the
// wrong type for their key.
func (s *Store) checkConditions(ctx context.Context, conds []MetaCondition) error {
	if len(conds) == 0 {
		return nil
	}
	keys, err := s.CatalogMetaKeys(ctx)
	if err != nil {
		return err
	}
	types := map[string]string{}
	var names []string
	for _, k := range keys {
		types[k.Key] = k.Type
		names = append(names, k.Key)
	}
	for _, c := range conds {
		typ, ok := types[c.Key]
		switch {
		case !ok:
			known := strings.Join(names, ", ")
			if known == "" {
				known = "none yet"
			}
			return fmt.Errorf("store: condition %s: no metadata key %q in the catalogue (known keys: %s): %w", c, c.Key, known, ErrInvalid)
		case typ == MetaString && c.Op != OpIn:
			return fmt.Errorf("store: condition %s: %s holds strings, which take in with a comma-separated list (%s=in|a,b), not %s: %w", c, c.Key, c.Key, c.Op, ErrInvalid)
		case typ == MetaNumber && c.Op == OpIn:
			return fmt.Errorf("store: condition %s: %s holds numbers, which take <, >, =, <=, >= and a number (%s=>=|5), not in: %w", c, c.Key, c.Key, ErrInvalid)
		}
	}
	return nil
}

// --- writes ---------------------------------------------------------------

// withCatalogLock runs fn in a transaction no other catalogue write runs
// beside (an advisory lock on PostgreSQL, the write lock on SQLite), so that
// a path never becomes both a file and a directory and a key never gets two
// types.
func (s *Store) withCatalogLock(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270007)`); err != nil {
				return fmt.Errorf("store: catalogue lock: %w", err)
			}
		}
		return fn(tx)
	})
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func exists(ctx context.Context, q execQuerier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// mkdirs creates dir and its missing ancestors, owned by owner; created
// reports whether dir itself is new.
func (s *Store) mkdirs(ctx context.Context, tx *sql.Tx, dir, owner string) (created bool, err error) {
	chain := append(lfnAncestors(dir), dir)
	marks := make([]string, len(chain))
	args := make([]any, len(chain))
	for i, p := range chain {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), p
	}
	var file string
	err = tx.QueryRowContext(ctx, `SELECT path FROM catalog_files WHERE path IN (`+strings.Join(marks, ",")+`) ORDER BY path LIMIT 1`, args...).Scan(&file)
	switch {
	case err == nil:
		return false, fmt.Errorf("store: cannot create directory %s: %s is a file: %w", dir, file, ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("store: create directory %s: %w", dir, err)
	}
	now := s.ts(s.now())
	for _, p := range chain[1:] {
		res, err := tx.ExecContext(ctx, `INSERT INTO catalog_dirs (path, parent, owner, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (path) DO NOTHING`,
			p, lfnParent(p), owner, now)
		if err != nil {
			return false, fmt.Errorf("store: create directory %s: %w", p, err)
		}
		if p == dir {
			n, err := res.RowsAffected()
			if err != nil {
				return false, fmt.Errorf("store: create directory %s: %w", p, err)
			}
			created = n > 0
		}
	}
	return created, nil
}

// setMeta applies a change of metadata to a directory (table
// catalog_dir_meta) or file (catalog_file_meta): nil values remove keys, a
// key's first value fixes its type.
func (s *Store) setMeta(ctx context.Context, tx *sql.Tx, table, path string, m Metadata) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := checkMetaKey(k); err != nil {
			return err
		}
		v := m[k]
		if v == nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE path = $1 AND key = $2`, path, k); err != nil {
				return fmt.Errorf("store: remove metadata %s of %s: %w", k, path, err)
			}
			continue
		}
		typ, num, str, err := metaValue(k, v)
		if err != nil {
			return err
		}
		var have string
		err = tx.QueryRowContext(ctx, `SELECT type FROM catalog_meta_keys WHERE key = $1`, k).Scan(&have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_meta_keys (key, type, created_at) VALUES ($1, $2, $3)`, k, typ, s.ts(s.now())); err != nil {
				return fmt.Errorf("store: add metadata key %s: %w", k, err)
			}
		case err != nil:
			return fmt.Errorf("store: metadata key %s: %w", k, err)
		case have != typ:
			return fmt.Errorf("store: metadata %s: the key holds %ss (since its first use) and %s is a %s: %w", k, have, formatMeta(v), typ, ErrInvalid)
		}
		var numArg, strArg any
		if typ == MetaNumber {
			numArg = num
		} else {
			strArg = str
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (path, key, num, str) VALUES ($1, $2, $3, $4)
			ON CONFLICT (path, key) DO UPDATE SET num = excluded.num, str = excluded.str`, path, k, numArg, strArg); err != nil {
			return fmt.Errorf("store: set metadata %s of %s: %w", k, path, err)
		}
	}
	return nil
}

func formatMeta(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// MakeCatalogDir creates a directory, and its missing parents, owned by
// owner, and applies a change of its metadata. An existing directory is
// kept (created false) unless exclusive, which makes it ErrConflict.
func (s *Store) MakeCatalogDir(ctx context.Context, path, owner string, meta Metadata, exclusive bool) (dir CatalogDir, created bool, err error) {
	if path, err = CleanLFN(path); err != nil {
		return dir, false, err
	}
	err = s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if created, err = s.mkdirs(ctx, tx, path, owner); err != nil {
			return err
		}
		if !created && exclusive {
			return fmt.Errorf("store: directory %s already exists: %w", path, ErrConflict)
		}
		return s.setMeta(ctx, tx, "catalog_dir_meta", path, meta)
	})
	if err != nil {
		return dir, false, err
	}
	dir, err = s.GetCatalogDir(ctx, path)
	return dir, created, err
}

// SetCatalogDirMetadata applies a change of a directory's own metadata.
func (s *Store) SetCatalogDirMetadata(ctx context.Context, path string, meta Metadata) (CatalogDir, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return CatalogDir{}, err
	}
	err = s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.dirExists(ctx, tx, path); err != nil {
			return err
		}
		return s.setMeta(ctx, tx, "catalog_dir_meta", path, meta)
	})
	if err != nil {
		return CatalogDir{}, err
	}
	return s.GetCatalogDir(ctx, path)
}

// replicaURL checks a storage URL and names its storage element. Callers
// give canonical URLs (the API parses them with the transfer service's
// rules); the store only refuses what cannot be a storage URL at all.
func replicaURL(raw string) (se string, err error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("store: replica URL %q: %s: %w", raw, why, ErrInvalid)
	}
	if raw == "" || len(raw) > maxReplicaURLLength || strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r == 0x7f }) {
		return bad(fmt.Sprintf("want a URL of 1 to %d bytes without spaces or control characters", maxReplicaURLLength))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("not a URL")
	case u.Scheme == "" || u.Opaque != "":
		return bad("want scheme://host/path, e.g. node://n-1/data/x or file:///srv/data/x")
	case u.User != nil:
		return bad("holds credentials")
	case u.Path == "" || u.Path == "/":
		return bad("names no file")
	case u.Scheme == "file":
		return "file://localhost", nil
	case u.Host == "":
		return bad("names no host")
	}
	return u.Scheme + "://" + u.Host, nil
}

func cleanChecksum(sum string) (string, error) {
	if sum == "" {
		return "", nil
	}
	c, err := checksum.Parse(sum)
	if err != nil {
		return "", fmt.Errorf("store: %v: %w", err, ErrInvalid)
	}
	return c.String(), nil
}

func (s *Store) insertReplica(ctx context.Context, tx *sql.Tx, path, raw string, ignoreDup bool) error {
	se, err := replicaURL(raw)
	if err != nil {
		return err
	}
	q := `INSERT INTO catalog_replicas (path, url, se, created_at) VALUES ($1, $2, $3, $4)`
	if ignoreDup {
		q += ` ON CONFLICT (path, url) DO NOTHING`
	}
	_, err = tx.ExecContext(ctx, q, path, raw, se, s.ts(s.now()))
	if isUniqueViolation(err) {
		return fmt.Errorf("store: %s is already a replica of %s: %w", raw, path, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: add replica %s of %s: %w", raw, path, err)
	}
	return nil
}

// RegisterCatalogFile registers a file with its replicas (f.Replicas' URLs)
// and metadata, creating its missing parent directories owned by f.Owner. A
// path already registered, as a file or a directory, is ErrConflict.
func (s *Store) RegisterCatalogFile(ctx context.Context, f CatalogFile) (CatalogFile, error) {
	path, err := CleanLFN(f.Path)
	if err != nil {
		return f, err
	}
	if path == "/" {
		return f, fmt.Errorf("store: the root / is a directory, not a file: %w", ErrInvalid)
	}
	if f.Size < 0 {
		return f, fmt.Errorf("store: file %s: size %d is negative: %w", path, f.Size, ErrInvalid)
	}
	sum, err := cleanChecksum(f.Checksum)
	if err != nil {
		return f, err
	}
	err = s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if dir, err := exists(ctx, tx, `SELECT 1 FROM catalog_dirs WHERE path = $1`, path); err != nil || dir {
			if err != nil {
				return fmt.Errorf("store: register %s: %w", path, err)
			}
			return fmt.Errorf("store: cannot register file %s: it is a directory: %w", path, ErrConflict)
		}
		if _, err := s.mkdirs(ctx, tx, lfnParent(path), f.Owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO catalog_files (path, dir, owner, size, checksum, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			path, lfnParent(path), f.Owner, f.Size, sum, s.ts(s.now()))
		if isUniqueViolation(err) {
			return fmt.Errorf("store: file %s is already registered: add replicas to it, or delete it first: %w", path, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("store: register %s: %w", path, err)
		}
		seen := map[string]bool{}
		for _, r := range f.Replicas {
			if seen[r.URL] {
				continue
			}
			seen[r.URL] = true
			if err := s.insertReplica(ctx, tx, path, r.URL, false); err != nil {
				return err
			}
		}
		return s.setMeta(ctx, tx, "catalog_file_meta", path, f.Metadata)
	})
	if err != nil {
		return f, err
	}
	return s.GetCatalogFile(ctx, path)
}

func (s *Store) fileExists(ctx context.Context, q execQuerier, path string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM catalog_files WHERE path = $1`, path)
	if err != nil {
		return fmt.Errorf("store: file %s: %w", path, err)
	}
	if !ok {
		what := "no file " + path + " in the catalogue"
		if dir, _ := exists(ctx, q, `SELECT 1 FROM catalog_dirs WHERE path = $1`, path); dir {
			what = path + " is a directory, not a file"
		}
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return nil
}

func (s *Store) dirExists(ctx context.Context, q execQuerier, path string) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM catalog_dirs WHERE path = $1`, path)
	if err != nil {
		return fmt.Errorf("store: directory %s: %w", path, err)
	}
	if !ok {
		what := "no directory " + path + " in the catalogue"
		if file, _ := exists(ctx, q, `SELECT 1 FROM catalog_files WHERE path = $1`, path); file {
			what = path + " is a file, not a directory"
		}
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return nil
}

// AddCatalogReplica adds a replica to a registered file; a URL it already
// has is ErrConflict.
func (s *Store) AddCatalogReplica(ctx context.Context, path, replica string) (CatalogFile, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return CatalogFile{}, err
	}
	err = s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.fileExists(ctx, tx, path); err != nil {
			return err
		}
		return s.insertReplica(ctx, tx, path, replica, false)
	})
	if err != nil {
		return CatalogFile{}, err
	}
	return s.GetCatalogFile(ctx, path)
}

// RemoveCatalogReplica removes one replica of a file. The file stays
// registered, with its other replicas or none.
func (s *Store) RemoveCatalogReplica(ctx context.Context, path, replica string) error {
	path, err := CleanLFN(path)
	if err != nil {
		return err
	}
	return s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.fileExists(ctx, tx, path); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM catalog_replicas WHERE path = $1 AND url = $2`, path, replica)
		if err != nil {
			return fmt.Errorf("store: remove replica %s of %s: %w", replica, path, err)
		}
		return affected(res, fmt.Errorf("store: %s is not a replica of %s: %w", replica, path, ErrNotFound))
	})
}

// DeleteCatalogFile unregisters a file with its replicas and metadata. Its
// directories stay.
func (s *Store) DeleteCatalogFile(ctx context.Context, path string) error {
	path, err := CleanLFN(path)
	if err != nil {
		return err
	}
	return s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.fileExists(ctx, tx, path); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_files WHERE path = $1`, path); err != nil {
			return fmt.Errorf("store: delete file %s: %w", path, err)
		}
		return nil
	})
}

// DeleteCatalogDir removes an empty directory with its own metadata, as
// DIRAC's removeDirectory does: a directory that still holds files or
// subdirectories is a conflict (remove them first), and the root stays.
func (s *Store) DeleteCatalogDir(ctx context.Context, path string) error {
	path, err := CleanLFN(path)
	if err != nil {
		return err
	}
	if path == "/" {
		return fmt.Errorf("store: the root directory cannot be removed: %w", ErrConflict)
	}
	return s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.dirExists(ctx, tx, path); err != nil {
			return err
		}
		var dirs, files int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM catalog_dirs WHERE parent = $1), (SELECT COUNT(*) FROM catalog_files WHERE dir = $1)`,
			path).Scan(&dirs, &files); err != nil {
			return fmt.Errorf("store: contents of %s: %w", path, err)
		}
		if dirs+files > 0 {
			return fmt.Errorf("store: directory %s is not empty (%d subdirectories, %d files): remove them first: %w", path, dirs, files, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM catalog_dirs WHERE path = $1`, path); err != nil {
			return fmt.Errorf("store: delete directory %s: %w", path, err)
		}
		return nil
	})
}

// SetCatalogFileMetadata applies a change of a file's own metadata.
func (s *Store) SetCatalogFileMetadata(ctx context.Context, path string, meta Metadata) (CatalogFile, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return CatalogFile{}, err
	}
	err = s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		if err := s.fileExists(ctx, tx, path); err != nil {
			return err
		}
		return s.setMeta(ctx, tx, "catalog_file_meta", path, meta)
	})
	if err != nil {
		return CatalogFile{}, err
	}
	return s.GetCatalogFile(ctx, path)
}

// RegisterReplica records url, where a transfer wrote a copy of lfn, as a
// replica of lfn. A file not yet registered is registered with size and
// checksum (its missing directories too), owned by the owner of its
// nearest existing directory, or, when that is the root, by the user the
// path's first name is. A registered file must have the same size, and the
// same checksum when both are known in the same algorithm (ErrConflict
// otherwise); a checksum it lacked is recorded. Registering the same replica
// again changes nothing, so a retried transfer activity may call it again.
func (s *Store) RegisterReplica(ctx context.Context, lfn, url string, size int64, sum string) error {
	path, err := CleanLFN(lfn)
	if err != nil {
		return err
	}
	if path == "/" {
		return fmt.Errorf("store: the root / is a directory, not a file: %w", ErrInvalid)
	}
	if size < 0 {
		return fmt.Errorf("store: replica %s of %s: size %d is negative: %w", url, path, size, ErrInvalid)
	}
	if sum, err = cleanChecksum(sum); err != nil {
		return err
	}
	if _, err := replicaURL(url); err != nil {
		return err
	}
	return s.withCatalogLock(ctx, func(tx *sql.Tx) error {
		var have int64
		var haveSum string
		err := tx.QueryRowContext(ctx, `SELECT size, checksum FROM catalog_files WHERE path = $1`, path).Scan(&have, &haveSum)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if dir, err := exists(ctx, tx, `SELECT 1 FROM catalog_dirs WHERE path = $1`, path); err != nil || dir {
				if err != nil {
					return fmt.Errorf("store: register %s: %w", path, err)
				}
				return fmt.Errorf("store: cannot register a replica of %s: it is a directory: %w", path, ErrConflict)
			}
			owner, err := s.inheritedOwner(ctx, tx, path)
			if err != nil {
				return err
			}
			if _, err := s.mkdirs(ctx, tx, lfnParent(path), owner); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO catalog_files (path, dir, owner, size, checksum, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				path, lfnParent(path), owner, size, sum, s.ts(s.now())); err != nil {
				return fmt.Errorf("store: register %s: %w", path, err)
			}
		case err != nil:
			return fmt.Errorf("store: file %s: %w", path, err)
		default:
			if have != size {
				return fmt.Errorf("store: replica %s of %s has %d bytes but the file is registered with %d: %w", url, path, size, have, ErrConflict)
			}
			if sum != "" {
				algo, _, _ := strings.Cut(sum, ":")
				haveAlgo, _, _ := strings.Cut(haveSum, ":")
				switch {
				case haveSum == "":
					if _, err := tx.ExecContext(ctx, `UPDATE catalog_files SET checksum = $1 WHERE path = $2`, sum, path); err != nil {
						return fmt.Errorf("store: set checksum of %s: %w", path, err)
					}
				case algo == haveAlgo && sum != haveSum:
					return fmt.Errorf("store: replica %s of %s has checksum %s but the file is registered with %s: %w", url, path, sum, haveSum, ErrConflict)
				}
			}
		}
		return s.insertReplica(ctx, tx, path, url, true)
	})
}

// inheritedOwner is the owner of the nearest existing directory above path,
// or the first name of path when only the root exists.
func (s *Store) inheritedOwner(ctx context.Context, tx *sql.Tx, path string) (string, error) {
	anc := lfnAncestors(path)
	for i := len(anc) - 1; i > 0; i-- {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT owner FROM catalog_dirs WHERE path = $1`, anc[i]).Scan(&owner)
		if err == nil {
			return owner, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("store: directory %s: %w", anc[i], err)
		}
	}
	first, _, _ := strings.Cut(path[1:], "/")
	return first, nil
}

// --- reads ----------------------------------------------------------------

// scanMeta reads rows of (path, key, num, str) into metadata per path.
func scanMeta(rows *sql.Rows, err error) (map[string]Metadata, error) {
	if err != nil {
		return nil, fmt.Errorf("store: read metadata: %w", err)
	}
	defer rows.Close()
	out := map[string]Metadata{}
	for rows.Next() {
		var path, key string
		var num sql.NullFloat64
		var str sql.NullString
		if err := rows.Scan(&path, &key, &num, &str); err != nil {
			return nil, fmt.Errorf("store: read metadata: %w", err)
		}
		if out[path] == nil {
			out[path] = Metadata{}
		}
		if num.Valid {
			out[path][key] = num.Float64
		} else {
			out[path][key] = str.String
		}
	}
	return out, rows.Err()
}

func placeholders(n, from int) string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(marks, ",")
}

func anyArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// metaOf returns the own metadata of the given paths of a table.
func (s *Store) metaOf(ctx context.Context, table string, paths []string) (map[string]Metadata, error) {
	if len(paths) == 0 {
		return map[string]Metadata{}, nil
	}
	return scanMeta(s.db.QueryContext(ctx, `SELECT path, key, num, str FROM `+table+` WHERE path IN (`+placeholders(len(paths), 1)+`)`, anyArgs(paths)...))
}

// inherit merges the metadata of a chain of directories, from the root
// down: a nearer directory's key wins. from names the directory each key
// comes from.
func inherit(chain []string, own map[string]Metadata) (m Metadata, from map[string]string) {
	m, from = Metadata{}, map[string]string{}
	for _, p := range chain {
		for k, v := range own[p] {
			m[k], from[k] = v, p
		}
	}
	return m, from
}

// GetCatalogDir returns a directory with its own and inherited metadata.
func (s *Store) GetCatalogDir(ctx context.Context, path string) (CatalogDir, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return CatalogDir{}, err
	}
	d := CatalogDir{Path: path}
	err = s.db.QueryRowContext(ctx, `SELECT owner, created_at FROM catalog_dirs WHERE path = $1`, path).Scan(&d.Owner, timeCol{&d.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return d, s.dirExists(ctx, s.db, path)
	}
	if err != nil {
		return d, fmt.Errorf("store: directory %s: %w", path, err)
	}
	chain := append(lfnAncestors(path), path)
	own, err := s.metaOf(ctx, "catalog_dir_meta", chain)
	if err != nil {
		return d, err
	}
	d.Metadata, d.InheritedFrom = inherit(chain, own)
	dropOwnKeys(d.InheritedFrom, path)
	return d, nil
}

// dropOwnKeys drops the keys a path sets itself: they are not inherited.
func dropOwnKeys(from map[string]string, path string) {
	for k, p := range from {
		if p == path {
			delete(from, k)
		}
	}
}

// GetCatalogFile returns a file with its replicas and its own and inherited
// metadata.
func (s *Store) GetCatalogFile(ctx context.Context, path string) (CatalogFile, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return CatalogFile{}, err
	}
	f := CatalogFile{Path: path}
	err = s.db.QueryRowContext(ctx, `SELECT owner, size, checksum, created_at FROM catalog_files WHERE path = $1`, path).
		Scan(&f.Owner, &f.Size, &f.Checksum, timeCol{&f.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return f, s.fileExists(ctx, s.db, path)
	}
	if err != nil {
		return f, fmt.Errorf("store: file %s: %w", path, err)
	}
	reps, err := s.replicasOf(ctx, []string{path})
	if err != nil {
		return f, err
	}
	f.Replicas = reps[path]
	chain := lfnAncestors(path)
	own, err := s.metaOf(ctx, "catalog_dir_meta", chain)
	if err != nil {
		return f, err
	}
	fileMeta, err := s.metaOf(ctx, "catalog_file_meta", []string{path})
	if err != nil {
		return f, err
	}
	own[path] = fileMeta[path]
	f.Metadata, f.InheritedFrom = inherit(append(chain, path), own)
	dropOwnKeys(f.InheritedFrom, path)
	return f, nil
}

func (s *Store) replicasOf(ctx context.Context, paths []string) (map[string][]CatalogReplica, error) {
	out := map[string][]CatalogReplica{}
	if len(paths) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT path, url, se, created_at FROM catalog_replicas WHERE path IN (`+placeholders(len(paths), 1)+`) ORDER BY path, created_at, url`, anyArgs(paths)...)
	if err != nil {
		return nil, fmt.Errorf("store: read replicas: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var r CatalogReplica
		if err := rows.Scan(&p, &r.URL, &r.SE, timeCol{&r.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: read replicas: %w", err)
		}
		out[p] = append(out[p], r)
	}
	return out, rows.Err()
}

// ListCatalogDir returns a page of a directory's contents, subdirectories
// first, each kind by name, and the number of entries. verbose adds the
// files' replicas and every entry's own metadata.
func (s *Store) ListCatalogDir(ctx context.Context, path string, verbose bool, offset, limit int) ([]CatalogEntry, int, error) {
	path, err := CleanLFN(path)
	if err != nil {
		return nil, 0, err
	}
	if err := s.dirExists(ctx, s.db, path); err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM catalog_dirs WHERE parent = $1) + (SELECT COUNT(*) FROM catalog_files WHERE dir = $1)`, path).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count entries of %s: %w", path, err)
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.db.QueryContext(ctx, `SELECT 'directory' AS kind, path, owner, created_at, 0 AS size, '' AS checksum FROM catalog_dirs WHERE parent = $1
		UNION ALL SELECT 'file', path, owner, created_at, size, checksum FROM catalog_files WHERE dir = $1
		ORDER BY 1, 2 LIMIT $2 OFFSET $3`, path, limit, max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", path, err)
	}
	var out []CatalogEntry
	var dirs, files []string
	for rows.Next() {
		var e CatalogEntry
		if err := rows.Scan(&e.Kind, &e.Path, &e.Owner, timeCol{&e.CreatedAt}, &e.Size, &e.Checksum); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("store: list %s: %w", path, err)
		}
		out = append(out, e)
		if e.Kind == CatalogKindDir {
			dirs = append(dirs, e.Path)
		} else {
			files = append(files, e.Path)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", path, err)
	}
	if !verbose {
		return out, total, nil
	}
	dirMeta, err := s.metaOf(ctx, "catalog_dir_meta", dirs)
	if err != nil {
		return nil, 0, err
	}
	fileMeta, err := s.metaOf(ctx, "catalog_file_meta", files)
	if err != nil {
		return nil, 0, err
	}
	reps, err := s.replicasOf(ctx, files)
	if err != nil {
		return nil, 0, err
	}
	for i, e := range out {
		if e.Kind == CatalogKindDir {
			out[i].Metadata = dirMeta[e.Path]
		} else {
			out[i].Metadata, out[i].Replicas = fileMeta[e.Path], reps[e.Path]
		}
		if out[i].Metadata == nil {
			out[i].Metadata = Metadata{}
		}
	}
	return out, total, nil
}

// CatalogMetaKeys returns the metadata keys with their types, by name.
func (s *Store) CatalogMetaKeys(ctx context.Context) ([]CatalogMetaKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, type FROM catalog_meta_keys ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("store: metadata keys: %w", err)
	}
	defer rows.Close()
	var out []CatalogMetaKey
	for rows.Next() {
		var k CatalogMetaKey
		if err := rows.Scan(&k.Key, &k.Type); err != nil {
			return nil, fmt.Errorf("store: metadata keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// catalogTree is a directory, everything below it, and their metadata as it
// applies (own and inherited), read for a search.
type catalogTree struct {
	root  string
	dirs  []string // root first, then by path
	eff   map[string]Metadata
	files map[string][2]int64 // per directory: files directly in it, their bytes
}

// loadTree reads the subtree of root. Searches evaluate conditions in Go:
// inherited metadata is a walk down the tree, which SQL of both dialects
// would do only with recursive queries.
func (s *Store) loadTree(ctx context.Context, root string, withFiles bool) (*catalogTree, error) {
	if err := s.dirExists(ctx, s.db, root); err != nil {
		return nil, err
	}
	lo, hi := subtree(root)
	t := &catalogTree{root: root, eff: map[string]Metadata{}, files: map[string][2]int64{}}
	rows, err := s.db.QueryContext(ctx, `SELECT path FROM catalog_dirs WHERE path >= $1 AND path < $2 AND path <> $3 ORDER BY path`, lo, hi, root)
	if err != nil {
		return nil, fmt.Errorf("store: read directories under %s: %w", root, err)
	}
	t.dirs = []string{root}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: read directories under %s: %w", root, err)
		}
		t.dirs = append(t.dirs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read directories under %s: %w", root, err)
	}
	chain := append(lfnAncestors(root), root)
	own, err := s.metaOf(ctx, "catalog_dir_meta", chain)
	if err != nil {
		return nil, err
	}
	below, err := scanMeta(s.db.QueryContext(ctx, `SELECT path, key, num, str FROM catalog_dir_meta WHERE path >= $1 AND path < $2 AND path <> $3`, lo, hi, root))
	if err != nil {
		return nil, err
	}
	t.eff[root], _ = inherit(chain, own)
	// A parent sorts before its children, so its metadata is ready first.
	for _, p := range t.dirs[1:] {
		m := Metadata{}
		for k, v := range t.eff[lfnParent(p)] {
			m[k] = v
		}
		for k, v := range below[p] {
			m[k] = v
		}
		t.eff[p] = m
	}
	if withFiles {
		rows, err := s.db.QueryContext(ctx, `SELECT dir, COUNT(*), COALESCE(SUM(size), 0) FROM catalog_files WHERE dir = $1 OR (dir >= $2 AND dir < $3) GROUP BY dir`, root, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("store: count files under %s: %w", root, err)
		}
		defer rows.Close()
		for rows.Next() {
			var dir string
			var n, size int64
			if err := rows.Scan(&dir, &n, &size); err != nil {
				return nil, fmt.Errorf("store: count files under %s: %w", root, err)
			}
			t.files[dir] = [2]int64{n, size}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: count files under %s: %w", root, err)
		}
	}
	return t, nil
}

// SearchCatalogDirs returns the directories at and below root whose
// metadata (own and inherited) satisfies every condition, by path, each
// with the number and total size of the files in it and below it.
func (s *Store) SearchCatalogDirs(ctx context.Context, root string, conds []MetaCondition) ([]CatalogDirUsage, error) {
	root, err := CleanLFN(root)
	if err != nil {
		return nil, err
	}
	if err := s.checkConditions(ctx, conds); err != nil {
		return nil, err
	}
	t, err := s.loadTree(ctx, root, true)
	if err != nil {
		return nil, err
	}
	// Totals of each subtree: every directory's own files count in it and
	// in each of its ancestors up to root.
	totals := map[string][2]int64{}
	for dir, c := range t.files {
		for p := dir; ; p = lfnParent(p) {
			tot := totals[p]
			totals[p] = [2]int64{tot[0] + c[0], tot[1] + c[1]}
			if p == root || p == "/" {
				break
			}
		}
	}
	var out []CatalogDirUsage
	for _, p := range t.dirs {
		if matchAll(t.eff[p], conds) {
			out = append(out, CatalogDirUsage{Path: p, Metadata: t.eff[p], Files: int(totals[p][0]), Size: totals[p][1]})
		}
	}
	return out, nil
}

// CompatibleCatalogMetadata returns, for each metadata key, the values it
// takes on the directories and files at and below root whose metadata (own
// and inherited) satisfies every condition: what a further condition could
// still select. Values are sorted (numbers, then strings).
func (s *Store) CompatibleCatalogMetadata(ctx context.Context, root string, conds []MetaCondition) (map[string][]any, error) {
	root, err := CleanLFN(root)
	if err != nil {
		return nil, err
	}
	if err := s.checkConditions(ctx, conds); err != nil {
		return nil, err
	}
	t, err := s.loadTree(ctx, root, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]map[any]bool{}
	add := func(m Metadata) {
		if !matchAll(m, conds) {
			return
		}
		for k, v := range m {
			if seen[k] == nil {
				seen[k] = map[any]bool{}
			}
			seen[k][v] = true
		}
	}
	for _, p := range t.dirs {
		add(t.eff[p])
	}
	// A file without metadata of its own has its directory's, counted
	// above; only files with their own keys can add values.
	lo, hi := subtree(root)
	rows, err := s.db.QueryContext(ctx, `SELECT path, key, num, str FROM catalog_file_meta WHERE path >= $1 AND path < $2`, lo, hi)
	fileMeta, err := scanMeta(rows, err)
	if err != nil {
		return nil, err
	}
	for p, own := range fileMeta {
		m := Metadata{}
		for k, v := range t.eff[lfnParent(p)] {
			m[k] = v
		}
		for k, v := range own {
			m[k] = v
		}
		add(m)
	}
	out := map[string][]any{}
	for k, vs := range seen {
		list := make([]any, 0, len(vs))
		for v := range vs {
			list = append(list, v)
		}
		slices.SortFunc(list, compareMeta)
		out[k] = list
	}
	return out, nil
}

// compareMeta orders numbers before strings, each in their natural order.
func compareMeta(a, b any) int {
	an, aNum := a.(float64)
	bn, bNum := b.(float64)
	switch {
	case aNum && bNum:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(a.(string), b.(string))
}
