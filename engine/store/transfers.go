package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Transfer job states, as FTS3 names them.
const (
	TransferSubmitted     = "SUBMITTED"
	TransferActive        = "ACTIVE"
	TransferFinished      = "FINISHED"
	TransferFinishedDirty = "FINISHEDDIRTY" // some files finished, some did not
	TransferFailed        = "FAILED"
	TransferCanceled      = "CANCELED"
)

// TransferOnHold is the state of a file held by a storage ban in WAIT mode.
const TransferOnHold = "ON_HOLD"

// IsTransferFinal reports whether a job or file state is final.
func IsTransferFinal(state string) bool {
	switch state {
	case TransferFinished, TransferFinishedDirty, TransferFailed, TransferCanceled:
		return true
	}
	return false
}

// TransferJob is a job of files to copy.
type TransferJob struct {
	ID, Owner, Project string
	State, Reason      string
	Priority           int
	Verify             string // none, source, target, both
	Overwrite          bool
	Retry              int
	RetryDelay         time.Duration
	Multihop           bool
	SID                string
	Metadata           json.RawMessage
	SourceSE, DestSE   string // of the first file
	FilesTotal         int
	CreatedAt          time.Time
	UpdatedAt          time.Time
	FinishedAt         *time.Time
	// Counts holds the number of files per state (filled by GetTransferJob
	// and ListTransferJobs).
	Counts map[string]int
}

// TransferFile is one file of a job.
type TransferFile struct {
	JobID          string
	Index          int
	Sources        []string
	Destination    string
	SourceSE       string
	DestSE         string
	Checksum       string
	FileSize       int64
	Metadata       json.RawMessage
	LFN            string // a catalogue file the destination becomes a replica of ("": none)
	State, Reason  string
	Retries        int
	Bytes          int64
	SourceUsed     string
	SourceChecksum string
	DestChecksum   string
	Throughput     float64 // bytes per second
	NotBefore      *time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	UpdatedAt      time.Time
}

// Duration is how long the copy took, or has taken so far.
func (f TransferFile) Duration(now time.Time) time.Duration {
	switch {
	case f.StartedAt == nil:
		return 0
	case f.FinishedAt != nil:
		return f.FinishedAt.Sub(*f.StartedAt)
	}
	return now.Sub(*f.StartedAt)
}

const tjColumns = `id, owner, project, state, reason, priority, verify, overwrite, retry, retry_delay, multihop, sid, metadata, source_se, dest_se, files_total, created_at, updated_at, finished_at`

func scanTransferJob(row rowScanner) (TransferJob, error) {
	var j TransferJob
	var overwrite, multihop int
	var delay int64
	var meta string
	err := row.Scan(&j.ID, &j.Owner, &j.Project, &j.State, &j.Reason, &j.Priority, &j.Verify, &overwrite, &j.Retry, &delay, &multihop,
		&j.SID, &meta, &j.SourceSE, &j.DestSE, &j.FilesTotal, timeCol{&j.CreatedAt}, timeCol{&j.UpdatedAt}, optTimeCol{&j.FinishedAt})
	j.Overwrite, j.Multihop = overwrite != 0, multihop != 0
	j.RetryDelay = time.Duration(delay) * time.Second
	j.Metadata = json.RawMessage(meta)
	return j, err
}

const tfColumns = `job_id, file_index, sources, destination, source_se, dest_se, checksum, filesize, metadata, state, reason, retries, bytes, source_used, source_checksum, dest_checksum, throughput, not_before, started_at, finished_at, updated_at, lfn`

