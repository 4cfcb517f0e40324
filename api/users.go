package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine/store"
)

// storeError maps store errors to problem responses a person can act on.
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.Is(err, store.ErrConflict):
		return huma.Error409Conflict(what + " already exists")
	case errors.Is(err, store.ErrInvalid):
		return huma.Error422UnprocessableEntity(err.Error())
	}
	return huma.Error500InternalServerError("store error on " + what + ": " + err.Error())
}

// UserItem is a user as the API shows it; never the password hash.
type UserItem struct {
	itemMedia
	UID       string    `json:"uid" example:"alice"`
	Type      string    `json:"type" example:"user"`
	Email     string    `json:"email,omitempty"`
	Admin     bool      `json:"admin"`
	Projects  []string  `json:"projects"`
	CreatedAt time.Time `json:"created_at"`
	Links     []Link    `json:"links"`
}

func userItem(ctx context.Context, u store.User) UserItem {
	projects := u.Projects
	if projects == nil {
		projects = []string{}
	}
	return UserItem{UID: u.Name, Type: "user", Email: u.Email, Admin: u.Admin, Projects: projects, CreatedAt: u.CreatedAt,
		Links: []Link{
			link(ctx, "self", "/users/"+u.Name, ItemType),
			link(ctx, "parent", "/users", CollectionType),
			link(ctx, "tokens", "/users/"+u.Name+"/tokens", CollectionType),
		}}
}

// WhoamiItem says how the server sees the caller.
type WhoamiItem struct {
	itemMedia
	UID         string     `json:"uid" doc:"User name" example:"alice"`
	Type        string     `json:"type" example:"whoami"`
	AuthType    string     `json:"auth_type" doc:"basic or bearer" example:"bearer"`
	Admin       bool       `json:"admin"`
	Roles       []string   `json:"roles" doc:"user, and admin for administrators"`
	Projects    []string   `json:"projects"`
	TokenID     string     `json:"token_id,omitempty"`
	TokenExpiry *time.Time `json:"token_expires_at,omitempty"`
	Links       []Link     `json:"links"`
}

type tokenRequest struct {
	ContentType   string `header:"Content-Type"`
	Authorization string `header:"Authorization"`
	RawBody       []byte `contentType:"application/x-www-form-urlencoded"`
}

// TokenResponse is the OAuth2 access token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type" example:"Bearer"`
	ExpiresIn   int64  `json:"expires_in" doc:"Seconds until the token expires"`
	Scope       string `json:"scope,omitempty"`
}

// Default and maximum lifetimes of tokens issued by the token endpoint.
const (
	defaultTokenTTL = time.Hour
	maxTokenTTL     = 30 * 24 * time.Hour
)

