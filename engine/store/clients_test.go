package store

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestClients(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		newUsers(t, s, "alice", "bob")
		c, secret, err := s.CreateClient(ctx, "alice", "pipeline")
		must(t, err, "CreateClient")
		if c.ID == "" || c.User != "alice" || c.Name != "pipeline" || c.CreatedAt.IsZero() {
			t.Fatalf("CreateClient = %+v", c)
		}
		if !strings.HasPrefix(secret, ClientSecretPrefix) || len(secret) < 40 {
			t.Fatalf("secret %q: want %s and 32 random bytes", secret, ClientSecretPrefix)
		}

		// Only a bcrypt hash of the secret is kept.
		var hash string
		must(t, s.db.QueryRowContext(ctx, `SELECT secret_hash FROM oauth_clients WHERE id = $1`, c.ID).Scan(&hash), "read hash")
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)); err != nil {
			t.Fatalf("secret_hash %q is not a bcrypt hash of the secret: %v", hash, err)
		}
		for _, v := range dumpTable(t, s, "oauth_clients") {
			if strings.Contains(v, strings.TrimPrefix(secret, ClientSecretPrefix)) {
				t.Fatalf("oauth_clients holds the plaintext secret: %s", v)
			}
		}

		got, u, err := s.CheckClient(ctx, c.ID, secret)
		must(t, err, "CheckClient")
		if got.ID != c.ID || !got.CreatedAt.Equal(c.CreatedAt) || u.Name != "alice" {
			t.Errorf("CheckClient = %+v, %+v", got, u)
		}
		for _, bad := range []struct{ id, secret string }{
			{c.ID, secret + "x"},
			{c.ID, ""},
			{"unknown", secret},
		} {
			_, _, err := s.CheckClient(ctx, bad.id, bad.secret)
			wantErr(t, err, ErrInvalidCredentials, "CheckClient("+bad.id+", "+bad.secret+")")
		}

		_, _, err = s.CreateClient(ctx, "carol", "")
		wantErr(t, err, ErrNotFound, "CreateClient unknown user")
		c2, _, err := s.CreateClient(ctx, "bob", "b")
		must(t, err, "CreateClient bob")
		all, err := s.ListClients(ctx, "")
		must(t, err, "ListClients")
		if len(all) != 2 {
			t.Errorf("ListClients = %+v", all)
		}
		bobs, err := s.ListClients(ctx, "bob")
		must(t, err, "ListClients bob")
		if len(bobs) != 1 || bobs[0].ID != c2.ID {
			t.Errorf("ListClients bob = %+v", bobs)
		}

		must(t, s.DeleteClient(ctx, c.ID), "DeleteClient")
		wantErr(t, s.DeleteClient(ctx, c.ID), ErrNotFound, "DeleteClient twice")
		_, _, err = s.CheckClient(ctx, c.ID, secret)
		wantErr(t, err, ErrInvalidCredentials, "CheckClient deleted")

		// Deleting a user deletes its clients.
		must(t, s.DeleteUser(ctx, "bob"), "DeleteUser")
		all, err = s.ListClients(ctx, "")
		must(t, err, "ListClients")
		if len(all) != 0 {
			t.Errorf("clients left = %+v", all)
		}
	})
}

func TestSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.GetSetting(ctx, "admin_token_id")
		wantErr(t, err, ErrNotFound, "GetSetting unset")
		must(t, s.SetSetting(ctx, "admin_token_id", "abc"), "SetSetting")
		must(t, s.SetSetting(ctx, "admin_token_id", "def"), "SetSetting replace")
		must(t, s.SetSetting(ctx, "empty", ""), "SetSetting empty value")
		v, err := s.GetSetting(ctx, "admin_token_id")
		must(t, err, "GetSetting")
		if v != "def" {
			t.Errorf("GetSetting = %q, want def", v)
		}
		v, err = s.GetSetting(ctx, "empty")
		must(t, err, "GetSetting empty")
		if v != "" {
			t.Errorf("GetSetting empty = %q", v)
		}
		wantErr(t, s.SetSetting(ctx, "", "x"), ErrInvalid, "SetSetting empty key")
		must(t, s.DeleteSetting(ctx, "empty"), "DeleteSetting")
		wantErr(t, s.DeleteSetting(ctx, "empty"), ErrNotFound, "DeleteSetting twice")
	})
}

func TestNodeStates(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		states, err := s.NodeStates(ctx)
		must(t, err, "NodeStates")
		if len(states) != 0 {
			t.Fatalf("NodeStates of a new store = %v", states)
		}
		must(t, s.SetNodeState(ctx, "grisou-1.nancy", "reserved", "job 42"), "SetNodeState")
		must(t, s.SetNodeState(ctx, "grisou-2.nancy", "down", "disk failure"), "SetNodeState")
		first, err := s.NodeStates(ctx)
		must(t, err, "NodeStates")
		must(t, s.SetNodeState(ctx, "grisou-1.nancy", "deploying", "deployment 7"), "SetNodeState update")
		states, err = s.NodeStates(ctx)
		must(t, err, "NodeStates")
		if len(states) != 2 {
			t.Fatalf("NodeStates = %v", states)
		}
		n1 := states["grisou-1.nancy"]
		if n1.Node != "grisou-1.nancy" || n1.State != "deploying" || n1.Reason != "deployment 7" {
			t.Errorf("grisou-1 = %+v", n1)
		}
		if n1.UpdatedAt.Before(first["grisou-1.nancy"].UpdatedAt) || n1.UpdatedAt.IsZero() {
			t.Errorf("UpdatedAt went back: %v then %v", first["grisou-1.nancy"].UpdatedAt, n1.UpdatedAt)
		}
		if st := states["grisou-2.nancy"]; st.State != "down" || st.Reason != "disk failure" {
			t.Errorf("grisou-2 = %+v", st)
		}
		if _, ok := states["grisou-3.nancy"]; ok {
			t.Error("a node never set has a state")
		}
		wantErr(t, s.SetNodeState(ctx, "", "down", ""), ErrInvalid, "SetNodeState no node")
		wantErr(t, s.SetNodeState(ctx, "n", "", ""), ErrInvalid, "SetNodeState no state")
	})
}
