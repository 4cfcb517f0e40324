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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/hw/sim"
	"github.com/gridflow/gridflow/engine/store"
)

type depNode struct {
	Node     string             `json:"node"`
	State    string             `json:"state"`
	Step     string             `json:"step"`
	Reason   string             `json:"reason"`
	Timings  map[string]float64 `json:"timings"`
	Fallback string             `json:"fallback"`
	Attempts int                `json:"attempts"`
	Run      int                `json:"run"`
}

type dep struct {
	UID         string         `json:"uid"`
	State       string         `json:"state"`
	Reason      string         `json:"reason"`
	Run         int            `json:"run"`
	Environment string         `json:"environment"`
	Reservation string         `json:"reservation"`
	Summary     map[string]int `json:"summary"`
	Nodes       []depNode      `json:"nodes"`
	Detail      string         `json:"detail"`
}

func (d dep) node(t *testing.T, name string) depNode {
	t.Helper()
	for _, n := range d.Nodes {
		if n.Node == name {
			return n
		}
	}
	t.Fatalf("deployment %s has no node %s: %+v", d.UID, name, d.Nodes)
	return depNode{}
}

// post sends a JSON body and returns the status, the Location header and
// decodes the answer into out.
func (c apiClient) post(path string, body, out any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, res.Header.Get("Location")
}

func (c apiClient) deploy(body map[string]any) (int, dep) {
	var d dep
	code, _ := c.post("/v1/sites/s/deployments", body, &d)
	return code, d
}