func (s *Server) registerAuth(api huma.API) {
	huma.Register(api, op("whoami", http.MethodGet, "/v1/whoami", "How the server sees the caller", "auth"),
		func(ctx context.Context, _ *struct{}) (*struct{ Body WhoamiItem }, error) {
			p := caller(ctx)
			roles := []string{"user"}
			if p.User.Admin {
				roles = append(roles, "admin")
			}
			projects := p.User.Projects
			if projects == nil {
				projects = []string{}
			}
			w := WhoamiItem{UID: p.User.Name, Type: "whoami", AuthType: p.AuthType, Admin: p.User.Admin, Roles: roles,
				Projects: projects, TokenID: p.TokenID,
				Links: []Link{link(ctx, "self", "/whoami", ItemType), link(ctx, "user", "/users/"+p.User.Name, ItemType)}}
			if !p.TokenExpiry.IsZero() {
				t := p.TokenExpiry
				w.TokenExpiry = &t
			}
			return &struct{ Body WhoamiItem }{w}, nil
		})

	tokenOp := public("oauth2-token", http.MethodPost, "/v1/oauth2/token", "Issue a bearer token (OAuth2 client credentials)", "auth")
	tokenOp.Description = "Form-encoded (`application/x-www-form-urlencoded`) or JSON: `grant_type=client_credentials`, " +
		"`client_id` and `client_secret` (or HTTP Basic with them), optional `expires_in` seconds (default 3600, max 30 days). " +
		"A user's name and password are accepted as client credentials too."
	huma.Register(api, tokenOp, func(ctx context.Context, in *tokenRequest) (*struct{ Body TokenResponse }, error) {
		form, err := parseTokenForm(in)
		if err != nil {
			return nil, err
		}
		if gt := form.Get("grant_type"); gt != "client_credentials" {
			return nil, huma.Error400BadRequest("unsupported_grant_type: grant_type must be client_credentials, got " + quote(gt))
		}
		id, secret := form.Get("client_id"), form.Get("client_secret")
		if id == "" {
			r := http.Request{Header: http.Header{"Authorization": {in.Authorization}}}
			id, secret, _ = r.BasicAuth()
		}
		if id == "" || secret == "" {
			return nil, huma.Error400BadRequest("invalid_request: send client_id and client_secret in the body or as HTTP Basic")
		}
		ttl := defaultTokenTTL
		if v := form.Get("expires_in"); v != "" {
			d, err := units.ParseDuration(v)
			if err != nil || d <= 0 || d > maxTokenTTL {
				return nil, huma.Error422UnprocessableEntity("expires_in must be a positive number of seconds up to 2592000 (30 days)")
			}
			ttl = d
		}
		var user string
		if _, u, err := s.eng.Store.CheckClient(ctx, id, secret); err == nil {
			user = u.Name
		} else if u, err2 := s.eng.Store.CheckPassword(ctx, id, secret); err2 == nil {
			user = u.Name
		} else {
			return nil, huma.Error401Unauthorized("invalid_client: unknown client or wrong secret")
		}
		plain, tok, err := s.eng.Store.CreateToken(ctx, user, "oauth2 client "+id, ttl)
		if err != nil {
			return nil, storeError(err, "token")
		}
		return &struct{ Body TokenResponse }{TokenResponse{AccessToken: plain, TokenType: "Bearer",
			ExpiresIn: int64(time.Until(tok.ExpiresAt).Round(time.Second).Seconds())}}, nil
	})
}

func quote(s string) string { return `"` + s + `"` }

func parseTokenForm(in *tokenRequest) (url.Values, error) {
	ct, _, _ := strings.Cut(in.ContentType, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "application/x-www-form-urlencoded", "":
		v, err := url.ParseQuery(string(in.RawBody))
		if err != nil {
			return nil, huma.Error400BadRequest("invalid_request: the form body is malformed: " + err.Error())
		}
		return v, nil
	case "application/json":
		var m map[string]any
		if err := huma.DefaultJSONFormat.Unmarshal(in.RawBody, &m); err != nil {
			return nil, huma.Error400BadRequest("invalid_request: the JSON body is malformed: " + err.Error())
		}
		v := url.Values{}
		for k, x := range m {
			switch t := x.(type) {
			case string:
				v.Set(k, t)
			case float64:
				v.Set(k, strconv.FormatFloat(t, 'f', -1, 64))
			}
		}
		return v, nil
	}
	return nil, huma.NewError(http.StatusUnsupportedMediaType, "send the token request as application/x-www-form-urlencoded or application/json, not "+in.ContentType)
}

// NewUser is the body of POST /v1/users.
type NewUser struct {
	Name     string   `json:"name" pattern:"^[a-z][a-z0-9_.-]{0,62}$" doc:"Login name" example:"alice"`
	Email    string   `json:"email,omitempty" format:"email" example:"alice@example.org"`
	Password string   `json:"password" minLength:"8" maxLength:"200" doc:"Stored as a bcrypt hash"`
	Admin    bool     `json:"admin,omitempty"`
	Projects []string `json:"projects,omitempty" doc:"Existing projects the user joins"`
}

// TokenItem describes a bearer token; the secret is shown only at creation.
type TokenItem struct {
	itemMedia
	UID       string     `json:"uid"`
	Type      string     `json:"type" example:"token"`
	User      string     `json:"user"`
	Name      string     `json:"name"`
	Token     string     `json:"token,omitempty" doc:"The bearer token itself: shown once, at creation"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Links     []Link     `json:"links"`
}

func tokenItem(ctx context.Context, t store.Token) TokenItem {
	it := TokenItem{UID: t.ID, Type: "token", User: t.User, Name: t.Name, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt,
		Links: []Link{link(ctx, "self", "/tokens/"+t.ID, ItemType), link(ctx, "parent", "/users/"+t.User+"/tokens", CollectionType)}}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		it.ExpiresAt = &e
	}
	return it
}

// ProjectItem is a project (a VO or DIRAC group): users who share resources.
type ProjectItem struct {
	itemMedia
	UID         string    `json:"uid" example:"hpc-lab"`
	Type        string    `json:"type" example:"project"`
	Description string    `json:"description,omitempty"`
	Members     []string  `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
	Links       []Link    `json:"links"`
}

