package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/store"
)

// Principal is how the server sees the caller of a request.
type Principal struct {
	User        store.User
	AuthType    string // "basic" or "bearer"
	TokenID     string
	TokenExpiry time.Time
}

type principalKey struct{}

// caller returns the authenticated principal of a request; operations that run
// it are registered with security, so the middleware has set it.
func caller(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Security requirements shared by every protected operation.
var secured = []map[string][]string{{"basic": {}}, {"bearer": {}}, {"oauth2": {}}}

// authCache remembers recently verified credentials, keyed by a hash of the
// Authorization header, so that neither bcrypt (Basic) nor the token and user
// queries (Bearer) run on every request. Entries live briefly: a changed
// password, a revoked token or a new project membership takes effect on other
// replicas within authCacheTTL; on this replica revocation evicts at once.
type authCache struct {
	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	p     *Principal
	until time.Time
}

const authCacheTTL = 5 * time.Second

func (c *authCache) get(key [32]byte, now time.Time) *Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.p
}

func (c *authCache) put(key [32]byte, p *Principal, now time.Time) {
	until := now.Add(authCacheTTL)
	if !p.TokenExpiry.IsZero() && p.TokenExpiry.Before(until) {
		until = p.TokenExpiry // an expiring token is never served from cache past its expiry
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 10000 {
		clear(c.entries) // bounded: a flood of distinct credentials cannot grow it
	}
	c.entries[key] = authEntry{p, until}
}

// forget drops every cached principal (after a revocation or a user change).
func (c *authCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// authenticate resolves the Authorization header. It returns (nil, nil) when the
// request carries no credentials.
func (s *Server) authenticate(ctx context.Context, header string) (*Principal, error) {
	if header == "" {
		return nil, nil
	}
	now := time.Now()
	key := sha256.Sum256([]byte(header))
	if p := s.auth.get(key, now); p != nil {
		return p, nil
	}
	p, err := s.verify(ctx, header, now)
	if err != nil {
		return nil, err
	}
	s.auth.put(key, p, now)
	return p, nil
}

func (s *Server) verify(ctx context.Context, header string, now time.Time) (*Principal, error) {
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "bearer":
		tok, user, err := s.eng.Store.LookupToken(ctx, cred, now)
		if err != nil {
			return nil, err
		}
		return &Principal{User: user, AuthType: "bearer", TokenID: tok.ID, TokenExpiry: tok.ExpiresAt}, nil
	case "basic":
		r := http.Request{Header: http.Header{"Authorization": {header}}}
		name, pass, ok := r.BasicAuth()
		if !ok {
			return nil, store.ErrInvalidCredentials
		}
		u, err := s.eng.Store.CheckPassword(ctx, name, pass)
		if err != nil {
			return nil, err
		}
		return &Principal{User: u, AuthType: "basic"}, nil
	}
	return nil, store.ErrInvalidCredentials
}

// authMiddleware enforces the operation's security: 401 without valid
// credentials. Authorization (403) is decided by each operation.
func (s *Server) authMiddleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if op == nil || len(op.Security) == 0 {
			next(ctx)
			return
		}
		p, err := s.authenticate(ctx.Context(), ctx.Header("Authorization"))
		if p == nil {
			msg := "authentication required: send HTTP Basic credentials or a bearer token from POST /v1/oauth2/token"
			switch {
			case errors.Is(err, store.ErrTokenExpired):
				msg = "the bearer token has expired: get a new one from POST /v1/oauth2/token"
			case errors.Is(err, store.ErrTokenRevoked):
				msg = "the bearer token was revoked: get a new one from POST /v1/oauth2/token"
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidCredentials):
				msg = "invalid credentials: check the user name and password, or the bearer token"
			case err != nil:
				s.log.Error("authentication failed", "err", err)
				_ = huma.WriteErr(api, ctx, http.StatusServiceUnavailable, "cannot check credentials right now; retry shortly")
				return
			}
			ctx.SetHeader("WWW-Authenticate", `Basic realm="gridflow", Bearer realm="gridflow"`)
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, msg)
			return
		}
		ctx.SetHeader("X-Api-User", p.User.Name)
		ctx.SetHeader("X-Api-Auth-Type", p.AuthType)
		next(huma.WithValue(ctx, principalKey{}, p))
	}
}

// requireAdmin answers 403 unless the caller is an administrator.
func requireAdmin(ctx context.Context, action string) error {
	p := caller(ctx)
	if p == nil || !p.User.Admin {
		return huma.Error403Forbidden("only administrators may " + action)
	}
	return nil
}

// requireSelfOrAdmin answers 403 unless the caller is user or an administrator.
func requireSelfOrAdmin(ctx context.Context, user, action string) error {
	p := caller(ctx)
	if p != nil && (p.User.Admin || p.User.Name == user) {
		return nil
	}
	return huma.Error403Forbidden("you may " + action + " only for yourself (" + user + " is another user)")
}