// waitDeployment polls a deployment until done says it is where the test
// wants it.
func (c apiClient) waitDeployment(id string, within time.Duration, done func(dep) bool) dep {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var d dep
	for time.Now().Before(deadline) {
		d = dep{}
		c.do("GET", "/v1/sites/s/deployments/"+id, nil, &d)
		if done(d) {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("deployment %s after %s: %+v", id, within, d)
	return d
}

func ended(d dep) bool {
	return d.State == store.DeployTerminated || d.State == store.DeployCanceled || d.State == store.DeployError
}

// userClients makes users and returns a client for each.
func userClients(t *testing.T, admin apiClient, names ...string) []apiClient {
	t.Helper()
	var out []apiClient
	for _, n := range names {
		if code := admin.do("POST", "/v1/users", map[string]any{"name": n, "password": n + "-password"}, nil); code != 201 {
			t.Fatalf("create user %s: %d", n, code)
		}
		var tok struct{ Token string }
		admin.do("POST", "/v1/users/"+n+"/tokens", map[string]any{"ttl": "1h"}, &tok)
		out = append(out, apiClient{t: t, base: admin.base, token: tok.Token})
	}
	return out
}

func startDeployDev(t *testing.T, dataDir string) (*devProcess, apiClient) {
	t.Helper()
	store.BcryptCost = bcrypt.MinCost
	d := startDev(t, dataDir, "--testbed", filepath.Join("testdata", "deploy.hcl"), "--admin-token", "gft_deployment-test-admin-token")
	return d, apiClient{t: t, base: "http://" + d.api, token: "gft_deployment-test-admin-token"}
}

func TestDeploymentThroughREST(t *testing.T) {
	d, admin := startTinyDev(t, t.TempDir())
	defer d.stop(t)
	users := userClients(t, admin, "alice", "bob")
	alice, bob := users[0], users[1]

	// The public catalog is there for everyone.
	var envs struct {
		Total int
		Items []struct{ UID, Name, Version, Checksum, Visibility string }
	}
	if code := bob.do("GET", "/v1/environments", nil, &envs); code != 200 || envs.Total < 5 {
		t.Fatalf("environments = %d %+v", code, envs)
	}
	if !slices.ContainsFunc(envs.Items, func(e struct{ UID, Name, Version, Checksum, Visibility string }) bool {
		return e.UID == "debian12-min@2024.1" && e.Visibility == "public" && strings.HasPrefix(e.Checksum, "sha256:")
	}) {
		t.Fatalf("no public debian12-min@2024.1 in %+v", envs.Items)
	}

	// Alice's private environment is hers alone.
	mine := map[string]any{"name": "alice-env", "version": "1", "url": "https://example.invalid/a.tar",
		"checksum": "sha256:" + strings.Repeat("ab", 32), "visibility": "private"}
	var env struct{ UID, Detail string }
	if code, loc := alice.post("/v1/environments", mine, &env); code != 201 || env.UID != "alice-env@1" || !strings.Contains(loc, "/v1/environments/alice-env") {
		t.Fatalf("create environment = %d %q %+v", code, loc, env)
	}
	if code, _ := alice.post("/v1/environments", mine, &env); code != 409 {
		t.Fatalf("same version again = %d", code)
	}
	bad := map[string]any{"name": "x", "version": "1", "url": "https://e.invalid/x.tar", "checksum": "sha256:nothex"}
	if code, _ := alice.post("/v1/environments", bad, &env); code != 422 || !strings.Contains(env.Detail, "checksum") {
		t.Fatalf("bad checksum = %d %q", code, env.Detail)
	}
	if code, _ := alice.post("/v1/environments", map[string]any{"name": "y", "version": "1", "url": "https://e.invalid/y.tar",
		"checksum": "sha256:" + strings.Repeat("00", 32), "visibility": "public"}, &env); code != 403 {
		t.Fatalf("public environment by a user = %d", code)
	}
	if code := alice.do("GET", "/v1/environments/alice-env?version=1", nil, nil); code != 200 {
		t.Fatalf("alice reads her environment: %d", code)
	}
	if code := bob.do("GET", "/v1/environments/alice-env", nil, nil); code != 404 {
		t.Fatalf("bob reads alice's private environment: %d", code)
	}
	if code := bob.do("DELETE", "/v1/environments/alice-env", nil, nil); code != 404 {
		t.Fatalf("bob deletes alice's private environment: %d", code)
	}
	if code := alice.do("DELETE", "/v1/environments/debian12-min?version=2024.1", nil, nil); code != 403 {
		t.Fatalf("alice deletes a public environment: %d", code)
	}
	if code := alice.do("DELETE", "/v1/environments/alice-env?version=1", nil, nil); code != 204 {
		t.Fatalf("alice deletes her environment: %d", code)
	}

	// A packed image registered with the CLI is in alice's catalog.
	out, err := envCLI(t, "env", "pack", envTree(t), "-o", filepath.Join(t.TempDir(), "packed.tar.gz"),
		"--register", "alice-packed@1", "--url", "file:images/packed.tar.gz", "--os", "debian12", "--api", alice.base, "--token", alice.token)
	if err != nil || !strings.Contains(out, "registered alice-packed@1") {
		t.Fatalf("env pack --register: %v\n%s", err, out)
	}
	var packed struct{ UID, Checksum, OS, URL string }
	if code := alice.do("GET", "/v1/environments/alice-packed?version=1", nil, &packed); code != 200 ||
		packed.Checksum != packedField(t, out, "checksum") || packed.OS != "debian12" || packed.URL != "file:images/packed.tar.gz" {
		t.Fatalf("registered environment = %d %+v", code, packed)
	}
	if _, err := envCLI(t, "env", "pack", envTree(t), "-o", filepath.Join(t.TempDir(), "again.tar.gz"),
		"--register", "alice-packed@1", "--url", "file:x", "--api", alice.base, "--token", alice.token); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("registering the same version again: %v", err)
	}

	// Both watch the deployments' events from the start.
	sctx, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	aliceEvents := deploymentEvents(sctx, t, alice, "after=0&site=s")
	bobEvents := deploymentEvents(sctx, t, bob, "after=0")

	// A reservation of type deploy: the public environment on all its nodes.
	_, r := alice.reserve(map[string]any{"nodes": 4, "cluster": "a", "walltime": "1h", "types": []string{"deploy"}})
	alice.waitState(r.UID, "running", 20*time.Second)
	var created dep
	code, loc := alice.post("/v1/sites/s/deployments", map[string]any{"reservation": r.UID, "environment": "debian12-min"}, &created)
	if code != 201 || loc != "/v1/sites/s/deployments/"+created.UID || created.Environment != "debian12-min@2024.1" || len(created.Nodes) != 4 {
		t.Fatalf("deploy = %d %q %+v", code, loc, created)
	}
	done := alice.waitDeployment(created.UID, 30*time.Second, ended)
	if done.State != "terminated" || done.Summary["ok"] != 4 || done.Run != 1 {
		t.Fatalf("deployment ended %+v", done)
	}
	for _, n := range done.Nodes {
		if n.State != "ok" || n.Step != "check" || n.Attempts != 1 || len(n.Timings) != 5 || n.Reason != "" || n.Fallback != "" {
			t.Fatalf("node %+v", n)
		}
	}

	// The stream told alice how it went, and ends with the final state.
	evs := untilEvent(t, aliceEvents, 30*time.Second, func(e depEvent) bool {
		return e.Event == "state" && e.Deployment == created.UID && e.State == "terminated"
	})
	last := map[string]string{}
	var first depEvent
	for _, e := range evs {
		if e.Deployment != created.UID {
			continue
		}
		if first.ID == "" {
			first = e
		}
		if e.Event == "node" {
			last[e.Node] = e.State
		}
	}
	if len(last) != 4 || last[r.Nodes[0]] != "ok" || last[r.Nodes[3]] != "ok" {
		t.Fatalf("node events: last states %v of %+v", last, evs)
	}
	// Resuming after an event gives only what came after it.
	resumed := untilEvent(t, deploymentEvents(sctx, t, alice, "deployment="+created.UID+"&after="+first.ID), 30*time.Second,
		func(e depEvent) bool { return e.Event == "state" && e.State == "terminated" })
	firstID, _ := strconv.ParseInt(first.ID, 10, 64)
	for _, e := range resumed {
		if id, _ := strconv.ParseInt(e.ID, 10, 64); id <= firstID || e.Deployment != created.UID {
			t.Fatalf("resumed after %s, got %+v", first.ID, e)
		}
	}
	// Bob sees nothing of alice's deployments: the stream has passed her
	// final event (alice's, which polls as often, saw it) and gave him none.
	select {
	case e := <-bobEvents:
		t.Fatalf("bob's stream shows %+v", e)
	case <-time.After(time.Second):
	}
	var info struct{ Environment struct{ Name string } }
	if code := alice.do("GET", "/v1/nodes/"+r.Nodes[0]+"/info", nil, &info); code != 200 || info.Environment.Name != "debian12-min@2024.1" {
		t.Fatalf("node %s runs %q after the deployment (%d)", r.Nodes[0], info.Environment.Name, code)
	}
	recordHistory(t, d, created.UID, "deployment-ok.json")
	var p dep
	if code, _ := alice.post("/v1/sites/s/deployments/"+created.UID+"/retry", nil, &p); code != 409 || !strings.Contains(p.Detail, "nothing to retry") {
		t.Fatalf("retry with every node OK = %d %q", code, p.Detail)
	}
	var list struct {
		Total int
		Items []dep
	}
	if code := alice.do("GET", "/v1/sites/s/deployments?state=terminated&environment=debian12-min", nil, &list); code != 200 || list.Total != 1 || list.Items[0].UID != created.UID {
		t.Fatalf("list = %d %+v", code, list)
	}
	if alice.do("GET", "/v1/sites/s/deployments?environment=rocky9-min", nil, &list); list.Total != 0 {
		t.Fatalf("environment filter: %+v", list)
	}

	// The rules, each answered with what to do.
	_, plain := alice.reserve(map[string]any{"nodes": 1, "cluster": "b", "walltime": "1h"})
	alice.waitState(plain.UID, "running", 20*time.Second)
	cases := []struct {
		name   string
		client apiClient
		body   map[string]any
		code   int
		want   string
	}{
		{"reservation without type deploy", alice, map[string]any{"reservation": plain.UID, "environment": "debian12-min"}, 403, "type deploy"},
		{"nodes of a reservation without type deploy", alice, map[string]any{"nodes": plain.Nodes, "environment": "debian12-min"}, 403, plain.Nodes[0]},
		{"another user's reservation", bob, map[string]any{"reservation": r.UID, "environment": "debian12-min"}, 403, "belongs to alice"},
		{"another user's nodes", bob, map[string]any{"nodes": []string{r.Nodes[1]}, "environment": "debian12-min"}, 403, r.Nodes[1]},
		{"unknown environment", alice, map[string]any{"reservation": r.UID, "environment": "windows95"}, 404, "windows95"},
		{"unknown version", alice, map[string]any{"reservation": r.UID, "environment": "debian12-min@1999"}, 404, "2024.1"},
		{"no environment", alice, map[string]any{"reservation": r.UID}, 422, "environment"},
		{"image without checksum", alice, map[string]any{"reservation": r.UID, "image": map[string]any{"url": "https://e.invalid/i.tar", "checksum": "sha256"}}, 422, "checksum"},
		{"unknown node", alice, map[string]any{"nodes": []string{"zz-9"}, "environment": "debian12-min"}, 404, "zz-9"},
		{"no nodes", alice, map[string]any{"environment": "debian12-min"}, 422, "reservation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p struct {
				Detail string
				Errors []struct{ Message, Location string }
			}
			code, _ := c.client.post("/v1/sites/s/deployments", c.body, &p)
			all := p.Detail
			for _, e := range p.Errors {
				all += " " + e.Location + ": " + e.Message
			}
			if code != c.code || !strings.Contains(all, c.want) {
				t.Fatalf("= %d %q, want %d mentioning %q", code, all, c.code, c.want)
			}
		})
	}
	if code := bob.do("GET", "/v1/sites/s/deployments/"+created.UID, nil, nil); code != 403 {
		t.Fatalf("bob reads alice's deployment: %d", code)
	}
	if code := bob.do("DELETE", "/v1/sites/s/deployments/"+created.UID, nil, nil); code != 403 {
		t.Fatalf("bob cancels alice's deployment: %d", code)
	}
	if bob.do("GET", "/v1/sites/s/deployments", nil, &list); list.Total != 0 {
		t.Fatalf("bob lists %d deployments of others", list.Total)
	}
	if admin.do("GET", "/v1/sites/s/deployments?user=alice", nil, &list); list.Total != 1 {
		t.Fatalf("admin lists %d of alice's deployments", list.Total)
	}
}

