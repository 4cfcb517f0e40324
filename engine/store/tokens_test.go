package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dumpTable returns every value of every row of a table as text.
func dumpTable(t *testing.T, s *Store, table string) []string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "SELECT * FROM "+table)
	must(t, err, "dump "+table)
	defer rows.Close()
	cols, err := rows.Columns()
	must(t, err, "columns")
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...), "scan")
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out = append(out, fmt.Sprintf("%s=%v", cols[i], v))
		}
	}
	must(t, rows.Err(), "rows")
	return out
}

func newUsers(t *testing.T, s *Store, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := s.CreateUser(context.Background(), n, "", "password1", false)
		must(t, err, "CreateUser "+n)
	}
}

var tokenRE = regexp.MustCompile(`^gft_[A-Za-z0-9_-]{43}$`)

func TestTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		newUsers(t, s, "alice", "bob")

		plain, tok, err := s.CreateToken(ctx, "alice", "laptop", time.Hour)
		must(t, err, "CreateToken")
		if !tokenRE.MatchString(plain) {
			t.Fatalf("token %q does not look like gft_ + base64url(32 bytes)", plain)
		}
		if tok.ID == "" || tok.User != "alice" || tok.Name != "laptop" || tok.RevokedAt != nil || tok.LastUsedAt != nil {
			t.Fatalf("CreateToken = %+v", tok)
		}
		if !tok.ExpiresAt.Equal(tok.CreatedAt.Add(time.Hour)) {
			t.Errorf("ExpiresAt = %v, want CreatedAt %v + 1h", tok.ExpiresAt, tok.CreatedAt)
		}

		// Only the SHA-256 of the token is kept.
		sum := sha256.Sum256([]byte(plain))
		var digest string
		must(t, s.db.QueryRowContext(ctx, `SELECT token_sha256 FROM tokens WHERE id = $1`, tok.ID).Scan(&digest), "read digest")
		if digest != hex.EncodeToString(sum[:]) {
			t.Errorf("token_sha256 = %q, want sha256 of the token", digest)
		}
		for _, v := range dumpTable(t, s, "tokens") {
			if strings.Contains(v, plain) || strings.Contains(v, strings.TrimPrefix(plain, TokenPrefix)) {
				t.Fatalf("tokens table holds the plaintext token: %s", v)
			}
		}

		now := tok.CreatedAt.Add(time.Minute)
		got, u, err := s.LookupToken(ctx, plain, now)
		must(t, err, "LookupToken")
		if got.ID != tok.ID || u.Name != "alice" {
			t.Fatalf("LookupToken = %+v, %+v", got, u)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
			t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, now)
		}
		_, _, err = s.LookupToken(ctx, plain+"x", now)
		wantErr(t, err, ErrNotFound, "LookupToken unknown")
		_, _, err = s.LookupToken(ctx, "", now)
		wantErr(t, err, ErrNotFound, "LookupToken empty")

		// Expiry is exclusive of the expiry instant.
		_, _, err = s.LookupToken(ctx, plain, tok.ExpiresAt.Add(-time.Microsecond))
		must(t, err, "LookupToken just before expiry")
		_, _, err = s.LookupToken(ctx, plain, tok.ExpiresAt)
		wantErr(t, err, ErrTokenExpired, "LookupToken at expiry")
		_, _, err = s.LookupToken(ctx, plain, tok.ExpiresAt.Add(24*time.Hour))
		wantErr(t, err, ErrTokenExpired, "LookupToken after expiry")

		// No expiry.
		forever, ftok, err := s.CreateToken(ctx, "bob", "ci", 0)
		must(t, err, "CreateToken no expiry")
		if !ftok.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt = %v, want zero", ftok.ExpiresAt)
		}
		_, u, err = s.LookupToken(ctx, forever, time.Now().AddDate(100, 0, 0))
		must(t, err, "LookupToken far future")
		if u.Name != "bob" {
			t.Errorf("user = %q, want bob", u.Name)
		}

		// Revocation wins over validity, and is idempotent.
		must(t, s.RevokeToken(ctx, ftok.ID), "RevokeToken")
		must(t, s.RevokeToken(ctx, ftok.ID), "RevokeToken again")
		_, _, err = s.LookupToken(ctx, forever, time.Now())
		wantErr(t, err, ErrTokenRevoked, "LookupToken revoked")
		wantErr(t, s.RevokeToken(ctx, "nope"), ErrNotFound, "RevokeToken unknown")
		rt, err := s.GetToken(ctx, ftok.ID)
		must(t, err, "GetToken")
		if rt.RevokedAt == nil || rt.RevokedAt.IsZero() {
			t.Errorf("RevokedAt not set: %+v", rt)
		}

		_, _, err = s.CreateToken(ctx, "carol", "", time.Hour)
		wantErr(t, err, ErrNotFound, "CreateToken unknown user")

		all, err := s.ListTokens(ctx, "")
		must(t, err, "ListTokens all")
		if len(all) != 2 {
			t.Fatalf("ListTokens all = %d tokens, want 2", len(all))
		}
		mine, err := s.ListTokens(ctx, "alice")
		must(t, err, "ListTokens alice")
		if len(mine) != 1 || mine[0].ID != tok.ID || !mine[0].CreatedAt.Equal(tok.CreatedAt) || !mine[0].ExpiresAt.Equal(tok.ExpiresAt) {
			t.Errorf("ListTokens alice = %+v, want %+v", mine, tok)
		}
		none, err := s.ListTokens(ctx, "nobody")
		must(t, err, "ListTokens nobody")
		if none == nil || len(none) != 0 {
			t.Errorf("ListTokens nobody = %#v, want empty", none)
		}

		// Deleting a user deletes its tokens.
		must(t, s.DeleteUser(ctx, "bob"), "DeleteUser")
		_, _, err = s.LookupToken(ctx, forever, time.Now())
		wantErr(t, err, ErrNotFound, "LookupToken of a deleted user")
	})
}

