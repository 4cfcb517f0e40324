package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ClientSecretPrefix starts every OAuth2 client secret the store issues.
const ClientSecretPrefix = "gfs_"

// Client is an OAuth2 client (client credentials grant) owned by a user;
// tokens it obtains act as that user.
type Client struct {
	ID        string
	User      string
	Name      string
	CreatedAt time.Time
}

// CreateClient registers a client for user and returns it with its secret,
// which is stored only as a bcrypt hash and cannot be recovered.
func (s *Store) CreateClient(ctx context.Context, user, name string) (Client, string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret := ClientSecretPrefix + base64.RawURLEncoding.EncodeToString(b)
	hash, err := hashSecret(secret)
	if err != nil {
		return Client{}, "", err
	}
	c := Client{ID: randomHex(12), User: user, Name: name, CreatedAt: norm(s.now())}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO oauth_clients (id, user_name, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.User, c.Name, hash, s.ts(c.CreatedAt))
	switch {
	case isForeignKeyViolation(err):
		return Client{}, "", fmt.Errorf("store: client for user %q: user %q: %w", user, user, ErrNotFound)
	case err != nil:
		return Client{}, "", fmt.Errorf("store: create client for user %q: %w", user, err)
	}
	return c, secret, nil
}

// CheckClient authenticates a client by id and secret and returns it with
// its user. An unknown client and a wrong secret both give
// ErrInvalidCredentials, in about the same time.
func (s *Store) CheckClient(ctx context.Context, id, secret string) (Client, User, error) {
	var (
		c    Client
		hash string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, user_name, name, created_at, secret_hash FROM oauth_clients WHERE id = $1`, id,
	).Scan(&c.ID, &c.User, &c.Name, timeCol{&c.CreatedAt}, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		dummyCompare(secret)
		return Client{}, User{}, fmt.Errorf("store: client %q: %w", id, ErrInvalidCredentials)
	}
	if err != nil {
		return Client{}, User{}, fmt.Errorf("store: get client %q: %w", id, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) != nil {
		return Client{}, User{}, fmt.Errorf("store: client %q: %w", id, ErrInvalidCredentials)
	}
	u, err := s.GetUser(ctx, c.User)
	if err != nil {
		return Client{}, User{}, err
	}
	return c, u, nil
}

// ListClients returns the clients of user ("" for all), oldest first.
func (s *Store) ListClients(ctx context.Context, user string) ([]Client, error) {
	query := `SELECT id, user_name, name, created_at FROM oauth_clients`
	var args []any
	if user != "" {
		query += ` WHERE user_name = $1`
		args = append(args, user)
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list clients: %w", err)
	}
	defer rows.Close()
	clients := []Client{}
	for rows.Next() {
		var c Client
		if err := rows.Scan(&c.ID, &c.User, &c.Name, timeCol{&c.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: list clients: %w", err)
		}
		clients = append(clients, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list clients: %w", err)
	}
	return clients, nil
}

// DeleteClient removes a client; tokens it already obtained are not touched.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete client %q: %w", id, err)
	}
	return affected(res, fmt.Errorf("store: client %q: %w", id, ErrNotFound))
}