func scanTransferFile(row rowScanner) (TransferFile, error) {
	var f TransferFile
	var sources, meta string
	err := row.Scan(&f.JobID, &f.Index, &sources, &f.Destination, &f.SourceSE, &f.DestSE, &f.Checksum, &f.FileSize, &meta, &f.State, &f.Reason,
		&f.Retries, &f.Bytes, &f.SourceUsed, &f.SourceChecksum, &f.DestChecksum, &f.Throughput,
		optTimeCol{&f.NotBefore}, optTimeCol{&f.StartedAt}, optTimeCol{&f.FinishedAt}, timeCol{&f.UpdatedAt}, &f.LFN)
	if err != nil {
		return f, err
	}
	f.Metadata = json.RawMessage(meta)
	if err := json.Unmarshal([]byte(sources), &f.Sources); err != nil {
		return f, fmt.Errorf("store: sources of file %d of transfer %s: %w", f.Index, f.JobID, err)
	}
	return f, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func rawOrNull(r json.RawMessage) string {
	if len(r) == 0 {
		return "null"
	}
	return string(r)
}

// withTransferLock runs fn in a transaction no other claim, ban or
// optimizer decision runs beside (an advisory lock on PostgreSQL, the write
// lock on SQLite), so that two workers never both take a pair's last slot.
func (s *Store) withTransferLock(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7270003)`); err != nil {
				return fmt.Errorf("store: transfer lock: %w", err)
			}
		}
		return fn(tx)
	})
}

// InsertTransferJob records a job and its files. Files on a storage banned
// in WAIT mode start ON_HOLD (held names them). A job whose id exists (a
// deterministic id submitted again) is not inserted twice: the existing one
// is returned with existed true.
func (s *Store) InsertTransferJob(ctx context.Context, j TransferJob, files []TransferFile, held func(sourceSE, destSE string) bool) (job TransferJob, existed bool, err error) {
	if len(files) == 0 {
		return j, false, fmt.Errorf("store: transfer %s has no files: %w", j.ID, ErrInvalid)
	}
	now := norm(s.now())
	j.CreatedAt, j.UpdatedAt, j.FilesTotal = now, now, len(files)
	if j.State == "" {
		j.State = TransferSubmitted
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO transfer_jobs (`+tjColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)`,
			j.ID, j.Owner, j.Project, j.State, j.Reason, j.Priority, j.Verify, boolInt(j.Overwrite), j.Retry, int64(j.RetryDelay/time.Second),
			boolInt(j.Multihop), j.SID, rawOrNull(j.Metadata), j.SourceSE, j.DestSE, j.FilesTotal, s.ts(now), s.ts(now), nil)
		if isUniqueViolation(err) {
			return ErrConflict
		}
		if err != nil {
			return fmt.Errorf("store: insert transfer %s: %w", j.ID, err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO transfer_files (job_id, file_index, sources, destination, source_se, dest_se, checksum, filesize, metadata, state, updated_at, priority, lfn)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`)
		if err != nil {
			return fmt.Errorf("store: insert files of transfer %s: %w", j.ID, err)
		}
		defer stmt.Close()
		for i, f := range files {
			src, _ := json.Marshal(f.Sources)
			state := TransferSubmitted
			if held != nil && held(f.SourceSE, f.DestSE) {
				state = TransferOnHold
			}
			if _, err := stmt.ExecContext(ctx, j.ID, i, string(src), f.Destination, f.SourceSE, f.DestSE, f.Checksum, f.FileSize, rawOrNull(f.Metadata), state, s.ts(now), j.Priority, f.LFN); err != nil {
				return fmt.Errorf("store: insert file %d of transfer %s: %w", i, j.ID, err)
			}
		}
		return nil
	})
	if errors.Is(err, ErrConflict) {
		old, gerr := s.GetTransferJob(ctx, j.ID)
		if gerr != nil {
			return j, false, gerr
		}
		return old, true, nil
	}
	return j, false, err
}

// DeleteTransferJob removes a job whose workflow could not start.
func (s *Store) DeleteTransferJob(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM transfer_jobs WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete transfer %s: %w", id, err)
	}
	return affected(res, ErrNotFound)
}

