package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestUsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		before := time.Now().Add(-time.Second)
		u, err := s.CreateUser(ctx, "alice", "alice@example.org", "correct horse", true)
		must(t, err, "CreateUser")
		if u.Name != "alice" || u.Email != "alice@example.org" || !u.Admin || len(u.Projects) != 0 {
			t.Fatalf("CreateUser = %+v", u)
		}
		if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now().Add(time.Second)) || u.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want about now, UTC", u.CreatedAt)
		}
		_, err = s.CreateUser(ctx, "alice", "", "another password", false)
		wantErr(t, err, ErrConflict, "CreateUser duplicate")
		_, err = s.CreateUser(ctx, "bob", "", "password2", false)
		must(t, err, "CreateUser bob")

		got, err := s.GetUser(ctx, "alice")
		must(t, err, "GetUser")
		if got.Name != u.Name || got.Email != u.Email || got.Admin != u.Admin || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Errorf("GetUser = %+v, want %+v", got, u)
		}
		_, err = s.GetUser(ctx, "carol")
		wantErr(t, err, ErrNotFound, "GetUser unknown")

		list, err := s.ListUsers(ctx)
		must(t, err, "ListUsers")
		if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" || list[1].Admin {
			t.Errorf("ListUsers = %+v", list)
		}

		must(t, s.DeleteUser(ctx, "bob"), "DeleteUser")
		wantErr(t, s.DeleteUser(ctx, "bob"), ErrNotFound, "DeleteUser twice")
		_, err = s.GetUser(ctx, "bob")
		wantErr(t, err, ErrNotFound, "GetUser deleted")
	})
}

func TestUserValidation(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, tc := range []struct{ name, email, password string }{
			{"", "", "password1"},
			{"Alice", "", "password1"},
			{"1alice", "", "password1"},
			{"al ice", "", "password1"},
			{"a" + strings.Repeat("b", 63), "", "password1"},
			{"alice", "not-an-email", "password1"},
			{"alice", "a@b@c", "password1"},
			{"alice", "", "short"},
			{"alice", "", strings.Repeat("x", 73)},
		} {
			_, err := s.CreateUser(ctx, tc.name, tc.email, tc.password, false)
			wantErr(t, err, ErrInvalid, "CreateUser("+tc.name+", "+tc.email+", "+tc.password+")")
		}
		for _, ok := range []string{"a", "a.b-c_d9", "a" + strings.Repeat("b", 62)} {
			_, err := s.CreateUser(ctx, ok, "", "password1", false)
			must(t, err, "CreateUser("+ok+")")
		}
		list, err := s.ListUsers(ctx)
		must(t, err, "ListUsers")
		if len(list) != 3 {
			t.Errorf("ListUsers after rejected creations = %d users, want 3", len(list))
		}
	})
}

