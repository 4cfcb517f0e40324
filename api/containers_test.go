package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// runningReservation records a running reservation of owner on nodes, as the
// reservation workflow leaves it once launched.
func (f *fixture) runningReservation(id, owner string, nodes ...string) {
	f.t.Helper()
	now := time.Now()
	err := f.st.WithAllocationLock(context.Background(), func(a *store.AllocTx) error {
		return a.Insert(context.Background(), store.Reservation{ID: id, Site: "rennes", Owner: owner, Queue: "default",
			State: store.ResRunning, Nodes: nodes, Walltime: time.Hour, StartAt: now, EndAt: now.Add(time.Hour)}, "test")
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) post(path, token string, body any) resp {
	f.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.do(req{method: http.MethodPost, path: path, token: token, body: string(raw), contentType: "application/json"})
}

func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// waitJob polls a job until it is no longer running.
func (f *fixture) waitJob(path, token string) JobItem {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := f.do(req{path: path, token: token})
		wantStatus(f.t, r, 200)
		j := decode[JobItem](f.t, r)
		if j.State != hw.ProcessRunning || time.Now().After(deadline) {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestContainersOnReservedNodes(t *testing.T) {
	f := newFixture(t)
	const node = "/v1/nodes/paravance-1"
	web := map[string]any{"id": "web", "image": "busybox:latest", "env": map[string]string{"WHO": "gridflow"},
		"ports": []string{"8080:80", "53/udp"}, "cmd": []string{"/bin/sh", "-c", "httpd -f"}}

	// Without a reservation alice may not touch the node; an unknown node
	// is unknown to anyone.
	wantProblem(t, f.post(node+"/containers", f.alice, web), 403, "not in one of your running reservations")
	wantProblem(t, f.do(req{path: node + "/containers", token: f.alice}), 403, "reserve it first")
	wantProblem(t, f.post("/v1/nodes/nowhere-1/containers", f.alice, web), 404, "nowhere-1")
	wantProblem(t, f.do(req{path: "/v1/nodes/nowhere-1/mem", token: f.alice}), 404, "nowhere-1")
	wantStatus(t, f.do(req{path: node + "/containers"}), 401)

	f.runningReservation("r1alice", "alice", "paravance-1")
	f.runningReservation("r2bob", "bob", "paravance-2")

	// Bad input.
	for _, c := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"no image", map[string]any{"id": "x"}, "image"},
		{"flist", map[string]any{"id": "x", "flist": "http://hub/x.flist"}, "flist images are unsupported"},
		{"nics", map[string]any{"id": "x", "image": "busybox", "nics": []map[string]any{{"type": "vlan", "id": "0"}}}, "nics are unsupported"},
		{"bad port", map[string]any{"id": "x", "image": "busybox", "ports": []string{"http"}}, "hostPort:containerPort"},
		{"ports and host network", map[string]any{"id": "x", "image": "busybox", "ports": []string{"80"}, "hostNetworking": true}, "not both"},
		{"bad id", map[string]any{"id": "../x", "image": "busybox"}, "id"},
		{"empty init process", map[string]any{"id": "x", "image": "busybox", "initprocesses": []map[string]any{{"name": ""}}}, "initprocesses[0].name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, f.post(node+"/containers", f.alice, c.body), 422, c.want)
		})
	}

	r := f.post(node+"/containers", f.alice, web)
	wantStatus(t, r, 201)
	if loc := r.header.Get("Location"); loc != "/v1/nodes/paravance-1/containers/web" {
		t.Fatalf("Location %q", loc)
	}
	if ct := r.header.Get("Content-Type"); ct != ItemType {
		t.Fatalf("content type %q", ct)
	}
	c := decode[ContainerItem](t, r)
	if c.UID != "web" || c.Status != "running" || c.Hostname != "web" || c.Reservation != "r1alice" || c.Env["WHO"] != "gridflow" ||
		len(c.Ports) != 2 || c.Ports[0] != "53:53/udp" && !strings.HasSuffix(c.Ports[0], ":53/udp") || c.Ports[1] != "8080:80/tcp" || c.Nics == nil {
		t.Fatalf("created %+v", c)
	}
	l := links(t, r.json(t))
	if l["self"] != "/v1/nodes/paravance-1/containers/web" || l["jobs"] != l["self"]+"/jobs" || l["processes"] != l["self"]+"/processes" {
		t.Fatalf("links %v", l)
	}
	// Creating it again (a retried request) finds the same container.
	again := decode[ContainerItem](t, f.post(node+"/containers", f.alice, web))
	if !again.Created.Equal(c.Created) {
		t.Fatalf("retried create made another container: %+v", again)
	}
	other := map[string]any{"id": "web", "image": "alpine:3"}
	wantProblem(t, f.post(node+"/containers", f.alice, other), 409, "already exists")

	list := f.do(req{path: node + "/containers", token: f.alice})
	wantStatus(t, list, 200)
	if ct := list.header.Get("Content-Type"); ct != CollectionType || list.header.Get("ETag") == "" {
		t.Fatalf("list headers %v", list.header)
	}
	if col := decode[Collection[ContainerItem]](t, list); col.Total != 1 || col.Items[0].ID != "web" {
		t.Fatalf("list %+v", col)
	}
	// Bob holds another node; alice's is not his. The administrator sees all.
	wantStatus(t, f.do(req{path: node + "/containers/web", token: f.bob}), 403)
	wantStatus(t, f.do(req{path: node + "/containers/web", token: f.admin}), 200)
	wantProblem(t, f.do(req{path: node + "/containers/ghost", token: f.alice}), 404, "ghost")

	// Jobs: output and exit code, the same id again, kill.
	jobs := node + "/containers/web/jobs"
	r = f.post(jobs, f.alice, map[string]any{"id": "hello", "name": "sh", "args": []string{"-c", "echo hi $WHO; hostname; exit 3"}, "env": map[string]string{"WHO": "you"}})
	wantStatus(t, r, 201)
	if loc := r.header.Get("Location"); loc != "/v1/nodes/paravance-1/containers/web/jobs/hello" {
		t.Fatalf("job Location %q", loc)
	}
	j := f.waitJob(jobs+"/hello", f.alice)
	if j.State != hw.ProcessExited || j.ExitCode == nil || *j.ExitCode != 3 || j.Output == nil || j.Output.Stdout != "hi you\nweb\n" || j.Container != "web" || j.StartTime == 0 {
		t.Fatalf("job %+v %+v", j, j.Output)
	}
	wantStatus(t, f.post(jobs, f.alice, map[string]any{"id": "hello", "name": "sh", "args": []string{"-c", "echo hi $WHO; hostname; exit 3"}, "env": map[string]string{"WHO": "you"}}), 201)
	wantProblem(t, f.post(jobs, f.alice, map[string]any{"id": "hello", "name": "true"}), 409, "another command")
	wantProblem(t, f.post(jobs, f.alice, map[string]any{"name": ""}), 422, "name")
	wantProblem(t, f.post(node+"/containers/ghost/jobs", f.alice, map[string]any{"name": "true"}), 404, "ghost")
	// A program that does not exist fails the job with the reason.
	nope := decode[JobItem](t, f.post(jobs, f.alice, map[string]any{"id": "nope", "name": "no-such-program"}))
	nope = f.waitJob(jobs+"/"+nope.ID, f.alice)
	if *nope.ExitCode != 127 || !strings.Contains(nope.Output.Stderr, "no-such-program") {
		t.Fatalf("missing program %+v %+v", nope, nope.Output)
	}

	// g8os starts processes with POST …/processes: 202 and the job.
	r = f.post(node+"/containers/web/processes", f.alice, map[string]any{"name": "sleep", "args": []string{"600"}})
	wantStatus(t, r, 202)
	long := decode[JobItem](t, r)
	if long.State != hw.ProcessRunning || !strings.HasPrefix(r.header.Get("Location"), "/v1/nodes/paravance-1/containers/web/jobs/j") {
		t.Fatalf("process %+v at %q", long, r.header.Get("Location"))
	}
	ps := decode[Collection[ContainerProcessItem]](t, f.do(req{path: node + "/containers/web/processes", token: f.alice}))
	if ps.Total != 2 || ps.Items[1].Cmdline != "sleep 600" || ps.Items[1].RSS == 0 {
		t.Fatalf("processes %+v", ps)
	}
	r = f.do(req{method: http.MethodDelete, path: jobs + "/" + long.ID, token: f.alice})
	wantStatus(t, r, 200)
	if k := decode[JobItem](t, r); k.State != hw.ProcessExited || k.Signal != "SIGTERM" {
		t.Fatalf("killed %+v", k)
	}
	wantStatus(t, f.do(req{method: http.MethodDelete, path: jobs + "/" + long.ID, token: f.alice}), 200)
	wantProblem(t, f.do(req{method: http.MethodDelete, path: jobs + "/ghost", token: f.alice}), 404, "ghost")
	if col := decode[Collection[JobItem]](t, f.do(req{path: jobs, token: f.alice})); col.Total != 3 || col.Items[0].ID != "hello" {
		t.Fatalf("jobs %+v", col)
	}

	// Stop and start; a stopped container runs nothing.
	r = f.do(req{method: http.MethodPost, path: node + "/containers/web/stop", token: f.alice})
	if wantStatus(t, r, 200); decode[ContainerItem](t, r).Status != "exited" {
		t.Fatalf("stopped %s", r.body)
	}
	wantProblem(t, f.post(jobs, f.alice, map[string]any{"name": "true"}), 409, "start it first")
	r = f.do(req{method: http.MethodPost, path: node + "/containers/web/start", token: f.alice})
	if wantStatus(t, r, 200); decode[ContainerItem](t, r).Status != "running" {
		t.Fatalf("started %s", r.body)
	}

	// Init processes run as jobs once the container runs.
	r = f.post(node+"/containers", f.alice, map[string]any{"id": "init", "image": "busybox", "hostNetworking": true,
		"initprocesses": []map[string]any{{"name": "echo", "args": []string{"ready"}}, {"name": "sleep", "args": []string{"60"}}}})
	wantStatus(t, r, 201)
	if c := decode[ContainerItem](t, r); !c.HostNetworking || c.Hostname != "paravance-1" {
		t.Fatalf("host network container %+v", c)
	}
	if j := f.waitJob(node+"/containers/init/jobs/init-0", f.alice); j.Output.Stdout != "ready\n" {
		t.Fatalf("init-0 %+v", j.Output)
	}

	// Memory, as g8os reports it.
	r = f.do(req{path: node + "/mem", token: f.alice})
	wantStatus(t, r, 200)
	mem := decode[MemItem](t, r)
	if mem.Total != 128<<30 || mem.Used != mem.Total-mem.Available || mem.UsedPercent <= 0 || mem.Cached == 0 {
		t.Fatalf("mem %+v", mem)
	}

	// Delete; the end of the reservation removes what is left (the release
	// path of the reservation workflow calls StopReservation on each node).
	wantStatus(t, f.do(req{method: http.MethodDelete, path: node + "/containers/web", token: f.alice}), 204)
	wantStatus(t, f.do(req{path: node + "/containers/web", token: f.alice}), 404)
	ds, err := f.eng.Drivers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := ds.For("paravance-1")
	if n, err := d.StopReservation(context.Background(), "paravance-1", "r1alice"); err != nil || n < 1 {
		t.Fatalf("stop reservation: %d %v", n, err)
	}
	if col := decode[Collection[ContainerItem]](t, f.do(req{path: node + "/containers", token: f.admin})); col.Total != 0 {
		t.Fatalf("containers left after the reservation: %+v", col)
	}

	// Reboot runs in the background: 202, then the generation grows.
	wantProblem(t, f.do(req{method: http.MethodPost, path: "/v1/nodes/paravance-2/reboot", token: f.alice}), 403, "reserve it first")
	r = f.do(req{method: http.MethodPost, path: node + "/reboot", token: f.alice})
	wantStatus(t, r, 202)
	rb := decode[RebootItem](t, r)
	if r.header.Get("Location") != "/v1/nodes/paravance-1/info" || rb.Generation == 0 {
		t.Fatalf("reboot %+v %v", rb, r.header)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = f.do(req{path: node + "/info", token: f.alice})
		if r.status == 200 && decode[hw.NodeInfo](t, r).Generation > rb.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not come back: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContainersWithoutRuntime: a node whose agent runs without Docker
// answers 501, saying why.
func TestContainersWithoutRuntime(t *testing.T) {
	f := newFixture(t)
	a, err := agent.New(agent.Config{DataDir: t.TempDir(), Token: "agent-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	src := fmt.Sprintf(`site "local" {
  cluster "lab" {
    driver "agent" {
      agents = { "lab-1" = %q }
    }
    node "lab-1" {
      properties {
        cores  = 2
        memory = "2GiB"
      }
    }
  }
}
`, strings.TrimPrefix(srv.URL, "http://"))
	if _, _, _, diags := f.eng.LoadTestbed(context.Background(), []byte(src), "local.hcl", "test", "an agent"); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	f.eng.SetDriverOptions(hw.Options{AgentToken: "agent-token-0123456789"})
	f.runningReservation("r1", "alice", "lab-1")
	wantProblem(t, f.post("/v1/nodes/lab-1/containers", f.alice, map[string]any{"image": "busybox"}), 501, "docker-host")
	wantProblem(t, f.do(req{path: "/v1/nodes/lab-1/containers", token: f.alice}), 501, "without Docker")
	// The agent's memory comes from its host.
	mem := decode[MemItem](t, f.do(req{path: "/v1/nodes/lab-1/mem", token: f.alice}))
	if mem.Total == 0 || mem.Used != mem.Total-mem.Available {
		t.Fatalf("mem %+v", mem)
	}
}