// GetTransferJob returns a job with its file counts.
func (s *Store) GetTransferJob(ctx context.Context, id string) (TransferJob, error) {
	j, err := scanTransferJob(s.db.QueryRowContext(ctx, `SELECT `+tjColumns+` FROM transfer_jobs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("store: transfer %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("store: transfer %s: %w", id, err)
	}
	counts, err := s.transferCounts(ctx, s.db, []string{id})
	j.Counts = counts[id]
	return j, err
}

func (s *Store) transferCounts(ctx context.Context, q querier, ids []string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = id, fmt.Sprintf("$%d", i+1)
		out[id] = map[string]int{}
	}
	rows, err := q.QueryContext(ctx, `SELECT job_id, state, COUNT(*) FROM transfer_files WHERE job_id IN (`+strings.Join(marks, ",")+`) GROUP BY job_id, state`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count transfer files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, state string
		var n int
		if err := rows.Scan(&id, &state, &n); err != nil {
			return nil, err
		}
		out[id][state] = n
	}
	return out, rows.Err()
}

// TransferFileFilter selects files of a job; zero fields match everything.
type TransferFileFilter struct {
	State string
	// UpdatedAfter keeps the files changed after it (progress included).
	UpdatedAfter  time.Time
	Offset, Limit int
}

// TransferFiles returns a page of a job's files by index, and their total.
func (s *Store) TransferFiles(ctx context.Context, id string, f TransferFileFilter) ([]TransferFile, int, error) {
	cond, args := ` WHERE job_id = $1`, []any{id}
	if f.State != "" {
		args = append(args, f.State)
		cond += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	if !f.UpdatedAfter.IsZero() {
		args = append(args, s.ts(f.UpdatedAfter))
		cond += fmt.Sprintf(` AND updated_at > $%d`, len(args))
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM transfer_files`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count files of transfer %s: %w", id, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	args = append(args, limit, max(f.Offset, 0))
	files, err := s.queryTransferFiles(ctx, s.db, fmt.Sprintf(`SELECT %s FROM transfer_files%s ORDER BY file_index LIMIT $%d OFFSET $%d`, tfColumns, cond, len(args)-1, len(args)), args...)
	return files, total, err
}

func (s *Store) queryTransferFiles(ctx context.Context, q querier, query string, args ...any) ([]TransferFile, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: transfer files: %w", err)
	}
	defer rows.Close()
	var out []TransferFile
	for rows.Next() {
		f, err := scanTransferFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// TransferFilter selects jobs; zero fields match everything. A job matches
// SourceSE or DestSE when one of its files does.
type TransferFilter struct {
	State, Owner, Project, SourceSE, DestSE string
	Since, Until                            time.Time // on the submission time
	Offset, Limit                           int
}

// ListTransferJobs returns a page of jobs, newest first, with their counts,
// and the total.
func (s *Store) ListTransferJobs(ctx context.Context, f TransferFilter) ([]TransferJob, int, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if f.State != "" {
		add("state = $?", f.State)
	}
	if f.Owner != "" {
		add("owner = $?", f.Owner)
	}
	if f.Project != "" {
		add("project = $?", f.Project)
	}
	if f.SourceSE != "" {
		add("EXISTS (SELECT 1 FROM transfer_files t WHERE t.job_id = transfer_jobs.id AND t.source_se = $?)", f.SourceSE)
	}
	if f.DestSE != "" {
		add("EXISTS (SELECT 1 FROM transfer_files t WHERE t.job_id = transfer_jobs.id AND t.dest_se = $?)", f.DestSE)
	}
	if !f.Since.IsZero() {
		add("created_at >= $?", s.ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < $?", s.ts(f.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	out, total, err := listPage(ctx, s, "transfers", "transfer_jobs", tjColumns, cond, "created_at DESC, id DESC", args, f.Offset, f.Limit, scanTransferJob)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]string, len(out))
	for i, j := range out {
		ids[i] = j.ID
	}
	counts, err := s.transferCounts(ctx, s.db, ids)
	if err != nil {
		return nil, 0, err
	}
	for i := range out {
		out[i].Counts = counts[out[i].ID]
	}
	return out, total, nil
}

// TransferJobPairs returns the (source, destination) storage pairs of a
// job's files; they never change, so a copy run reads them once.
func (s *Store) TransferJobPairs(ctx context.Context, jobID string) ([][2]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT source_se, dest_se FROM transfer_files WHERE job_id = $1 ORDER BY source_se, dest_se`, jobID)
	if err != nil {
		return nil, fmt.Errorf("store: pairs of transfer %s: %w", jobID, err)
	}
	defer rows.Close()
	var pairs [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
	return pairs, rows.Err()
}

// ClaimTransferFiles gives up to n SUBMITTED files of job a slot of their
// pair and marks them ACTIVE. A pair gives no more slots than its limit
// minus its active files, and none while a job of higher priority has files
// waiting on it. A multihop job gets its next hop only, once the previous
// one finished. pairs are the job's (TransferJobPairs; nil reads them).
// Each step is an index seek or a walk of at most n rows, so a claim costs
// the same in a job of ten files as in one of ten thousand.
func (s *Store) ClaimTransferFiles(ctx context.Context, jobID string, n int, start int, pairs [][2]string) ([]TransferFile, error) {
	if pairs == nil {
		var err error
		if pairs, err = s.TransferJobPairs(ctx, jobID); err != nil {
			return nil, err
		}
	}
	var out []TransferFile
	err := s.withTransferLock(ctx, func(tx *sql.Tx) error {
		now := s.ts(s.now())
		var prio, multihop int
		var state string
		err := tx.QueryRowContext(ctx, `SELECT priority, multihop, state FROM transfer_jobs WHERE id = $1`, jobID).Scan(&prio, &multihop, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: transfer %s: %w", jobID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: transfer %s: %w", jobID, err)
		}
		if IsTransferFinal(state) {
			return nil
		}
		if multihop != 0 {
			var busy int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM transfer_files WHERE job_id = $1 AND state = $2`, jobID, TransferActive).Scan(&busy); err != nil {
				return err
			}
			if busy > 0 {
				return nil
			}
			n = 1
		}
		for _, p := range pairs {
			if len(out) >= n {
				break
			}
			limit, _, err := s.pairLimit(ctx, tx, p[0], p[1], start)
			if err != nil {
				return err
			}
			var active int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM transfer_files WHERE source_se = $1 AND dest_se = $2 AND state = $3`, p[0], p[1], TransferActive).Scan(&active); err != nil {
				return fmt.Errorf("store: active files of a pair: %w", err)
			}
			free := min(limit-active, n-len(out))
			if free <= 0 {
				continue
			}
			var higher int
			err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM transfer_files
				WHERE source_se = $1 AND dest_se = $2 AND state = $3 AND priority > $4 AND (not_before IS NULL OR not_before <= $5) LIMIT 1) h`,
				p[0], p[1], TransferSubmitted, prio, now).Scan(&higher)
			if err != nil {
				return fmt.Errorf("store: waiting files of higher priority: %w", err)
			}
			if higher > 0 {
				continue
			}
			claimed, err := s.queryTransferFiles(ctx, tx, `UPDATE transfer_files SET state = '`+TransferActive+`', started_at = $2, updated_at = $2, bytes = 0, finished_at = NULL
				WHERE job_id = $1 AND file_index IN (SELECT file_index FROM transfer_files
					WHERE job_id = $1 AND state = '`+TransferSubmitted+`' AND source_se = $3 AND dest_se = $4 AND (not_before IS NULL OR not_before <= $2)
					ORDER BY file_index LIMIT $5)
				RETURNING `+tfColumns, jobID, now, p[0], p[1], free)
			if err != nil {
				return fmt.Errorf("store: claim files of transfer %s: %w", jobID, err)
			}
			out = append(out, claimed...)
		}
		if len(out) > 0 && state == TransferSubmitted {
			if _, err := tx.ExecContext(ctx, `UPDATE transfer_jobs SET state = $1, updated_at = $2 WHERE id = $3`, TransferActive, now, jobID); err != nil {
				return fmt.Errorf("store: transfer %s state: %w", jobID, err)
			}
		}
		return nil
	})
	for i := range out {
		out[i].JobID = jobID
	}
	return out, err
}

