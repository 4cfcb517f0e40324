package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestJobLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		j, err := s.InsertJob(ctx, Job{ID: "job-1", Owner: "alice", Project: "lab", Name: "hello", Group: "g1",
			Manifest: []byte(`{"Executable":"/bin/echo"}`), InputSandbox: strings.Repeat("a", 64), MinorStatus: "Job accepted"})
		must(t, err, "InsertJob")
		if j.State != JobReceived || j.CreatedAt.IsZero() {
			t.Fatalf("inserted %+v", j)
		}
		if _, err := s.InsertJob(ctx, Job{ID: "job-1", Owner: "bob", Manifest: []byte(`{}`)}); !errors.Is(err, ErrConflict) {
			t.Fatalf("second insert with the same id: %v", err)
		}
		if _, err := s.InsertJob(ctx, Job{ID: "job-2", Owner: "bob"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("insert without a manifest: %v", err)
		}

		u, err := s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobMatched), Site: Str("rennes"), Node: Str("n-1"), ReservationID: Str("r-1")})
		must(t, err, "UpdateJob matched")
		if u.State != JobMatched || u.Site != "rennes" || u.StartedAt != nil || u.MinorStatus != "Job accepted" {
			t.Fatalf("matched %+v", u)
		}
		u, err = s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobRunning), MinorStatus: Str("Application")})
		must(t, err, "UpdateJob running")
		if u.StartedAt == nil || u.FinishedAt != nil {
			t.Fatalf("running %+v", u)
		}
		started := *u.StartedAt
		resched := 1
		_, err = s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobWaiting), Reschedules: &resched})
		must(t, err, "UpdateJob rescheduled")
		u, err = s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobRunning)})
		must(t, err, "UpdateJob running again")
		if !u.StartedAt.Equal(started) {
			t.Fatalf("StartedAt moved from %v to %v", started, u.StartedAt)
		}
		code := 0
		sb := strings.Repeat("b", 64)
		_, err = s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobDone), ExitCode: &code, OutputSandbox: &sb, MinorStatus: Str("Execution Complete")})
		must(t, err, "UpdateJob done")
		got, err := s.GetJob(ctx, "job-1")
		must(t, err, "GetJob")
		if got.State != JobDone || got.ExitCode == nil || *got.ExitCode != 0 || got.OutputSandbox != sb || got.Reschedules != 1 ||
			got.FinishedAt == nil || got.Node != "n-1" || got.ReservationID != "r-1" || string(got.Manifest) != `{"Executable":"/bin/echo"}` ||
			got.Group != "g1" || got.Project != "lab" {
			t.Fatalf("done %+v", got)
		}
		// A final job stays final: a kill racing its end changes nothing.
		if _, err := s.UpdateJob(ctx, "job-1", JobUpdate{State: Str(JobKilled)}); !errors.Is(err, ErrFinal) {
			t.Fatalf("leaving Done: %v", err)
		}
		if _, err := s.UpdateJob(ctx, "nope", JobUpdate{State: Str(JobKilled)}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a missing job: %v", err)
		}
		if _, err := s.GetJob(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetJob of a missing job: %v", err)
		}
		must(t, s.DeleteJob(ctx, "job-1"), "DeleteJob")
		if err := s.DeleteJob(ctx, "job-1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("DeleteJob twice: %v", err)
		}
	})
}

func TestListJobsFiltersAndPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		i := 0
		s.now = func() time.Time { i++; return base.Add(time.Duration(i) * time.Second) }
		states := []string{JobWaiting, JobRunning, JobDone, JobFailed}
		for n := range 20 {
			owner := "alice"
			if n%2 == 1 {
				owner = "bob"
			}
			_, err := s.InsertJob(ctx, Job{ID: fmt.Sprintf("j%02d", n), Owner: owner, Name: fmt.Sprintf("name-%d", n%3),
				Manifest: []byte(`{}`), State: states[n%4], Site: []string{"rennes", "lyon"}[n%2]})
			must(t, err, "InsertJob")
		}
		count := func(f JobFilter) (int, []Job) {
			t.Helper()
			jobs, total, err := s.ListJobs(ctx, f)
			must(t, err, "ListJobs")
			return total, jobs
		}
		if n, jobs := count(JobFilter{}); n != 20 || len(jobs) != 20 || jobs[0].ID != "j19" || jobs[19].ID != "j00" {
			t.Fatalf("all: %d, first %s", n, jobs[0].ID)
		}
		if n, _ := count(JobFilter{Owners: []string{"alice"}}); n != 10 {
			t.Fatalf("alice: %d", n)
		}
		// Lists match any of their values; different attributes all apply.
		if n, _ := count(JobFilter{States: []string{JobDone, JobFailed}}); n != 10 {
			t.Fatalf("Done or Failed: %d", n)
		}
		if n, jobs := count(JobFilter{Owners: []string{"alice"}, States: []string{JobDone}}); n != 5 || jobs[0].ID != "j18" {
			t.Fatalf("alice's Done: %d %v", n, jobs)
		}
		if n, _ := count(JobFilter{Sites: []string{"lyon"}, Names: []string{"name-0", "name-1"}}); n != 7 {
			t.Fatalf("lyon, name-0 or name-1: %d", n)
		}
		if n, _ := count(JobFilter{Owners: []string{"' OR '1'='1"}}); n != 0 {
			t.Fatalf("injection matched %d", n)
		}
		// Pages: startJob/maxJobs.
		n, page := count(JobFilter{Offset: 5, Limit: 4})
		if n != 20 || len(page) != 4 || page[0].ID != "j14" || page[3].ID != "j11" {
			t.Fatalf("page: total %d, %v", n, page)
		}
		if n, page := count(JobFilter{Offset: 18, Limit: 10}); n != 20 || len(page) != 2 {
			t.Fatalf("last page: total %d, %d jobs", n, len(page))
		}
	})
}

func TestSandboxRecords(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		sha := strings.Repeat("c", 64)
		first, err := s.RecordSandbox(ctx, sha, 123)
		must(t, err, "RecordSandbox")
		again, err := s.RecordSandbox(ctx, sha, 123)
		must(t, err, "RecordSandbox again")
		if first.Size != 123 || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		if _, err := s.RecordSandbox(ctx, "short", 1); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad digest: %v", err)
		}
		if _, err := s.GetSandbox(ctx, strings.Repeat("d", 64)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown sandbox: %v", err)
		}
	})
}