func TestDeploymentRetryCancelAndBusyNodes(t *testing.T) {
	d, admin := startDeployDev(t, t.TempDir())
	defer d.stop(t)

	// f-1 fails mid-deploy every time: KO at write, a-1 OK.
	_, r := admin.reserve(map[string]any{"resources": []map[string]any{{"nodes": 1, "cluster": "a"}, {"nodes": 1, "cluster": "f"}},
		"walltime": "1h", "types": []string{"deploy"}})
	admin.waitState(r.UID, "running", 20*time.Second)
	code, first := admin.deploy(map[string]any{"reservation": r.UID, "environment": "debian12-base@2024.1", "retries": 1})
	if code != 201 {
		t.Fatalf("deploy = %d %s", code, first.Detail)
	}
	done := admin.waitDeployment(first.UID, 30*time.Second, ended)
	okNode, koNode := done.node(t, "a-1"), done.node(t, "f-1")
	if done.State != "terminated" || okNode.State != "ok" || koNode.State != "ko" || koNode.Step != "write" ||
		!strings.Contains(koNode.Reason, "injected fault") || koNode.Attempts != 2 {
		t.Fatalf("first run: %+v", done)
	}
	if !strings.Contains(done.Reason, "1 of 2 nodes OK") || !strings.Contains(done.Reason, "f-1 at write") {
		t.Fatalf("reason %q", done.Reason)
	}

	// Retry redeploys f-1 only, in run 2; a-1 keeps its run-1 result.
	var retried dep
	if code, _ := admin.post("/v1/sites/s/deployments/"+first.UID+"/retry", nil, &retried); code != 202 || retried.Run != 2 {
		t.Fatalf("retry = %d %+v", code, retried)
	}
	again := admin.waitDeployment(first.UID, 30*time.Second, func(d dep) bool { return d.Run == 2 && ended(d) })
	a1, f1 := again.node(t, "a-1"), again.node(t, "f-1")
	if again.State != "terminated" || a1.Run != 1 || a1.Attempts != 1 || a1.State != "ok" || f1.Run != 2 || f1.Attempts != 4 || f1.State != "ko" {
		t.Fatalf("after retry: %+v", again)
	}
	recordHistory(t, d, first.UID, "deployment-retry.json")

	// A node being written to is refused to a second deployment, which
	// names it; the first one is canceled and its node left KO.
	_, sr := admin.reserve(map[string]any{"nodes": 1, "cluster": "slow", "walltime": "1h", "types": []string{"deploy"}})
	admin.waitState(sr.UID, "running", 20*time.Second)
	_, slow := admin.deploy(map[string]any{"reservation": sr.UID, "environment": "debian12-min"})
	admin.waitDeployment(slow.UID, 20*time.Second, func(d dep) bool { return d.State == "processing" && len(d.Nodes) == 1 && d.Nodes[0].Step == "write" })
	code, busy := admin.deploy(map[string]any{"nodes": sr.Nodes, "environment": "debian12-base"})
	if code != 409 || !strings.Contains(busy.Detail, sr.Nodes[0]) || !strings.Contains(busy.Detail, slow.UID) || !strings.Contains(busy.Detail, "force") {
		t.Fatalf("deploy on a busy node = %d %q", code, busy.Detail)
	}
	var p dep
	if code, _ := admin.post("/v1/sites/s/deployments/"+slow.UID+"/retry", nil, &p); code != 409 || !strings.Contains(p.Detail, "processing") {
		t.Fatalf("retry while processing = %d %q", code, p.Detail)
	}
	if code := admin.do("DELETE", "/v1/sites/s/deployments/"+slow.UID, nil, nil); code != 202 {
		t.Fatalf("cancel = %d", code)
	}
	canceled := admin.waitDeployment(slow.UID, 30*time.Second, ended)
	if n := canceled.Nodes[0]; canceled.State != "canceled" || n.State != "ko" || !strings.Contains(n.Reason, "canceled") {
		t.Fatalf("after cancel: %+v", canceled)
	}
	if code := admin.do("DELETE", "/v1/sites/s/deployments/"+slow.UID, nil, &p); code != 409 {
		t.Fatalf("second cancel = %d", code)
	}
}