// pairLimit returns a pair's limit and smoothed throughput, creating the
// pair with limit start when it is new.
func (s *Store) pairLimit(ctx context.Context, tx *sql.Tx, src, dst string, start int) (int, float64, error) {
	var limit int
	var ema float64
	err := tx.QueryRowContext(ctx, `SELECT max_active, ema FROM transfer_pairs WHERE source_se = $1 AND dest_se = $2`, src, dst).Scan(&limit, &ema)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, `INSERT INTO transfer_pairs (source_se, dest_se, max_active, ema, updated_at) VALUES ($1, $2, $3, 0, $4)`, src, dst, start, s.ts(s.now()))
		return start, 0, err
	}
	return limit, ema, err
}

// ResetActiveTransferFiles puts the ACTIVE files of a job back to SUBMITTED
// and returns their indexes: an attempt of the copy activity that died left
// them, and the next attempt copies them again (temporary files included).
func (s *Store) ResetActiveTransferFiles(ctx context.Context, jobID string) ([]int, error) {
	var idx []int
	err := s.withTransferLock(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE transfer_files SET state = $1, bytes = 0, updated_at = $2 WHERE job_id = $3 AND state = $4 RETURNING file_index`,
			TransferSubmitted, s.ts(s.now()), jobID, TransferActive)
		if err != nil {
			return fmt.Errorf("store: reset files of transfer %s: %w", jobID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var i int
			if err := rows.Scan(&i); err != nil {
				return err
			}
			idx = append(idx, i)
		}
		return rows.Err()
	})
	return idx, err
}

// SetTransferProgress records the bytes copied so far of active files.
func (s *Store) SetTransferProgress(ctx context.Context, jobID string, bytes map[int]int64) error {
	if len(bytes) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.ts(s.now())
		for i, b := range bytes {
			if _, err := tx.ExecContext(ctx, `UPDATE transfer_files SET bytes = $1, updated_at = $2 WHERE job_id = $3 AND file_index = $4 AND state = $5`,
				b, now, jobID, i, TransferActive); err != nil {
				return fmt.Errorf("store: progress of transfer %s: %w", jobID, err)
			}
		}
		return nil
	})
}

// FileOutcome is how a copy ended.
type FileOutcome struct {
	// State is FINISHED, FAILED, CANCELED, or SUBMITTED for a retry.
	State  string
	Reason string
	// RetryAt holds a retried file back until then.
	RetryAt                      time.Time
	Bytes                        int64
	SourceUsed                   string
	SourceChecksum, DestChecksum string
	Throughput                   float64
}

// FinishTransferFile records the outcome of an ACTIVE file's copy. A file
// that is no longer ACTIVE (a job canceled meanwhile) keeps its state,
// except that a copy finished before the cancel counts as FINISHED.
func (s *Store) FinishTransferFile(ctx context.Context, jobID string, index int, o FileOutcome) error {
	now := s.ts(s.now())
	var q string
	args := []any{o.State, o.Reason, o.Bytes, o.SourceUsed, o.SourceChecksum, o.DestChecksum, o.Throughput, now, jobID, index}
	switch o.State {
	case TransferSubmitted:
		args = append(args, s.ts(o.RetryAt))
		q = `UPDATE transfer_files SET state = $1, reason = $2, bytes = $3, source_used = $4, source_checksum = $5, dest_checksum = $6, throughput = $7,
			updated_at = $8, retries = retries + 1, not_before = $11, started_at = NULL WHERE job_id = $9 AND file_index = $10 AND state = 'ACTIVE'`
	default:
		q = `UPDATE transfer_files SET state = $1, reason = $2, bytes = $3, source_used = $4, source_checksum = $5, dest_checksum = $6, throughput = $7,
			updated_at = $8, finished_at = $8 WHERE job_id = $9 AND file_index = $10 AND state = 'ACTIVE'`
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("store: outcome of file %d of transfer %s: %w", index, jobID, err)
	}
	return nil
}

// CancelTransferFiles cancels the files of a job that are not final and not
// being copied (the copies stop on their own), with reason, and returns how
// many it canceled. With fromIndex > 0 only the files from that index on.
func (s *Store) CancelTransferFiles(ctx context.Context, jobID, reason string, fromIndex int) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = $2, updated_at = $3, finished_at = $3
		WHERE job_id = $4 AND state IN ($5, $6) AND file_index >= $7`,
		TransferCanceled, reason, s.ts(s.now()), jobID, TransferSubmitted, TransferOnHold, fromIndex)
	if err != nil {
		return 0, fmt.Errorf("store: cancel files of transfer %s: %w", jobID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// CancelRemainingTransferFiles cancels every file of a job that did not
// end, the ones being copied included, and the job itself: its workflow was
// canceled and its copies have stopped.
func (s *Store) CancelRemainingTransferFiles(ctx context.Context, jobID, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = $2, updated_at = $3, finished_at = $3
		WHERE job_id = $4 AND state IN ($5, $6, $7)`,
		TransferCanceled, reason, s.ts(s.now()), jobID, TransferSubmitted, TransferOnHold, TransferActive)
	if err != nil {
		return fmt.Errorf("store: cancel files of transfer %s: %w", jobID, err)
	}
	if err := s.SetTransferJobState(ctx, jobID, TransferCanceled, reason); err != nil && !errors.Is(err, ErrFinal) {
		return err
	}
	return nil
}

// SetTransferJobState moves a job to state. A final state stays: trying
// to leave it returns ErrFinal.
func (s *Store) SetTransferJobState(ctx context.Context, id, state, reason string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT state FROM transfer_jobs WHERE id = $1`, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: transfer %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: transfer %s: %w", id, err)
		}
		if cur == state {
			return nil
		}
		if IsTransferFinal(cur) {
			return fmt.Errorf("store: transfer %s is %s: %w", id, cur, ErrFinal)
		}
		now := norm(s.now())
		var fin *time.Time
		if IsTransferFinal(state) {
			fin = &now
		}
		_, err = tx.ExecContext(ctx, `UPDATE transfer_jobs SET state = $1, reason = $2, updated_at = $3, finished_at = $4 WHERE id = $5`,
			state, reason, s.ts(now), s.tsOpt(fin), id)
		return err
	})
}