func TestTokenLastUsedThrottled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		newUsers(t, s, "alice")
		plain, tok, err := s.CreateToken(ctx, "alice", "", 0)
		must(t, err, "CreateToken")
		t0 := tok.CreatedAt.Add(time.Second)
		_, _, err = s.LookupToken(ctx, plain, t0)
		must(t, err, "LookupToken")
		_, _, err = s.LookupToken(ctx, plain, t0.Add(LastUsedGranularity/2))
		must(t, err, "LookupToken soon after")
		stored, err := s.GetToken(ctx, tok.ID)
		must(t, err, "GetToken")
		if stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(t0) {
			t.Fatalf("LastUsedAt = %v, want %v (not rewritten within LastUsedGranularity)", stored.LastUsedAt, t0)
		}
		t1 := t0.Add(2 * LastUsedGranularity)
		_, _, err = s.LookupToken(ctx, plain, t1)
		must(t, err, "LookupToken later")
		stored, err = s.GetToken(ctx, tok.ID)
		must(t, err, "GetToken")
		if stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(t1) {
			t.Fatalf("LastUsedAt = %v, want %v", stored.LastUsedAt, t1)
		}
	})
}

func TestEnsureToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		newUsers(t, s, "admin", "bob")
		const plain = "gft_admin-token-from-a-flag-0123456789"
		tok, err := s.EnsureToken(ctx, "admin", "bootstrap", plain)
		must(t, err, "EnsureToken")
		again, err := s.EnsureToken(ctx, "admin", "bootstrap", plain)
		must(t, err, "EnsureToken again")
		if again.ID != tok.ID || !again.CreatedAt.Equal(tok.CreatedAt) {
			t.Errorf("EnsureToken is not idempotent: %+v then %+v", tok, again)
		}
		toks, err := s.ListTokens(ctx, "admin")
		must(t, err, "ListTokens")
		if len(toks) != 1 || !toks[0].ExpiresAt.IsZero() {
			t.Errorf("tokens after two EnsureToken = %+v", toks)
		}
		_, u, err := s.LookupToken(ctx, plain, time.Now())
		must(t, err, "LookupToken")
		if u.Name != "admin" {
			t.Errorf("user = %q", u.Name)
		}
		for _, v := range dumpTable(t, s, "tokens") {
			if strings.Contains(v, plain) {
				t.Fatalf("tokens table holds the plaintext token: %s", v)
			}
		}
		_, err = s.EnsureToken(ctx, "bob", "steal", plain)
		wantErr(t, err, ErrConflict, "EnsureToken of another user's token")
		_, err = s.EnsureToken(ctx, "admin", "", "short")
		wantErr(t, err, ErrInvalid, "EnsureToken short")
		_, err = s.EnsureToken(ctx, "carol", "", "another-long-token-value")
		wantErr(t, err, ErrNotFound, "EnsureToken unknown user")
	})
}

func TestDeleteExpiredTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		newUsers(t, s, "alice")
		_, short, err := s.CreateToken(ctx, "alice", "short", time.Minute)
		must(t, err, "CreateToken")
		_, long, err := s.CreateToken(ctx, "alice", "long", 48*time.Hour)
		must(t, err, "CreateToken")
		_, _, err = s.CreateToken(ctx, "alice", "forever", 0)
		must(t, err, "CreateToken")

		n, err := s.DeleteExpiredTokens(ctx, short.ExpiresAt)
		must(t, err, "DeleteExpiredTokens at the expiry instant")
		if n != 0 {
			t.Fatalf("deleted %d tokens expiring exactly at the cut-off, want 0", n)
		}
		n, err = s.DeleteExpiredTokens(ctx, short.CreatedAt.Add(24*time.Hour))
		must(t, err, "DeleteExpiredTokens")
		if n != 1 {
			t.Fatalf("deleted %d tokens, want 1", n)
		}
		_, err = s.GetToken(ctx, short.ID)
		wantErr(t, err, ErrNotFound, "GetToken deleted")
		n, err = s.DeleteExpiredTokens(ctx, long.ExpiresAt.Add(time.Microsecond))
		must(t, err, "DeleteExpiredTokens")
		if n != 1 {
			t.Fatalf("deleted %d tokens, want 1", n)
		}
		toks, err := s.ListTokens(ctx, "")
		must(t, err, "ListTokens")
		if len(toks) != 1 || toks[0].Name != "forever" {
			t.Errorf("tokens left = %+v, want the one without expiry", toks)
		}
	})
}
