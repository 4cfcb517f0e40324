package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BcryptCost is the bcrypt work factor for passwords and client secrets.
// Tests lower it to bcrypt.MinCost.
var BcryptCost = bcrypt.DefaultCost

// MinPasswordLength is the shortest password CreateUser and SetPassword
// accept. bcrypt itself caps passwords at 72 bytes.
const MinPasswordLength = 8

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)

// ValidName reports whether name is acceptable for a user or project: a
// lower-case letter, then up to 62 of [a-z0-9_.-].
func ValidName(name string) bool { return nameRE.MatchString(name) }

func checkName(kind, name string) error {
	if !ValidName(name) {
		return fmt.Errorf("store: %s name %q: must start with a lower-case letter followed by at most 62 of a-z, 0-9, '_', '.', '-': %w", kind, name, ErrInvalid)
	}
	return nil
}

func checkPassword(password string) error {
	switch {
	case len(password) < MinPasswordLength:
		return fmt.Errorf("store: password too short: at least %d characters are needed: %w", MinPasswordLength, ErrInvalid)
	case len(password) > 72:
		return fmt.Errorf("store: password too long: bcrypt uses at most 72 bytes: %w", ErrInvalid)
	}
	return nil
}

func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	at := strings.IndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") || strings.Count(email, "@") != 1 {
		return fmt.Errorf("store: email %q: want local@domain or empty: %w", email, ErrInvalid)
	}
	return nil
}

func hashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("store: hash secret: %w", err)
	}
	return string(h), nil
}

// dummyHashes holds, per cost, a hash that unknown users and clients are
// compared against, so that "no such user" takes as long as "wrong password".
var dummyHashes sync.Map // int -> []byte

func dummyCompare(secret string) {
	h, ok := dummyHashes.Load(BcryptCost)
	if !ok {
		b, err := bcrypt.GenerateFromPassword([]byte("gridflow-dummy-password"), BcryptCost)
		if err != nil {
			return
		}
		h, _ = dummyHashes.LoadOrStore(BcryptCost, b)
	}
	_ = bcrypt.CompareHashAndPassword(h.([]byte), []byte(secret))
}

// User is an account. Projects lists the projects it is a member of, sorted.
type User struct {
	Name      string
	Email     string
	Admin     bool
	Projects  []string
	CreatedAt time.Time
}

// CreateUser adds an account with a bcrypt-hashed password. It fails with
// ErrInvalid for a bad name, email or password and ErrConflict if the name
// is taken.
func (s *Store) CreateUser(ctx context.Context, name, email, password string, admin bool) (User, error) {
	if err := checkName("user", name); err != nil {
		return User{}, err
	}
	if err := checkEmail(email); err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash, err := hashSecret(password)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, Email: email, Admin: admin, Projects: []string{}, CreatedAt: norm(s.now())}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO users (name, email, password_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.Name, u.Email, hash, u.Admin, s.ts(u.CreatedAt))
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user %q: %w", name, err)
	}
	return u, nil
}

// GetUser returns a user with its projects.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, _, err := s.userWithHash(ctx, name)
	return u, err
}

func (s *Store) userWithHash(ctx context.Context, name string) (User, string, error) {
	var (
		u    User
		hash string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT name, email, password_hash, admin, created_at FROM users WHERE name = $1`, name,
	).Scan(&u.Name, &u.Email, &hash, &u.Admin, timeCol{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, "", fmt.Errorf("store: get user %q: %w", name, err)
	}
	u.Projects, err = s.column(ctx, `SELECT project FROM project_members WHERE user_name = $1 ORDER BY project`, name)
	if err != nil {
		return User{}, "", fmt.Errorf("store: projects of user %q: %w", name, err)
	}
	return u, hash, nil
}

// ListUsers returns all users sorted by name, with their projects.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, email, admin, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	byName := map[string]*User{}
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.Name, &u.Email, &u.Admin, timeCol{&u.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		u.Projects = []string{}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	for i := range users {
		byName[users[i].Name] = &users[i]
	}
	err = s.pairs(ctx, `SELECT user_name, project FROM project_members ORDER BY project`, func(user, project string) {
		if u := byName[user]; u != nil {
			u.Projects = append(u.Projects, project)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return users, nil
}

// DeleteUser removes a user with its memberships, tokens and clients.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", name, err)
	}
	return affected(res, fmt.Errorf("store: user %q: %w", name, ErrNotFound))
}

// SetPassword replaces a user's password.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := hashSecret(password)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE name = $2`, hash, name)
	if err != nil {
		return fmt.Errorf("store: set password of %q: %w", name, err)
	}
	return affected(res, fmt.Errorf("store: user %q: %w", name, ErrNotFound))
}