// depEvent is one message of /v1/deployments/events.
type depEvent struct {
	ID, Event  string
	Deployment string `json:"deployment"`
	Node       string `json:"node"`
	State      string `json:"state"`
	Step       string `json:"step"`
}

// deploymentEvents streams /v1/deployments/events?query into the returned
// channel until ctx ends, leaving out the "ready" event that opens it.
func deploymentEvents(ctx context.Context, t *testing.T, c apiClient, query string) <-chan depEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/deployments/events?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		res.Body.Close()
		t.Fatalf("events: %d %q", res.StatusCode, ct)
	}
	ch := make(chan depEvent, 10000)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var e depEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				e.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				e.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if e.Event == "ready" {
					e = depEvent{}
					continue
				}
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e) == nil {
					select {
					case ch <- e:
					case <-ctx.Done():
						return
					}
				}
				e = depEvent{}
			}
		}
	}()
	return ch
}

// untilEvent reads ch until done says an event is the awaited one, and
// returns the events read.
func untilEvent(t *testing.T, ch <-chan depEvent, within time.Duration, done func(depEvent) bool) []depEvent {
	t.Helper()
	var got []depEvent
	timeout := time.After(within)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended; events %+v", got)
			}
			got = append(got, e)
			if done(e) {
				return got
			}
		case <-timeout:
			t.Fatalf("no awaited event within %s; events %+v", within, got)
		}
	}
}

