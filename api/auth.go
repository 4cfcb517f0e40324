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

// basicCache remembers recently verified Basic credentials so that a client
// sending Basic on every request does not pay a bcrypt per request. Entries are
// keyed by a hash of the credentials and live briefly, so a changed password
// takes effect within basicCacheTTL.
type basicCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time
}

const basicCacheTTL = 30 * time.Second

func (c *basicCache) ok(key [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, found := c.entries[key]
	return found && now.Before(exp)
}

func (c *basicCache) put(key [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 10000 {
		clear(c.entries) // bounded: a flood of distinct credentials cannot grow it
	}
	c.entries[key] = now.Add(basicCacheTTL)
}

// authenticate resolves the Authorization header. It returns (nil, nil) when the
// request carries no credentials.
func (s *Server) authenticate(ctx context.Context, header string) (*Principal, error) {
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	now := time.Now()
	switch strings.ToLower(scheme) {
	case "":
		return nil, nil
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
		key := sha256.Sum256([]byte(name + "\x00" + pass))
		if s.basic.ok(key, now) {
			u, err := s.eng.Store.GetUser(ctx, name)
			if err == nil {
				return &Principal{User: u, AuthType: "basic"}, nil
			}
		}
		u, err := s.eng.Store.CheckPassword(ctx, name, pass)
		if err != nil {
			return nil, err
		}
		s.basic.put(key, now)
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
