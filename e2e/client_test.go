//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/apiclient"
)

// The tests of this file and of transfers_test.go drive the engine with the
// client generated from the OpenAPI document (package apiclient): what they
// do, any OpenAPI user can do, and a document that stopped describing the
// API would break them.

// gen is the generated client of a testbed's engine, as the admin user.
type gen struct {
	t  *testing.T
	tb *testbed
	c  *apiclient.ClientWithResponses
}

func (tb *testbed) generated() *gen {
	tb.t.Helper()
	c, err := apiclient.NewClientWithResponses(tb.baseURL(),
		apiclient.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+tb.adminToken)
			return nil
		}))
	if err != nil {
		tb.t.Fatalf("generated client: %v", err)
	}
	return &gen{t: tb.t, tb: tb, c: c}
}

// answer is what every generated response has.
type answer interface {
	StatusCode() int
	GetBody() []byte
}

// check fails the test unless the call succeeded with one of the statuses.
func check(t *testing.T, what string, res answer, err error, want ...int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if e := unexpected(what, res, want...); e != nil {
		t.Fatal(e)
	}
}

// unexpected is check without the test, for polling loops.
func unexpected(what string, res answer, want ...int) error {
	for _, w := range want {
		if res.StatusCode() == w {
			return nil
		}
	}
	return fmt.Errorf("%s = %d, want %v: %s", what, res.StatusCode(), want, short(string(res.GetBody()), 500))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }

// reserve asks for n nodes of the cluster and waits until the reservation
// runs.
func (g *gen) reserve(name string, n int, walltime string) apiclient.ReservationItem {
	g.t.Helper()
	ctx := ctxT(g.t, 2*time.Minute)
	res, err := g.c.CreateReservationWithResponse(ctx, site, apiclient.NewReservation{
		Cluster: ptr(cluster), Nodes: ptr(int64(n)), Walltime: walltime, Name: ptr(name)})
	check(g.t, "create-reservation", res, err, http.StatusCreated)
	r := *res.JSON201
	if r.Uid == "" || res.HTTPResponse.Header.Get("Location") == "" {
		g.t.Fatalf("create-reservation: uid %q, Location %q", r.Uid, res.HTTPResponse.Header.Get("Location"))
	}
	return g.waitReservation(r.Uid, time.Minute, apiclient.ReservationItemStateRunning)
}