// largeTestbed writes a site of n simulated nodes that deploy and boot at
// once.
func largeTestbed(t testing.TB, n int) string {
	t.Helper()
	tb := fmt.Sprintf(`site "s" {
  cluster "z" {
    driver "sim" {
      boot_time    = "0s"
      deploy_time  = "0s"
      failure_rate = 0
      seed         = 1
    }
    nodes {
      count = %d
      name  = "z-%%d"
      properties {
        cores  = 8
        memory = "32GiB"
      }
    }
  }
}
`, n)
	f := filepath.Join(t.TempDir(), "large.hcl")
	if err := os.WriteFile(f, []byte(tb), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// historyOf returns how many events the history of a workflow holds and
// their encoded size.
func historyOf(ctx context.Context, c client.Client, id string) (events, size int, err error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return events, size, err
		}
		events++
		size += proto.Size(e)
	}
	return events, size, nil
}

// batchHistories sums the histories of a deployment run's batches.
func batchHistories(ctx context.Context, c client.Client, id string, run int) (batches, events, size, most int) {
	for i := 1; ; i++ {
		ev, sz, err := historyOf(ctx, c, fmt.Sprintf("%s-run%d-batch%d", id, run, i))
		if err != nil {
			return batches, events, size, most
		}
		batches, events, size, most = batches+1, events+ev, size+sz, max(most, ev)
	}
}

