package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gridflow/gridflow/engine/store"
)

// apiClient drives a running dev role through REST, as a user would.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode
}

type resv struct {
	UID     string    `json:"uid"`
	State   string    `json:"state"`
	Reason  string    `json:"reason"`
	Nodes   []string  `json:"nodes"`
	StartAt time.Time `json:"start_at"`
	EndAt   time.Time `json:"end_at"`
	Owner   string    `json:"owner"`
	Detail  string    `json:"detail"`
}

func (c apiClient) reserve(body map[string]any) (int, resv) {
	var r resv
	code := c.do("POST", "/v1/sites/s/reservations", body, &r)
	return code, r
}

// waitState polls a reservation until it reaches state.
func (c apiClient) waitState(id, state string, within time.Duration) resv {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var r resv
	for time.Now().Before(deadline) {
		c.do("GET", "/v1/sites/s/reservations/"+id, nil, &r)
		if r.State == state {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("reservation %s is %s (%s), not %s, after %s", id, r.State, r.Reason, state, within)
	return r
}

func (c apiClient) nodeState(node string) string {
	var n struct{ State string }
	cluster := strings.Split(node, "-")[0]
	c.do("GET", "/v1/sites/s/clusters/"+cluster+"/nodes/"+node, nil, &n)
	return n.State
}

// streamStates reads /v1/reservations/events until reservation id reaches
// final, and returns the states the stream gave for it.
func streamStates(t *testing.T, c apiClient, id, final string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/reservations/events?after=0", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("events content type %q", ct)
	}
	var states []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e struct{ Reservation, State string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad event %q", line)
		}
		if e.Reservation == id {
			states = append(states, e.State)
			if e.State == final {
				return states
			}
		}
	}
	t.Fatalf("stream ended before %s was %s: %v (%v)", id, final, states, sc.Err())
	return nil
}

