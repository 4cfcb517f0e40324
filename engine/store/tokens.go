package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// TokenPrefix starts every bearer token the store issues, so that a leaked
// one is recognisable (secret scanners, logs).
const TokenPrefix = "gft_"

// MinTokenLength is the shortest plaintext EnsureToken registers.
const MinTokenLength = 16

// LastUsedGranularity bounds how often LookupToken writes LastUsedAt: a
// token used constantly costs one write per interval, not one per request.
var LastUsedGranularity = time.Minute

// Token is a bearer token as stored: its plaintext is never kept, only its
// SHA-256. ExpiresAt is zero for a token that does not expire.
type Token struct {
	ID         string
	User       string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// tokenDigest is what the tokens table keeps of a plaintext token. A fast
// hash is right here: tokens are 256 random bits, not guessable passwords.
func tokenDigest(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// newTokenPlaintext returns "gft_" and 32 random bytes, base64url.
func newTokenPlaintext() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// CreateToken issues a bearer token for user. The plaintext is returned once
// and cannot be recovered. ttl <= 0 means no expiry.
func (s *Store) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, Token, error) {
	plaintext := newTokenPlaintext()
	tok := Token{ID: randomHex(12), User: user, Name: name, CreatedAt: norm(s.now())}
	if ttl > 0 {
		tok.ExpiresAt = tok.CreatedAt.Add(ttl)
	}
	if err := s.insertToken(ctx, tok, plaintext); err != nil {
		return "", Token{}, err
	}
	return plaintext, tok, nil
}

func (s *Store) insertToken(ctx context.Context, tok Token, plaintext string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO tokens (id, user_name, name, token_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		tok.ID, tok.User, tok.Name, tokenDigest(plaintext), s.ts(tok.CreatedAt), s.tsOpt(&tok.ExpiresAt))
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("store: token for user %q: user %q: %w", tok.User, tok.User, ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("store: token for user %q: %w", tok.User, ErrConflict)
	case err != nil:
		return fmt.Errorf("store: create token for user %q: %w", tok.User, err)
	}
	return nil
}

// EnsureToken registers a plaintext chosen elsewhere (the admin token given
// by a flag) as a non-expiring token of user. It is idempotent: if the
// token is already registered to user, that token is returned as it is
// (still revoked if it was revoked); if it belongs to another user the
// result is ErrConflict.
func (s *Store) EnsureToken(ctx context.Context, user, name, plaintext string) (Token, error) {
	if len(plaintext) < MinTokenLength {
		return Token{}, fmt.Errorf("store: token for user %q: at least %d characters are needed: %w", user, MinTokenLength, ErrInvalid)
	}
	tok := Token{ID: randomHex(12), User: user, Name: name, CreatedAt: norm(s.now())}
	err := s.insertToken(ctx, tok, plaintext)
	if err != nil && !errors.Is(err, ErrConflict) {
		return Token{}, err
	}
	got, err := s.tokenByDigest(ctx, tokenDigest(plaintext))
	if err != nil {
		return Token{}, err
	}
	if got.User != user {
		return Token{}, fmt.Errorf("store: token %s is registered to another user than %q: %w", got.ID, user, ErrConflict)
	}
	return got, nil
}

const tokenColumns = `id, user_name, name, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.User, &t.Name, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt},
		optTimeCol{&t.RevokedAt}, optTimeCol{&t.LastUsedAt})
	return t, err
}

func (s *Store) tokenByDigest(ctx context.Context, digest string) (Token, error) {
	tok, err := scanToken(s.db.QueryRowContext(ctx,
		`SELECT `+tokenColumns+` FROM tokens WHERE token_sha256 = $1`, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("store: token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: look up token: %w", err)
	}
	return tok, nil
}

// GetToken returns a token by id.
func (s *Store) GetToken(ctx context.Context, id string) (Token, error) {
	tok, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("store: token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: get token %s: %w", id, err)
	}
	return tok, nil
}

// LookupToken authenticates a bearer token at time now and returns it with
// its user. It fails with ErrNotFound for an unknown token, ErrTokenRevoked
// or ErrTokenExpired (revocation is checked first). It records now as
// LastUsedAt, at most once per LastUsedGranularity.
func (s *Store) LookupToken(ctx context.Context, plaintext string, now time.Time) (Token, User, error) {
	tok, err := s.tokenByDigest(ctx, tokenDigest(plaintext))
	if err != nil {
		return Token{}, User{}, err
	}
	now = norm(now)
	switch {
	case tok.RevokedAt != nil:
		return Token{}, User{}, fmt.Errorf("store: token %s of user %q: %w", tok.ID, tok.User, ErrTokenRevoked)
	case !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt):
		return Token{}, User{}, fmt.Errorf("store: token %s of user %q expired at %s: %w", tok.ID, tok.User, tok.ExpiresAt.Format(time.RFC3339), ErrTokenExpired)
	}
	u, err := s.GetUser(ctx, tok.User)
	if err != nil {
		return Token{}, User{}, err
	}
	if tok.LastUsedAt == nil || !tok.LastUsedAt.After(now.Add(-LastUsedGranularity)) {
		res, err := s.db.ExecContext(ctx,
			`UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)`,
			s.ts(now), tok.ID, s.ts(now.Add(-LastUsedGranularity)))
		if err != nil {
			return Token{}, User{}, fmt.Errorf("store: record use of token %s: %w", tok.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			tok.LastUsedAt = &now
		}
	}
	return tok, u, nil
}

// RevokeToken revokes a token; revoking it again is a no-op.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, s.ts(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	_, err = s.GetToken(ctx, id)
	return err
}

// ListTokens returns the tokens of user ("" for all), oldest first.
func (s *Store) ListTokens(ctx context.Context, user string) ([]Token, error) {
	query := `SELECT ` + tokenColumns + ` FROM tokens`
	var args []any
	if user != "" {
		query += ` WHERE user_name = $1`
		args = append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	toks := []Token{}
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		toks = append(toks, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return toks, nil
}

// DeleteExpiredTokens removes tokens that expired before the given time and
// reports how many. Revoked tokens are kept until they expire, so that
// using them still says "revoked".
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < $1`, s.ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired tokens: %w", err)
	}
	return int(n), nil
}