func TestPasswords(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const pw = "correct horse battery"
		_, err := s.CreateUser(ctx, "alice", "", pw, false)
		must(t, err, "CreateUser")

		// The column holds a bcrypt hash of the password, never the password.
		var stored string
		must(t, s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = 'alice'`).Scan(&stored), "read hash")
		if strings.Contains(stored, pw) || !strings.HasPrefix(stored, "$2") {
			t.Fatalf("password_hash = %q, want a bcrypt hash", stored)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(stored), []byte(pw)); err != nil {
			t.Fatalf("stored hash does not match the password: %v", err)
		}
		if cost, _ := bcrypt.Cost([]byte(stored)); cost != BcryptCost {
			t.Errorf("bcrypt cost = %d, want BcryptCost %d", cost, BcryptCost)
		}

		u, err := s.CheckPassword(ctx, "alice", pw)
		must(t, err, "CheckPassword")
		if u.Name != "alice" {
			t.Errorf("CheckPassword user = %+v", u)
		}
		for _, bad := range []struct{ user, pw string }{
			{"alice", "wrong password"},
			{"alice", ""},
			{"alice", strings.ToUpper(pw)},
			{"nobody", pw},
		} {
			_, err := s.CheckPassword(ctx, bad.user, bad.pw)
			wantErr(t, err, ErrInvalidCredentials, "CheckPassword("+bad.user+", "+bad.pw+")")
		}

		must(t, s.SetPassword(ctx, "alice", "new password"), "SetPassword")
		_, err = s.CheckPassword(ctx, "alice", pw)
		wantErr(t, err, ErrInvalidCredentials, "old password after SetPassword")
		_, err = s.CheckPassword(ctx, "alice", "new password")
		must(t, err, "new password after SetPassword")
		wantErr(t, s.SetPassword(ctx, "alice", "short"), ErrInvalid, "SetPassword short")
		wantErr(t, s.SetPassword(ctx, "nobody", "long enough"), ErrNotFound, "SetPassword unknown user")
	})
}

func TestProjects(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, name := range []string{"alice", "bob"} {
			_, err := s.CreateUser(ctx, name, "", "password1", false)
			must(t, err, "CreateUser")
		}
		p, err := s.CreateProject(ctx, "physics", "particle runs")
		must(t, err, "CreateProject")
		if p.Name != "physics" || p.Description != "particle runs" || len(p.Members) != 0 || p.CreatedAt.IsZero() {
			t.Fatalf("CreateProject = %+v", p)
		}
		_, err = s.CreateProject(ctx, "physics", "")
		wantErr(t, err, ErrConflict, "CreateProject duplicate")
		_, err = s.CreateProject(ctx, "Bad Name", "")
		wantErr(t, err, ErrInvalid, "CreateProject bad name")
		_, err = s.CreateProject(ctx, "astro", "")
		must(t, err, "CreateProject astro")

		must(t, s.AddMember(ctx, "physics", "bob"), "AddMember")
		must(t, s.AddMember(ctx, "physics", "alice"), "AddMember")
		must(t, s.AddMember(ctx, "physics", "alice"), "AddMember again (idempotent)")
		must(t, s.AddMember(ctx, "astro", "alice"), "AddMember")
		err = s.AddMember(ctx, "physics", "carol")
		wantErr(t, err, ErrNotFound, "AddMember unknown user")
		if !strings.Contains(err.Error(), `"carol"`) {
			t.Errorf("AddMember unknown user error does not name the user: %v", err)
		}
		err = s.AddMember(ctx, "chemistry", "alice")
		wantErr(t, err, ErrNotFound, "AddMember unknown project")
		if !strings.Contains(err.Error(), `"chemistry"`) {
			t.Errorf("AddMember unknown project error does not name the project: %v", err)
		}

		got, err := s.GetProject(ctx, "physics")
		must(t, err, "GetProject")
		if !slices.Equal(got.Members, []string{"alice", "bob"}) || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Errorf("GetProject = %+v", got)
		}
		_, err = s.GetProject(ctx, "chemistry")
		wantErr(t, err, ErrNotFound, "GetProject unknown")
		u, err := s.GetUser(ctx, "alice")
		must(t, err, "GetUser")
		if !slices.Equal(u.Projects, []string{"astro", "physics"}) {
			t.Errorf("alice.Projects = %v", u.Projects)
		}
		users, err := s.ListUsers(ctx)
		must(t, err, "ListUsers")
		if !slices.Equal(users[0].Projects, []string{"astro", "physics"}) || !slices.Equal(users[1].Projects, []string{"physics"}) {
			t.Errorf("ListUsers projects = %v, %v", users[0].Projects, users[1].Projects)
		}
		projects, err := s.ListProjects(ctx)
		must(t, err, "ListProjects")
		if len(projects) != 2 || projects[0].Name != "astro" || !slices.Equal(projects[0].Members, []string{"alice"}) ||
			!slices.Equal(projects[1].Members, []string{"alice", "bob"}) {
			t.Errorf("ListProjects = %+v", projects)
		}

		must(t, s.RemoveMember(ctx, "physics", "bob"), "RemoveMember")
		wantErr(t, s.RemoveMember(ctx, "physics", "bob"), ErrNotFound, "RemoveMember twice")
		// Deleting a user ends its memberships.
		must(t, s.DeleteUser(ctx, "alice"), "DeleteUser")
		got, err = s.GetProject(ctx, "physics")
		must(t, err, "GetProject")
		if len(got.Members) != 0 {
			t.Errorf("members after removals = %v", got.Members)
		}
		must(t, s.DeleteProject(ctx, "physics"), "DeleteProject")
		wantErr(t, s.DeleteProject(ctx, "physics"), ErrNotFound, "DeleteProject twice")
	})
}