// recordHistory writes a finished workflow's history for the replay tests of
// package workflows when GRIDFLOW_RECORD_HISTORIES=1.
func recordHistory(t *testing.T, d *devProcess, id, name string) {
	if os.Getenv("GRIDFLOW_RECORD_HISTORIES") != "1" {
		return
	}
	c, err := client.Dial(client.Options{HostPort: d.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &history.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "workflows", "testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func startTinyDev(t *testing.T, dataDir string) (*devProcess, apiClient) {
	t.Helper()
	store.BcryptCost = bcrypt.MinCost
	d := startDev(t, dataDir, "--testbed", filepath.Join("testdata", "tiny.hcl"), "--admin-token", "gft_reservation-test-admin-token")
	return d, apiClient{t: t, base: "http://" + d.api, token: "gft_reservation-test-admin-token"}
}

func TestReservationLifecycleThroughREST(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)

	// An immediate reservation runs, holds its nodes, and ends at its walltime.
	code, r := admin.reserve(map[string]any{"nodes": 2, "cluster": "a", "walltime": "3"})
	if code != 201 || len(r.Nodes) != 2 {
		t.Fatalf("reserve = %d %+v", code, r)
	}
	admin.waitState(r.UID, "running", 20*time.Second)
	if s := admin.nodeState(r.Nodes[0]); s != "reserved" {
		t.Fatalf("node %s of a running reservation is %q", r.Nodes[0], s)
	}
	done := admin.waitState(r.UID, "terminated", 20*time.Second)
	if done.Reason != "walltime reached" {
		t.Fatalf("ended because %q", done.Reason)
	}
	if s := admin.nodeState(r.Nodes[0]); s != "free" {
		t.Fatalf("node %s after the end is %q", r.Nodes[0], s)
	}
	recordHistory(t, d, r.UID, "reservation-walltime.json")

	// An advance reservation waits for its start.
	start := time.Now().Add(3 * time.Second).Truncate(time.Second)
	code, adv := admin.reserve(map[string]any{"nodes": 1, "cluster": "b", "walltime": "2", "start": start.Format(time.RFC3339)})
	if code != 201 || !adv.StartAt.Equal(start) || adv.State != "waiting" {
		t.Fatalf("advance reservation = %d %+v", code, adv)
	}
	running := admin.waitState(adv.UID, "running", 20*time.Second)
	if time.Now().Before(start) {
		t.Fatalf("advance reservation ran before its start: %+v", running)
	}
	admin.waitState(adv.UID, "terminated", 20*time.Second)

	// Cancel releases the nodes.
	_, long := admin.reserve(map[string]any{"nodes": 1, "cluster": "a", "walltime": "1h", "name": "long"})
	admin.waitState(long.UID, "running", 20*time.Second)
	if code := admin.do("DELETE", "/v1/sites/s/reservations/"+long.UID, nil, nil); code != 202 {
		t.Fatalf("DELETE = %d", code)
	}
	admin.waitState(long.UID, "canceled", 20*time.Second)
	recordHistory(t, d, long.UID, "reservation-cancel.json")
	if s := admin.nodeState(long.Nodes[0]); s != "free" {
		t.Fatalf("canceled reservation's node is %q", s)
	}
	// The event stream replays every change, in order, from the start.
	if got := streamStates(t, admin, r.UID, "terminated"); strings.Join(got, ",") != "waiting,launching,running,terminated" {
		t.Fatalf("SSE states of %s: %v", r.UID, got)
	}
	var p struct{ Detail string }
	if code := admin.do("DELETE", "/v1/sites/s/reservations/"+long.UID, nil, &p); code != 409 {
		t.Fatalf("second DELETE = %d, want 409", code)
	}
	if code := admin.do("POST", "/v1/sites/s/reservations/"+long.UID+"/walltime", map[string]any{"walltime": "2h"}, &p); code != 409 {
		t.Fatalf("extending an ended reservation = %d %s, want 409", code, p.Detail)
	}
}

func TestReservationBadInputAndAuthorization(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	cases := []struct {
		name string
		path string
		body map[string]any
		code int
		want string
	}{
		{"zero nodes", "/v1/sites/s/reservations", map[string]any{"nodes": 0, "walltime": "1h"}, 422, "at least one node"},
		{"unknown site", "/v1/sites/nowhere/reservations", map[string]any{"nodes": 1, "walltime": "1h"}, 404, "nowhere"},
		{"unknown cluster", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "cluster": "z", "walltime": "1h"}, 422, "no cluster"},
		{"more than match", "/v1/sites/s/reservations", map[string]any{"nodes": 5, "cluster": "a", "walltime": "1h"}, 422, "4"},
		{"properties never match", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "properties": map[string]any{"min_gpus": 4}, "walltime": "1h"}, 422, "0"},
		{"bad walltime", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "walltime": "soon"}, 422, "walltime"},
		{"start in the past", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "walltime": "1h", "start": "2020-01-01T00:00:00Z"}, 422, "past"},
		{"over the queue limit", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "walltime": "100h"}, 422, "walltime"},
		{"bad queue", "/v1/sites/s/reservations", map[string]any{"nodes": 1, "walltime": "1h", "queue": "vip"}, 422, "queue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p struct {
				Detail string
				Errors []struct{ Message, Location string }
			}
			code := admin.do("POST", c.path, c.body, &p)
			all := p.Detail
			for _, e := range p.Errors {
				all += " " + e.Location + ": " + e.Message
			}
			if code != c.code || !strings.Contains(all, c.want) {
				t.Fatalf("= %d %q, want %d mentioning %q", code, all, c.code, c.want)
			}
		})
	}
	var list struct{ Total int }
	admin.do("GET", "/v1/reservations", nil, &list)
	if list.Total != 0 {
		t.Fatalf("rejected requests left %d reservations", list.Total)
	}

	// Alice's reservation is hers.
	admin.do("POST", "/v1/users", map[string]any{"name": "alice", "password": "alice-password"}, nil)
	admin.do("POST", "/v1/users", map[string]any{"name": "bob", "password": "bob-password"}, nil)
	tok := func(user string) string {
		var out struct{ Token string }
		admin.do("POST", "/v1/users/"+user+"/tokens", map[string]any{"ttl": "1h"}, &out)
		return out.Token
	}
	alice := apiClient{t: t, base: admin.base, token: tok("alice")}
	bob := apiClient{t: t, base: admin.base, token: tok("bob")}
	code, r := alice.reserve(map[string]any{"nodes": 1, "walltime": "1h"})
	if code != 201 || r.Owner != "alice" {
		t.Fatalf("alice reserve = %d %+v", code, r)
	}
	if code := bob.do("GET", "/v1/sites/s/reservations/"+r.UID, nil, nil); code != 403 {
		t.Fatalf("bob reads alice's reservation: %d", code)
	}
	if code := bob.do("DELETE", "/v1/sites/s/reservations/"+r.UID, nil, nil); code != 403 {
		t.Fatalf("bob cancels alice's reservation: %d", code)
	}
	var bobs struct{ Total int }
	bob.do("GET", "/v1/reservations", nil, &bobs)
	if bobs.Total != 0 {
		t.Fatalf("bob lists %d reservations of others", bobs.Total)
	}
	if code, _ := bob.reserve(map[string]any{"nodes": 1, "walltime": "1h", "queue": "admin"}); code != 403 {
		t.Fatalf("bob in the admin queue: %d", code)
	}
}