// TestDeploymentOfManyNodesInBatches: 250 nodes are deployed by three
// batch workflows; the deployment's own history stays a few dozen events.
func TestDeploymentOfManyNodesInBatches(t *testing.T) {
	const nodes = 250
	store.BcryptCost = bcrypt.MinCost
	d := startDev(t, t.TempDir(), "--testbed", largeTestbed(t, nodes), "--admin-token", "gft_deployment-test-admin-token")
	defer d.stop(t)
	admin := apiClient{t: t, base: "http://" + d.api, token: "gft_deployment-test-admin-token"}
	tc, err := client.Dial(client.Options{HostPort: d.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	_, r := admin.reserve(map[string]any{"nodes": nodes, "walltime": "1h", "types": []string{"deploy"}})
	admin.waitState(r.UID, "running", time.Minute)
	code, created := admin.deploy(map[string]any{"reservation": r.UID, "environment": "debian12-min"})
	if code != 201 {
		t.Fatalf("deploy = %d %s", code, created.Detail)
	}
	ctx := context.Background()
	if err := tc.GetWorkflow(ctx, created.UID, "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	done := admin.waitDeployment(created.UID, 30*time.Second, ended)
	if done.State != "terminated" || done.Summary["ok"] != nodes || !strings.Contains(done.Reason, "250 of 250 nodes OK") {
		t.Fatalf("deployment ended %s %q %v", done.State, done.Reason, done.Summary)
	}
	parent, parentSize, err := historyOf(ctx, tc, created.UID)
	if err != nil {
		t.Fatal(err)
	}
	batches, events, _, most := batchHistories(ctx, tc, created.UID, 1)
	t.Logf("history events: deployment %d (%d bytes); %d batches, %d events, at most %d per batch", parent, parentSize, batches, events, most)
	if batches != 3 || parent > 60 || most > 6*deploy.BatchSize+30 {
		t.Fatalf("deployment history %d events, %d batches of at most %d events", parent, batches, most)
	}
	recordHistory(t, d, created.UID, "deployment-batches.json")
}

// BenchmarkDeploymentOfSimNodes deploys an environment on 1,000 simulated
// nodes whose timings are zero, end to end on the embedded default (REST,
// the deployment service, the workflow and its batches on the embedded
// Temporal server, the activities and the SQLite store), and reports the
// nodes deployed per second and the history sizes; beside them, in the same
// run, the sim driver's Install called directly in a loop on as many nodes:
// the difference is what the engine costs per node.
func BenchmarkDeploymentOfSimNodes(b *testing.B) {
	const nodes = 1000
	t := &testing.T{}
	tbFile := largeTestbed(b, nodes)
	d := startDev(t, b.TempDir(), "--testbed", tbFile, "--admin-token", "gft_deployment-bench-admin-token", "--log-level", "error")
	admin := apiClient{t: t, base: "http://" + d.api, token: "gft_deployment-bench-admin-token"}
	defer d.stop(t)
	tc, err := client.Dial(client.Options{HostPort: d.temporal})
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	code, r := admin.reserve(map[string]any{"nodes": nodes, "walltime": "2h", "types": []string{"deploy"}})
	if code != 201 {
		b.Fatalf("reserve = %d", code)
	}
	admin.waitState(r.UID, "running", 2*time.Minute)

	// The baseline: the same simulated cluster's Install, node after node.
	src, err := os.ReadFile(tbFile)
	if err != nil {
		b.Fatal(err)
	}
	tb, diags := testbed.Parse(src, "large.hcl")
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	drv, err := sim.New(tb.Clusters()[0], sim.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()

	ctx := context.Background()
	envs := []string{"debian12-min@2024.1", "debian12-base@2024.1"} // each run writes a new image
	var depDur, directDur time.Duration
	var parentEvents, parentSize, batchEvents, batchSize, mostBatch, runs int
	for b.Loop() {
		env := envs[runs%len(envs)]
		t0 := time.Now()
		code, started := admin.deploy(map[string]any{"reservation": r.UID, "environment": env})
		if code != 201 {
			b.Fatalf("deploy = %d %s", code, started.Detail)
		}
		if err := tc.GetWorkflow(ctx, started.UID, "").Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
		depDur += time.Since(t0)

		pub, _ := hw.LookupPublicEnvironment(env)
		spec := hw.EnvSpec{Name: pub.Name, URL: pub.URL, Checksum: pub.Checksum}
		t1 := time.Now()
		for _, n := range tb.Clusters()[0].Nodes {
			if _, err := drv.Install(ctx, n.UID, spec); err != nil {
				b.Fatal(err)
			}
		}
		directDur += time.Since(t1)

		b.StopTimer()
		var done dep
		if admin.do("GET", "/v1/sites/s/deployments/"+started.UID, nil, &done); done.State != "terminated" || done.Summary["ok"] != nodes {
			b.Fatalf("deployment %s: %s %q %v", started.UID, done.State, done.Reason, done.Summary)
		}
		ev, sz, err := historyOf(ctx, tc, started.UID)
		if err != nil {
			b.Fatal(err)
		}
		_, bev, bsz, most := batchHistories(ctx, tc, started.UID, 1)
		parentEvents, parentSize, batchEvents, batchSize = parentEvents+ev, parentSize+sz, batchEvents+bev, batchSize+bsz
		mostBatch = max(mostBatch, most)
		runs++
		b.StartTimer()
	}
	total := float64(runs * nodes)
	b.ReportMetric(total/depDur.Seconds(), "deployed-nodes/s")
	b.ReportMetric(total/directDur.Seconds(), "direct-installs/s")
	b.ReportMetric(depDur.Seconds()/float64(runs), "s/deployment")
	b.ReportMetric(float64(depDur-directDur)/total/float64(time.Millisecond), "overhead-ms/node")
	b.ReportMetric(depDur.Seconds()/directDur.Seconds(), "ratio")
	b.ReportMetric(float64(parentEvents)/float64(runs), "parent-events")
	b.ReportMetric(float64(parentSize)/float64(runs), "parent-history-B")
	b.ReportMetric(float64(batchEvents)/float64(runs), "batch-events")
	b.ReportMetric(float64(batchSize)/float64(runs), "batch-history-B")
	b.ReportMetric(float64(mostBatch), "max-batch-events")
}