func projectItem(ctx context.Context, p store.Project) ProjectItem {
	m := p.Members
	if m == nil {
		m = []string{}
	}
	return ProjectItem{UID: p.Name, Type: "project", Description: p.Description, Members: m, CreatedAt: p.CreatedAt,
		Links: []Link{link(ctx, "self", "/projects/"+p.Name, ItemType), link(ctx, "parent", "/projects", CollectionType)}}
}

type created[T any] struct {
	Location string `header:"Location"`
	Body     T
}

type UserPath struct {
	Name string `path:"name" doc:"User name"`
}

func (s *Server) registerUsers(api huma.API) {
	huma.Register(api, op("list-users", http.MethodGet, "/v1/users", "List users (administrators)", "users"),
		func(ctx context.Context, in *struct{ Paging }) (*struct{ Body Collection[UserItem] }, error) {
			if err := requireAdmin(ctx, "list users"); err != nil {
				return nil, err
			}
			us, err := s.eng.Store.ListUsers(ctx)
			if err != nil {
				return nil, storeError(err, "users")
			}
			items := make([]UserItem, len(us))
			for i, u := range us {
				items[i] = userItem(ctx, u)
			}
			return &struct{ Body Collection[UserItem] }{page(ctx, items, in.Paging, "/users", "", "")}, nil
		})
	createUser := op("create-user", http.MethodPost, "/v1/users", "Create a user (administrators)", "users")
	createUser.DefaultStatus = http.StatusCreated
	huma.Register(api, createUser, func(ctx context.Context, in *struct{ Body NewUser }) (*created[UserItem], error) {
		if err := requireAdmin(ctx, "create users"); err != nil {
			return nil, err
		}
		for _, p := range in.Body.Projects {
			if _, err := s.eng.Store.GetProject(ctx, p); err != nil {
				return nil, huma.Error422UnprocessableEntity("project " + quote(p) + " does not exist: create it first with POST /v1/projects")
			}
		}
		u, err := s.eng.Store.CreateUser(ctx, in.Body.Name, in.Body.Email, in.Body.Password, in.Body.Admin)
		if err != nil {
			return nil, storeError(err, "user "+quote(in.Body.Name))
		}
		for _, p := range in.Body.Projects {
			if err := s.eng.Store.AddMember(ctx, p, u.Name); err != nil {
				return nil, storeError(err, "project "+quote(p))
			}
		}
		if u, err = s.eng.Store.GetUser(ctx, u.Name); err != nil {
			return nil, storeError(err, "user")
		}
		return &created[UserItem]{Location: base(ctx) + "/users/" + u.Name, Body: userItem(ctx, u)}, nil
	})
	huma.Register(api, op("get-user", http.MethodGet, "/v1/users/{name}", "Get a user (themselves or administrators)", "users"),
		func(ctx context.Context, in *UserPath) (*struct{ Body UserItem }, error) {
			if err := requireSelfOrAdmin(ctx, in.Name, "read a user"); err != nil {
				return nil, err
			}
			u, err := s.eng.Store.GetUser(ctx, in.Name)
			if err != nil {
				return nil, storeError(err, "user "+quote(in.Name))
			}
			return &struct{ Body UserItem }{userItem(ctx, u)}, nil
		})
	delUser := op("delete-user", http.MethodDelete, "/v1/users/{name}", "Delete a user (administrators)", "users")
	delUser.DefaultStatus = http.StatusNoContent
	huma.Register(api, delUser, func(ctx context.Context, in *UserPath) (*struct{}, error) {
		if err := requireAdmin(ctx, "delete users"); err != nil {
			return nil, err
		}
		if caller(ctx).User.Name == in.Name {
			return nil, huma.Error409Conflict("you cannot delete yourself: ask another administrator")
		}
		defer s.auth.forget()
		return nil, storeError(s.eng.Store.DeleteUser(ctx, in.Name), "user "+quote(in.Name))
	})

	newToken := op("create-token", http.MethodPost, "/v1/users/{name}/tokens", "Create a bearer token for a user", "users")
	newToken.DefaultStatus = http.StatusCreated
	huma.Register(api, newToken, func(ctx context.Context, in *struct {
		UserPath
		Body struct {
			Name string `json:"name,omitempty" maxLength:"100" doc:"What the token is for" example:"laptop"`
			TTL  string `json:"ttl,omitempty" doc:"Lifetime, e.g. 24h or 01:00:00; empty means 30 days" example:"24h"`
		}
	}) (*created[TokenItem], error) {
		if err := requireSelfOrAdmin(ctx, in.Name, "create tokens"); err != nil {
			return nil, err
		}
		ttl := maxTokenTTL
		if in.Body.TTL != "" {
			d, err := units.ParseDuration(in.Body.TTL)
			if err != nil || d <= 0 || d > 365*24*time.Hour {
				return nil, huma.Error422UnprocessableEntity("ttl must be a positive duration up to one year, such as \"24h\"")
			}
			ttl = d
		}
		if _, err := s.eng.Store.GetUser(ctx, in.Name); err != nil {
			return nil, storeError(err, "user "+quote(in.Name))
		}
		plain, tok, err := s.eng.Store.CreateToken(ctx, in.Name, in.Body.Name, ttl)
		if err != nil {
			return nil, storeError(err, "token")
		}
		it := tokenItem(ctx, tok)
		it.Token = plain
		return &created[TokenItem]{Location: base(ctx) + "/tokens/" + tok.ID, Body: it}, nil
	})
	huma.Register(api, op("list-tokens", http.MethodGet, "/v1/users/{name}/tokens", "List a user's tokens", "users"),
		func(ctx context.Context, in *struct {
			UserPath
			Paging
		}) (*struct{ Body Collection[TokenItem] }, error) {
			if err := requireSelfOrAdmin(ctx, in.Name, "list tokens"); err != nil {
				return nil, err
			}
			// An administrator asking for a name that is no user gets a 404,
			// not an empty list that reads as "no tokens".
			if _, err := s.eng.Store.GetUser(ctx, in.Name); err != nil {
				return nil, storeError(err, "user "+quote(in.Name))
			}
			ts, err := s.eng.Store.ListTokens(ctx, in.Name)
			if err != nil {
				return nil, storeError(err, "tokens")
			}
			items := make([]TokenItem, len(ts))
			for i, t := range ts {
				items[i] = tokenItem(ctx, t)
			}
			return &struct{ Body Collection[TokenItem] }{page(ctx, items, in.Paging, "/users/"+in.Name+"/tokens", "/users/"+in.Name, "")}, nil
		})
	revoke := op("revoke-token", http.MethodDelete, "/v1/tokens/{id}", "Revoke a token (its owner or administrators)", "users")
	revoke.DefaultStatus = http.StatusNoContent
	huma.Register(api, revoke, func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*struct{}, error) {
		p := caller(ctx)
		if !p.User.Admin {
			ts, err := s.eng.Store.ListTokens(ctx, p.User.Name)
			if err != nil {
				return nil, storeError(err, "tokens")
			}
			own := false
			for _, t := range ts {
				own = own || t.ID == in.ID
			}
			if !own {
				// Same answer whether it exists or not: token ids of others are not disclosed.
				return nil, huma.Error404NotFound("token " + quote(in.ID) + " not found among your tokens")
			}
		}
		defer s.auth.forget()
		return nil, storeError(s.eng.Store.RevokeToken(ctx, in.ID), "token "+quote(in.ID))
	})
	newClient := op("create-client", http.MethodPost, "/v1/users/{name}/clients", "Register an OAuth2 client for a user", "users")
	newClient.DefaultStatus = http.StatusCreated
	huma.Register(api, newClient, func(ctx context.Context, in *struct {
		UserPath
		Body struct {
			Name string `json:"name,omitempty" maxLength:"100" example:"ci-pipeline"`
		}
	}) (*struct {
		Body struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret" doc:"Shown once"`
			User         string `json:"user"`
		}
	}, error) {
		if err := requireSelfOrAdmin(ctx, in.Name, "register clients"); err != nil {
			return nil, err
		}
		c, secret, err := s.eng.Store.CreateClient(ctx, in.Name, in.Body.Name)
		if err != nil {
			return nil, storeError(err, "client")
		}
		out := &struct {
			Body struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret" doc:"Shown once"`
				User         string `json:"user"`
			}
		}{}
		out.Body.ClientID, out.Body.ClientSecret, out.Body.User = c.ID, secret, c.User
		return out, nil
	})

	huma.Register(api, op("list-projects", http.MethodGet, "/v1/projects", "List projects (yours; all for administrators)", "users"),
		func(ctx context.Context, in *struct{ Paging }) (*struct{ Body Collection[ProjectItem] }, error) {
			ps, err := s.eng.Store.ListProjects(ctx)
			if err != nil {
				return nil, storeError(err, "projects")
			}
			p := caller(ctx)
			items := []ProjectItem{}
			for _, pr := range ps {
				if p.User.Admin || slices.Contains(pr.Members, p.User.Name) {
					items = append(items, projectItem(ctx, pr))
				}
			}
			return &struct{ Body Collection[ProjectItem] }{page(ctx, items, in.Paging, "/projects", "", "")}, nil
		})
	newProject := op("create-project", http.MethodPost, "/v1/projects", "Create a project (administrators)", "users")
	newProject.DefaultStatus = http.StatusCreated
	huma.Register(api, newProject, func(ctx context.Context, in *struct {
		Body struct {
			Name        string `json:"name" pattern:"^[a-z][a-z0-9_.-]{0,62}$" example:"hpc-lab"`
			Description string `json:"description,omitempty" maxLength:"1000"`
		}
	}) (*created[ProjectItem], error) {
		if err := requireAdmin(ctx, "create projects"); err != nil {
			return nil, err
		}
		p, err := s.eng.Store.CreateProject(ctx, in.Body.Name, in.Body.Description)
		if err != nil {
			return nil, storeError(err, "project "+quote(in.Body.Name))
		}
		return &created[ProjectItem]{Location: base(ctx) + "/projects/" + p.Name, Body: projectItem(ctx, p)}, nil
	})
	huma.Register(api, op("get-project", http.MethodGet, "/v1/projects/{name}", "Get a project (members or administrators)", "users"),
		func(ctx context.Context, in *struct {
			Name string `path:"name"`
		}) (*struct{ Body ProjectItem }, error) {
			pr, err := s.eng.Store.GetProject(ctx, in.Name)
			if err != nil {
				return nil, storeError(err, "project "+quote(in.Name))
			}
			if p := caller(ctx); !p.User.Admin && !slices.Contains(pr.Members, p.User.Name) {
				return nil, huma.Error403Forbidden("you are not a member of project " + quote(in.Name))
			}
			return &struct{ Body ProjectItem }{projectItem(ctx, pr)}, nil
		})
	addMember := op("add-project-member", http.MethodPost, "/v1/projects/{name}/members", "Add a user to a project (administrators)", "users")
	huma.Register(api, addMember, func(ctx context.Context, in *struct {
		Name string `path:"name"`
		Body struct {
			User string `json:"user" example:"alice"`
		}
	}) (*struct{ Body ProjectItem }, error) {
		if err := requireAdmin(ctx, "change project members"); err != nil {
			return nil, err
		}
		if _, err := s.eng.Store.GetUser(ctx, in.Body.User); err != nil {
			return nil, huma.Error422UnprocessableEntity("user " + quote(in.Body.User) + " does not exist")
		}
		defer s.auth.forget()
		if err := s.eng.Store.AddMember(ctx, in.Name, in.Body.User); err != nil {
			return nil, storeError(err, "project "+quote(in.Name))
		}
		pr, err := s.eng.Store.GetProject(ctx, in.Name)
		if err != nil {
			return nil, storeError(err, "project")
		}
		return &struct{ Body ProjectItem }{projectItem(ctx, pr)}, nil
	})
}
