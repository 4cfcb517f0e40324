package store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func snap(i int) []byte { return fmt.Appendf(nil, `{"sites":{"nancy":{"nodes":%d}}}`, i) }

func TestTestbedVersions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.LatestTestbedVersion(ctx)
		wantErr(t, err, ErrNotFound, "LatestTestbedVersion empty")
		_, err = s.TestbedVersionAt(ctx, time.Now())
		wantErr(t, err, ErrNotFound, "TestbedVersionAt empty")
		list, total, err := s.ListTestbedVersions(ctx, 0, 10)
		must(t, err, "ListTestbedVersions empty")
		if total != 0 || list == nil || len(list) != 0 {
			t.Fatalf("ListTestbedVersions empty = %#v, %d", list, total)
		}

		t0 := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
		v1, created, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(1), Message: "initial", Author: "alice", CreatedAt: t0})
		must(t, err, "SaveTestbedVersion")
		sum := sha1.Sum(snap(1))
		if !created || v1.UID != hex.EncodeToString(sum[:]) || v1.UID != SnapshotUID(snap(1)) {
			t.Fatalf("v1 = %+v created=%v, want UID = sha1 of the snapshot", v1, created)
		}

		// The same snapshot again is not a new version.
		again, created, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(1), Message: "no change", CreatedAt: t0.Add(time.Hour)})
		must(t, err, "SaveTestbedVersion same")
		if created || again.UID != v1.UID || !again.CreatedAt.Equal(t0) || again.Message != "initial" || !bytes.Equal(again.Snapshot, snap(1)) {
			t.Fatalf("saving the latest snapshot again = %+v created=%v, want v1 unchanged", again, created)
		}

		// Sub-second steps keep their order.
		t1 := t0.Add(1500 * time.Microsecond)
		v2, created, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(2), Message: "add nodes", CreatedAt: t1})
		must(t, err, "SaveTestbedVersion v2")
		if !created {
			t.Fatal("v2 not created")
		}
		// Back to the first description: a new version with v1's UID.
		t2 := t1.Add(time.Microsecond)
		v3, created, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(1), Message: "revert", CreatedAt: t2})
		must(t, err, "SaveTestbedVersion v3")
		if !created || v3.UID != v1.UID {
			t.Fatalf("revert = %+v created=%v", v3, created)
		}
		// A caller-chosen UID is kept; a zero time is now.
		v4, created, err := s.SaveTestbedVersion(ctx, TestbedVersion{UID: "custom-uid", Snapshot: snap(4)})
		must(t, err, "SaveTestbedVersion v4")
		if !created || v4.UID != "custom-uid" || time.Since(v4.CreatedAt) > time.Minute || v4.CreatedAt.Location() != time.UTC {
			t.Fatalf("v4 = %+v", v4)
		}

		for _, bad := range [][]byte{nil, {}, []byte(`{"truncated":`)} {
			_, _, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: bad})
			wantErr(t, err, ErrInvalid, fmt.Sprintf("SaveTestbedVersion(%q)", bad))
		}

		latest, err := s.LatestTestbedVersion(ctx)
		must(t, err, "LatestTestbedVersion")
		if latest.UID != "custom-uid" || !bytes.Equal(latest.Snapshot, snap(4)) {
			t.Errorf("latest = %+v", latest)
		}
		got, err := s.GetTestbedVersion(ctx, v1.UID)
		must(t, err, "GetTestbedVersion")
		if got.Message != "revert" || !got.CreatedAt.Equal(t2) {
			t.Errorf("GetTestbedVersion(v1 uid) = %+v, want the newest with that uid (revert)", got)
		}
		got, err = s.GetTestbedVersion(ctx, v2.UID)
		must(t, err, "GetTestbedVersion v2")
		if got.Message != "add nodes" || got.Author != "" || !bytes.Equal(got.Snapshot, snap(2)) || !got.CreatedAt.Equal(t1) {
			t.Errorf("GetTestbedVersion(v2) = %+v", got)
		}
		_, err = s.GetTestbedVersion(ctx, "0000")
		wantErr(t, err, ErrNotFound, "GetTestbedVersion unknown")

		for _, tc := range []struct {
			at   time.Time
			want string // message, "" for not found
		}{
			{t0.Add(-time.Microsecond), ""},
			{t0, "initial"},
			{t1.Add(-time.Microsecond), "initial"},
			{t1, "add nodes"},
			{t2, "revert"},
			{t2.Add(time.Hour), "revert"},
			{time.Now().Add(time.Hour), ""},
		} {
			v, err := s.TestbedVersionAt(ctx, tc.at)
			switch {
			case tc.want == "" && tc.at.Before(t0):
				wantErr(t, err, ErrNotFound, "TestbedVersionAt before the first")
			case tc.want == "":
				must(t, err, "TestbedVersionAt now")
				if v.UID != "custom-uid" {
					t.Errorf("TestbedVersionAt(%v) = %+v, want the latest", tc.at, v)
				}
			default:
				must(t, err, "TestbedVersionAt")
				if v.Message != tc.want || len(v.Snapshot) == 0 {
					t.Errorf("TestbedVersionAt(%v) = %q, want %q", tc.at, v.Message, tc.want)
				}
			}
		}
	})
}

func TestTestbedVersionPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		const n = 7
		for i := range n {
			_, _, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(i), Message: fmt.Sprint(i), CreatedAt: t0.Add(time.Duration(i) * time.Millisecond)})
			must(t, err, "SaveTestbedVersion")
		}
		page := func(offset, limit int) []string {
			t.Helper()
			vs, total, err := s.ListTestbedVersions(ctx, offset, limit)
			must(t, err, "ListTestbedVersions")
			if total != n {
				t.Fatalf("total = %d, want %d", total, n)
			}
			var msgs []string
			for _, v := range vs {
				if v.Snapshot != nil {
					t.Fatalf("ListTestbedVersions loaded a snapshot")
				}
				if v.UID != SnapshotUID(snap(int(v.Message[0]-'0'))) {
					t.Fatalf("version %s has UID %s", v.Message, v.UID)
				}
				msgs = append(msgs, v.Message)
			}
			return msgs
		}
		for _, tc := range []struct {
			offset, limit int
			want          string
		}{
			{0, 3, "[6 5 4]"},
			{3, 3, "[3 2 1]"},
			{6, 3, "[0]"},
			{7, 3, "[]"},
			{100, 3, "[]"},
			{0, 0, "[6 5 4 3 2 1 0]"},
			{-1, -1, "[6 5 4 3 2 1 0]"},
			{5, 0, "[1 0]"},
		} {
			if got := fmt.Sprint(page(tc.offset, tc.limit)); got != tc.want {
				t.Errorf("ListTestbedVersions(%d, %d) = %s, want %s", tc.offset, tc.limit, got, tc.want)
			}
		}
	})
}

func TestTestbedVersionsConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const writers = 8
		// Each round, every writer saves the same snapshot at once: exactly
		// one of them may create the version.
		for round := range 5 {
			var (
				wg      sync.WaitGroup
				created atomic.Int32
				start   = make(chan struct{})
				errs    = make(chan error, writers)
			)
			for range writers {
				wg.Go(func() {
					<-start
					_, c, err := s.SaveTestbedVersion(ctx, TestbedVersion{Snapshot: snap(round), Message: fmt.Sprint(round)})
					if err != nil {
						errs <- err
					}
					if c {
						created.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %d: concurrent SaveTestbedVersion: %v", round, err)
			}
			if got := created.Load(); got != 1 {
				t.Fatalf("round %d: %d writers created a version, want exactly 1", round, got)
			}
		}
		vs, total, err := s.ListTestbedVersions(ctx, 0, 0)
		must(t, err, "ListTestbedVersions")
		if total != 5 || len(vs) != 5 {
			t.Fatalf("%d versions (total %d), want 5", len(vs), total)
		}
		for i, v := range vs {
			if want := fmt.Sprint(4 - i); v.Message != want {
				t.Errorf("version %d = %q, want %q", i, v.Message, want)
			}
		}
	})
}