// waitReservation polls a reservation until it reaches state; a final state
// other than state fails the test.
func (g *gen) waitReservation(id string, within time.Duration, state apiclient.ReservationItemState) apiclient.ReservationItem {
	g.t.Helper()
	var r apiclient.ReservationItem
	eventually(g.t, "reservation "+id+" "+string(state), within, 200*time.Millisecond, func() (bool, string) {
		res, err := g.c.GetReservationWithResponse(context.Background(), site, id)
		if err != nil {
			return false, err.Error()
		}
		if e := unexpected("get-reservation", res, http.StatusOK); e != nil {
			return false, e.Error()
		}
		r = *res.JSON200
		if r.State != state && finalReservation[string(r.State)] {
			g.t.Fatalf("reservation %s ended %s (%s), want %s", id, r.State, deref(r.Reason), state)
		}
		return r.State == state, string(r.State)
	})
	return r
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sh runs a shell script on a node of a running reservation of the admin's
// and returns its standard output; a non-zero exit fails the test.
func (g *gen) sh(node, script string) string {
	g.t.Helper()
	out, code, err := g.shErr(node, script, time.Minute)
	if err != nil {
		g.t.Fatalf("on %s: %s: %v", node, short(script, 200), err)
	}
	if code != 0 {
		g.t.Fatalf("on %s: %s: exit %d: %s", node, short(script, 200), code, short(out, 500))
	}
	return out
}

// shErr runs a script on a node and waits for its end: its standard output
// (the standard error on a failure), exit code, or an error of the API.
func (g *gen) shErr(node, script string, within time.Duration) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	res, err := g.c.StartProcessWithResponse(ctx, node, apiclient.NewProcess{Name: "/bin/sh", Args: &[]string{"-c", script}})
	if err != nil {
		return "", 0, err
	}
	if e := unexpected("start-process", res, http.StatusCreated); e != nil {
		return "", 0, e
	}
	id := res.JSON201.Id
	for {
		p, err := g.c.GetProcessWithResponse(ctx, node, id)
		if err != nil {
			return "", 0, err
		}
		if e := unexpected("get-process "+id, p, http.StatusOK); e != nil {
			return "", 0, e
		}
		if it := p.JSON200; it.State == "exited" {
			if it.Output == nil || it.ExitCode == nil {
				return "", 0, fmt.Errorf("process %s exited without output or exit code: %s", id, short(string(p.Body), 300))
			}
			if it.Output.Truncated {
				return "", 0, fmt.Errorf("process %s: output truncated", id)
			}
			out := string(it.Output.Stdout)
			if *it.ExitCode != 0 {
				out += string(it.Output.Stderr)
			}
			return out, int(*it.ExitCode), nil
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("process %s still running after %s", id, within)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestGeneratedClientReservation: a reservation's life through the
// generated client: created (201 with Location), listed, read until running,
// its walltime extended, its nodes reserved in the reference API, a process
// run on a node, deleted (canceled) and its nodes free again.
func TestGeneratedClientReservation(t *testing.T) {
	t.Parallel()
	tb := startTestbed(t, 4)
	g := tb.generated()
	ctx := ctxT(t, 3*time.Minute)

	who, err := g.c.WhoamiWithResponse(ctx)
	check(t, "whoami", who, err, http.StatusOK)

	t0 := time.Now()
	r := g.reserve("client", 2, "10m")
	running := time.Since(t0)
	nodes := deref(r.Nodes)
	if len(nodes) != 2 || r.Site != site {
		t.Fatalf("reservation %s: nodes %v on site %q, want 2 on %s", r.Uid, nodes, r.Site, site)
	}
	if r.Walltime != 600 || !r.StartAt.Before(r.EndAt) {
		t.Fatalf("reservation %s: walltime %d, window [%s, %s)", r.Uid, r.Walltime, r.StartAt, r.EndAt)
	}

	list, err := g.c.ListSiteReservationsWithResponse(ctx, site, nil)
	check(t, "list-site-reservations", list, err, http.StatusOK)
	if list.JSON200.Total != 1 || len(deref(list.JSON200.Items)) != 1 || deref(list.JSON200.Items)[0].Uid != r.Uid {
		t.Fatalf("list-site-reservations: %s", short(string(list.Body), 500))
	}

	ext, err := g.c.SetReservationWalltimeWithResponse(ctx, site, r.Uid, apiclient.SetReservationWalltimeJSONRequestBody{Walltime: "20m"})
	check(t, "set-reservation-walltime", ext, err, http.StatusOK, http.StatusAccepted)
	eventually(t, "walltime extended", 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		res, err := g.c.GetReservationWithResponse(ctx, site, r.Uid)
		if err != nil || res.StatusCode() != http.StatusOK {
			return false, fmt.Sprint(err)
		}
		return res.JSON200.Walltime == 1200, fmt.Sprintf("walltime %d, end %s", res.JSON200.Walltime, res.JSON200.EndAt)
	})

	for _, n := range nodes {
		res, err := g.c.GetNodeWithResponse(ctx, site, cluster, n, nil)
		check(t, "get-node "+n, res, err, http.StatusOK)
		if st := deref(res.JSON200.State); st != "reserved" && st != "busy" {
			t.Errorf("node %s is %q while reserved", n, st)
		}
	}
	if got, want := strings.TrimSpace(g.sh(nodes[0], "hostname")), tb.hostnameOf(nodes[0]); got != want {
		t.Errorf("hostname on %s = %q, want its container's %q", nodes[0], got, want)
	}

	del, err := g.c.DeleteReservationWithResponse(ctx, site, r.Uid)
	check(t, "delete-reservation", del, err, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	g.waitReservation(r.Uid, time.Minute, apiclient.ReservationItemStateCanceled)
	for _, n := range nodes {
		eventually(t, "node "+n+" free", 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			res, err := g.c.GetNodeWithResponse(ctx, site, cluster, n, nil)
			if err != nil || res.StatusCode() != http.StatusOK {
				return false, fmt.Sprint(err)
			}
			st := deref(res.JSON200.State)
			return st == "free", st
		})
	}
	record(t, sectionInvariant, "generated OpenAPI client drives a reservation",
		"created, running in %s, extended, process run, deleted: canceled, %d nodes free again",
		running.Round(time.Millisecond), len(nodes))
}