// TransferCounts returns the number of a job's files per state.
func (s *Store) TransferCounts(ctx context.Context, id string) (map[string]int, error) {
	c, err := s.transferCounts(ctx, s.db, []string{id})
	return c[id], err
}

// --- bans -------------------------------------------------------------------

// Ban kinds and storage ban modes.
const (
	BanStorage = "storage"
	BanUser    = "user"
	BanCancel  = "CANCEL" // queued files are canceled, new ones refused
	BanWait    = "WAIT"   // queued files are held until the unban
)

// Ban keeps a storage element or a user out of transfers.
type Ban struct {
	Kind, Subject, Mode, Message, By string
	CreatedAt                        time.Time
}

// AddBan records a ban and applies it to the queued files: canceled for a
// user or a CANCEL ban, held for a WAIT ban. It returns the files touched.
func (s *Store) AddBan(ctx context.Context, b Ban) (int, error) {
	var n int64
	err := s.withTransferLock(ctx, func(tx *sql.Tx) error {
		now := s.ts(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO transfer_bans (kind, subject, mode, message, banned_by, created_at) VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (kind, subject) DO UPDATE SET mode = excluded.mode, message = excluded.message, banned_by = excluded.banned_by, created_at = excluded.created_at`,
			b.Kind, b.Subject, b.Mode, b.Message, b.By, now); err != nil {
			return fmt.Errorf("store: ban %s %s: %w", b.Kind, b.Subject, err)
		}
		var res sql.Result
		var err error
		switch {
		case b.Kind == BanUser:
			res, err = tx.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = $2, updated_at = $3, finished_at = $3
				WHERE state IN ($4, $5) AND job_id IN (SELECT id FROM transfer_jobs WHERE owner = $6)`,
				TransferCanceled, "user "+b.Subject+" is banned", now, TransferSubmitted, TransferOnHold, b.Subject)
		case b.Mode == BanWait:
			res, err = tx.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = $2, updated_at = $3
				WHERE state = $4 AND (source_se = $5 OR dest_se = $5)`,
				TransferOnHold, "storage "+b.Subject+" is banned (WAIT): held until it is unbanned", now, TransferSubmitted, b.Subject)
		default:
			res, err = tx.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = $2, updated_at = $3, finished_at = $3
				WHERE state IN ($4, $5) AND (source_se = $6 OR dest_se = $6)`,
				TransferCanceled, "storage "+b.Subject+" is banned", now, TransferSubmitted, TransferOnHold, b.Subject)
		}
		if err != nil {
			return fmt.Errorf("store: apply ban of %s: %w", b.Subject, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// RemoveBan lifts a ban; files a storage ban held go back to the queue
// unless another ban still holds them. A ban that is not there is
// ErrNotFound.
func (s *Store) RemoveBan(ctx context.Context, kind, subject string) (int, error) {
	var n int64
	err := s.withTransferLock(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM transfer_bans WHERE kind = $1 AND subject = $2`, kind, subject)
		if err != nil {
			return fmt.Errorf("store: unban %s: %w", subject, err)
		}
		if err := affected(res, ErrNotFound); err != nil {
			return fmt.Errorf("store: %s %s is not banned: %w", kind, subject, err)
		}
		if kind != BanStorage {
			return nil
		}
		res, err = tx.ExecContext(ctx, `UPDATE transfer_files SET state = $1, reason = '', updated_at = $2
			WHERE state = $3 AND (source_se = $4 OR dest_se = $4)
			AND NOT EXISTS (SELECT 1 FROM transfer_bans b WHERE b.kind = 'storage' AND b.subject IN (transfer_files.source_se, transfer_files.dest_se))`,
			TransferSubmitted, s.ts(s.now()), TransferOnHold, subject)
		if err != nil {
			return fmt.Errorf("store: release files held by %s: %w", subject, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// ListBans returns the bans of a kind ("" for all).
func (s *Store) ListBans(ctx context.Context, kind string) ([]Ban, error) {
	q, args := `SELECT kind, subject, mode, message, banned_by, created_at FROM transfer_bans`, []any{}
	if kind != "" {
		q, args = q+` WHERE kind = $1`, append(args, kind)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY kind, subject`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list bans: %w", err)
	}
	defer rows.Close()
	var out []Ban
	for rows.Next() {
		var b Ban
		if err := rows.Scan(&b.Kind, &b.Subject, &b.Mode, &b.Message, &b.By, timeCol{&b.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// --- pairs and the optimizer ----------------------------------------------

// PairStatus is what FTS3 shows of a pair: its limit, its files, and how
// the last hour went.
type PairStatus struct {
	SourceSE, DestSE  string
	MaxActive         int
	EMA               float64
	Active, Submitted int
	// Finished and Failed count the last hour; AvgThroughput (bytes per
	// second) and SuccessRatio are over it too, nil without data.
	Finished, Failed int
	AvgThroughput    *float64
	SuccessRatio     *float64
	UpdatedAt        time.Time
}

// PairStatuses returns the pairs that match (empty: any), known to the
// optimizer or seen in files.
func (s *Store) PairStatuses(ctx context.Context, source, dest string, window time.Duration) ([]PairStatus, error) {
	since := s.ts(s.now().Add(-window))
	rows, err := s.db.QueryContext(ctx, `SELECT p.source_se, p.dest_se, p.max_active, p.ema, p.updated_at,
		(SELECT COUNT(*) FROM transfer_files f WHERE f.source_se = p.source_se AND f.dest_se = p.dest_se AND f.state = 'ACTIVE'),
		(SELECT COUNT(*) FROM transfer_files f WHERE f.source_se = p.source_se AND f.dest_se = p.dest_se AND f.state = 'SUBMITTED'),
		(SELECT COUNT(*) FROM transfer_files f WHERE f.source_se = p.source_se AND f.dest_se = p.dest_se AND f.state = 'FINISHED' AND f.finished_at >= $3),
		(SELECT COUNT(*) FROM transfer_files f WHERE f.source_se = p.source_se AND f.dest_se = p.dest_se AND f.state = 'FAILED' AND f.finished_at >= $3),
		(SELECT AVG(f.throughput) FROM transfer_files f WHERE f.source_se = p.source_se AND f.dest_se = p.dest_se AND f.state = 'FINISHED' AND f.finished_at >= $3)
		FROM transfer_pairs p WHERE ($1 = '' OR p.source_se = $1) AND ($2 = '' OR p.dest_se = $2) ORDER BY p.source_se, p.dest_se`, source, dest, since)
	if err != nil {
		return nil, fmt.Errorf("store: pair status: %w", err)
	}
	defer rows.Close()
	var out []PairStatus
	for rows.Next() {
		var p PairStatus
		var avg sql.NullFloat64
		if err := rows.Scan(&p.SourceSE, &p.DestSE, &p.MaxActive, &p.EMA, timeCol{&p.UpdatedAt}, &p.Active, &p.Submitted, &p.Finished, &p.Failed, &avg); err != nil {
			return nil, err
		}
		if avg.Valid {
			p.AvgThroughput = &avg.Float64
		}
		if done := p.Finished + p.Failed; done > 0 {
			r := float64(p.Finished) / float64(done)
			p.SuccessRatio = &r
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// OptimizerRecord is one decision of the optimizer evolution.
type OptimizerRecord struct {
	ID                          int64
	SourceSE, DestSE            string
	At                          time.Time
	Active                      int
	EMA, Throughput, Success    float64
	ActualActive, QueueSize     int
	FileSizeAvg, FileSizeStddev float64
	Rationale                   string
	Manual                      bool
}

func (s *Store) insertEvolution(ctx context.Context, tx *sql.Tx, r OptimizerRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO optimizer_evolution (source_se, dest_se, at, active, ema, throughput, success, actual_active, queue_size, filesize_avg, filesize_stddev, rationale, manual)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		r.SourceSE, r.DestSE, s.ts(r.At), r.Active, r.EMA, r.Throughput, r.Success, r.ActualActive, r.QueueSize, r.FileSizeAvg, r.FileSizeStddev, r.Rationale, boolInt(r.Manual))
	if err != nil {
		return fmt.Errorf("store: optimizer evolution: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO transfer_pairs (source_se, dest_se, max_active, ema, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (source_se, dest_se) DO UPDATE SET max_active = excluded.max_active, ema = excluded.ema, updated_at = excluded.updated_at`,
		r.SourceSE, r.DestSE, r.Active, r.EMA, s.ts(r.At))
	if err != nil {
		return fmt.Errorf("store: optimizer values: %w", err)
	}
	return nil
}

// SetOptimizerValues sets a pair's limit (and smoothed throughput) by hand,
// kept in the evolution with the rationale given.
func (s *Store) SetOptimizerValues(ctx context.Context, r OptimizerRecord) error {
	r.At, r.Manual = norm(s.now()), true
	return s.withTransferLock(ctx, func(tx *sql.Tx) error { return s.insertEvolution(ctx, tx, r) })
}

// PairWindow is what happened on a pair since its last decision; the
// optimizer turns it into the next one.
type PairWindow struct {
	Active, EMA                 float64
	Since                       time.Time
	Finished, Failed            int
	Bytes                       int64
	ActualActive, Queued        int
	FileSizeAvg, FileSizeStddev float64
}

// OptimizePair makes a pair's next decision when its last one is older
// than interval: decide gets the pair's window and returns the record to
// keep (its Active becomes the limit). It reports whether it decided.
func (s *Store) OptimizePair(ctx context.Context, src, dst string, interval time.Duration, start int, decide func(PairWindow) OptimizerRecord) (bool, error) {
	decided := false
	err := s.withTransferLock(ctx, func(tx *sql.Tx) error {
		now := norm(s.now())
		var w PairWindow
		var limit int
		err := tx.QueryRowContext(ctx, `SELECT max_active, ema, updated_at FROM transfer_pairs WHERE source_se = $1 AND dest_se = $2`, src, dst).Scan(&limit, &w.EMA, timeCol{&w.Since})
		if errors.Is(err, sql.ErrNoRows) {
			limit, w.Since = start, now
			_, err = tx.ExecContext(ctx, `INSERT INTO transfer_pairs (source_se, dest_se, max_active, ema, updated_at) VALUES ($1, $2, $3, 0, $4)`, src, dst, start, s.ts(now))
			if err != nil {
				return err
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: pair %s → %s: %w", src, dst, err)
		}
		if now.Sub(w.Since) < interval {
			return nil
		}
		w.Active = float64(limit)
		since := s.ts(w.Since)
		var sum, sumSq sql.NullFloat64
		err = tx.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state = 'FINISHED' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'FAILED' THEN 1 ELSE 0 END), 0),
			SUM(CASE WHEN state = 'FINISHED' THEN bytes * 1.0 ELSE 0 END),
			SUM(CASE WHEN state = 'FINISHED' THEN bytes * 1.0 * bytes ELSE 0 END)
			FROM transfer_files WHERE source_se = $1 AND dest_se = $2 AND state IN ('FINISHED', 'FAILED') AND finished_at > $3`,
			src, dst, since).Scan(&w.Finished, &w.Failed, &sum, &sumSq)
		if err != nil {
			return fmt.Errorf("store: window of pair %s → %s: %w", src, dst, err)
		}
		w.Bytes = int64(sum.Float64)
		if w.Finished > 0 {
			n := float64(w.Finished)
			w.FileSizeAvg = sum.Float64 / n
			w.FileSizeStddev = math.Sqrt(max(0, sumSq.Float64/n-w.FileSizeAvg*w.FileSizeAvg))
		}
		err = tx.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state = 'ACTIVE' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'SUBMITTED' THEN 1 ELSE 0 END), 0)
			FROM transfer_files WHERE source_se = $1 AND dest_se = $2 AND state IN ('ACTIVE', 'SUBMITTED')`, src, dst).Scan(&w.ActualActive, &w.Queued)
		if err != nil {
			return fmt.Errorf("store: queue of pair %s → %s: %w", src, dst, err)
		}
		r := decide(w)
		r.SourceSE, r.DestSE, r.At = src, dst, now
		decided = true
		return s.insertEvolution(ctx, tx, r)
	})
	return decided, err
}

// OptimizerEvolution returns the newest decisions on the pairs that match
// (empty: any), newest first.
func (s *Store) OptimizerEvolution(ctx context.Context, src, dst string, offset, limit int) ([]OptimizerRecord, int, error) {
	cond := ` WHERE ($1 = '' OR source_se = $1) AND ($2 = '' OR dest_se = $2)`
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM optimizer_evolution`+cond, src, dst).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count optimizer evolution: %w", err)
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, source_se, dest_se, at, active, ema, throughput, success, actual_active, queue_size, filesize_avg, filesize_stddev, rationale, manual
		FROM optimizer_evolution`+cond+` ORDER BY id DESC LIMIT $3 OFFSET $4`, src, dst, limit, max(offset, 0))
	if err != nil {
		return nil, 0, fmt.Errorf("store: optimizer evolution: %w", err)
	}
	defer rows.Close()
	var out []OptimizerRecord
	for rows.Next() {
		var r OptimizerRecord
		var manual int
		if err := rows.Scan(&r.ID, &r.SourceSE, &r.DestSE, timeCol{&r.At}, &r.Active, &r.EMA, &r.Throughput, &r.Success, &r.ActualActive, &r.QueueSize,
			&r.FileSizeAvg, &r.FileSizeStddev, &r.Rationale, &manual); err != nil {
			return nil, 0, err
		}
		r.Manual = manual != 0
		out = append(out, r)
	}
	return out, total, rows.Err()
}