// CheckPassword authenticates a user. An unknown user and a wrong password
// both give ErrInvalidCredentials, in about the same time.
func (s *Store) CheckPassword(ctx context.Context, name, password string) (User, error) {
	u, hash, err := s.userWithHash(ctx, name)
	if errors.Is(err, ErrNotFound) {
		dummyCompare(password)
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrInvalidCredentials)
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrInvalidCredentials)
	}
	return u, nil
}

// Project groups users (like a VO or a DIRAC group). Members is sorted.
type Project struct {
	Name        string
	Description string
	Members     []string
	CreatedAt   time.Time
}

// CreateProject adds a project; ErrConflict if the name is taken.
func (s *Store) CreateProject(ctx context.Context, name, description string) (Project, error) {
	if err := checkName("project", name); err != nil {
		return Project{}, err
	}
	p := Project{Name: name, Description: description, Members: []string{}, CreatedAt: norm(s.now())}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO projects (name, description, created_at) VALUES ($1, $2, $3)`,
		p.Name, p.Description, s.ts(p.CreatedAt))
	if isUniqueViolation(err) {
		return Project{}, fmt.Errorf("store: project %q: %w", name, ErrConflict)
	}
	if err != nil {
		return Project{}, fmt.Errorf("store: create project %q: %w", name, err)
	}
	return p, nil
}

// GetProject returns a project with its members.
func (s *Store) GetProject(ctx context.Context, name string) (Project, error) {
	var p Project
	err := s.db.QueryRowContext(ctx,
		`SELECT name, description, created_at FROM projects WHERE name = $1`, name,
	).Scan(&p.Name, &p.Description, timeCol{&p.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, fmt.Errorf("store: project %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Project{}, fmt.Errorf("store: get project %q: %w", name, err)
	}
	p.Members, err = s.column(ctx, `SELECT user_name FROM project_members WHERE project = $1 ORDER BY user_name`, name)
	if err != nil {
		return Project{}, fmt.Errorf("store: members of project %q: %w", name, err)
	}
	return p, nil
}

// ListProjects returns all projects sorted by name, with their members.
func (s *Store) ListProjects(ctx context.Context) ([]Project, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, description, created_at FROM projects ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	defer rows.Close()
	projects := []Project{}
	for rows.Next() {
		var p Project
		if err := rows.Scan(&p.Name, &p.Description, timeCol{&p.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: list projects: %w", err)
		}
		p.Members = []string{}
		projects = append(projects, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	byName := map[string]*Project{}
	for i := range projects {
		byName[projects[i].Name] = &projects[i]
	}
	err = s.pairs(ctx, `SELECT project, user_name FROM project_members ORDER BY user_name`, func(project, user string) {
		if p := byName[project]; p != nil {
			p.Members = append(p.Members, user)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	return projects, nil
}

// DeleteProject removes a project and its memberships.
func (s *Store) DeleteProject(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM projects WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("store: delete project %q: %w", name, err)
	}
	return affected(res, fmt.Errorf("store: project %q: %w", name, ErrNotFound))
}

// AddMember makes user a member of project. It is idempotent; ErrNotFound
// names whichever of the two does not exist.
func (s *Store) AddMember(ctx context.Context, project, user string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO project_members (project, user_name, created_at) VALUES ($1, $2, $3) ON CONFLICT (project, user_name) DO NOTHING`,
		project, user, s.ts(s.now()))
	if isForeignKeyViolation(err) {
		if _, perr := s.GetProject(ctx, project); perr != nil {
			return perr
		}
		return fmt.Errorf("store: add %q to project %q: user %q: %w", user, project, user, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: add %q to project %q: %w", user, project, err)
	}
	return nil
}

// RemoveMember ends a membership; ErrNotFound if there is none.
func (s *Store) RemoveMember(ctx context.Context, project, user string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM project_members WHERE project = $1 AND user_name = $2`, project, user)
	if err != nil {
		return fmt.Errorf("store: remove %q from project %q: %w", user, project, err)
	}
	return affected(res, fmt.Errorf("store: %q is not a member of project %q: %w", user, project, ErrNotFound))
}

// column runs a query returning one text column.
func (s *Store) column(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// pairs runs a query returning two text columns.
func (s *Store) pairs(ctx context.Context, query string, fn func(a, b string)) error {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}