// submitAndCheckNoOverlap submits n reservations of 1 or 2 nodes of cluster
// a at once, spread over the clients (replicas), and checks in the answers of
// the API that no node is in two overlapping reservations.
func submitAndCheckNoOverlap(t *testing.T, n, walltime int, clients ...apiClient) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = clients[i%len(clients)].reserve(map[string]any{"nodes": 1 + i%2, "cluster": "a", "walltime": fmt.Sprint(walltime + i)})
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 201 {
			t.Fatalf("submission %d = %d", i, c)
		}
	}
	var all struct {
		Total int
		Items []resv
	}
	clients[0].do("GET", "/v1/reservations?limit=1000", nil, &all)
	if all.Total != n {
		t.Fatalf("%d reservations recorded, want %d", all.Total, n)
	}
	for i, a := range all.Items {
		for _, b := range all.Items[i+1:] {
			if !(a.StartAt.Before(b.EndAt) && b.StartAt.Before(a.EndAt)) {
				continue
			}
			for _, x := range a.Nodes {
				for _, y := range b.Nodes {
					if x == y {
						t.Fatalf("node %s is in %s [%s,%s) and %s [%s,%s)", x, a.UID, a.StartAt, a.EndAt, b.UID, b.StartAt, b.EndAt)
					}
				}
			}
		}
	}
}

// TestConcurrentReservationsNeverOverlap submits many reservations at once on a
// 4-node cluster and checks in the store's answers that no node is ever held
// by two overlapping reservations.
func TestConcurrentReservationsNeverOverlap(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	submitAndCheckNoOverlap(t, 200, 600, admin)
}

func TestBesteffortIsPreempted(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	_, be := admin.reserve(map[string]any{"nodes": 4, "cluster": "a", "walltime": "10h", "queue": "besteffort"})
	admin.waitState(be.UID, "running", 20*time.Second)
	code, normal := admin.reserve(map[string]any{"nodes": 1, "cluster": "a", "walltime": "1h"})
	if code != 201 || normal.StartAt.After(time.Now().Add(5*time.Second)) {
		t.Fatalf("normal reservation = %d, starts %s: it should take the besteffort nodes now", code, normal.StartAt)
	}
	ended := admin.waitState(be.UID, "terminated", 20*time.Second)
	if !strings.Contains(ended.Reason, "preempted") {
		t.Fatalf("besteffort ended because %q", ended.Reason)
	}
	admin.waitState(normal.UID, "running", 20*time.Second)
}

// TestReservationSurvivesRestart stops the dev role while a reservation runs
// and checks that, started again, it still ends at its walltime.
func TestReservationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d, admin := startTinyDev(t, dir)
	_, r := admin.reserve(map[string]any{"nodes": 2, "cluster": "a", "walltime": "6"})
	admin.waitState(r.UID, "running", 20*time.Second)
	d.stop(t)

	d2, admin2 := startTinyDev(t, dir)
	defer d2.stop(t)
	done := admin2.waitState(r.UID, "terminated", 30*time.Second)
	if done.Reason != "walltime reached" {
		t.Fatalf("after restart the reservation ended because %q", done.Reason)
	}
	if s := admin2.nodeState(r.Nodes[0]); s != "free" {
		t.Fatalf("node after restart and end: %q", s)
	}
}
