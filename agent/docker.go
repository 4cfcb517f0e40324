package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dockerClient speaks the Docker Engine API over its socket with net/http.
// Only what the agent needs: create, start, stop, remove, inspect and list
// containers. Containers are named gridflow-<agent id>-<id> and labelled, so
// that several agents can share one Docker Engine without seeing each
// other's containers.
type dockerClient struct {
	http    *http.Client
	base    string // "http://docker" for a unix socket
	agentID string
}

const (
	labelAgent       = "gridflow.agent"
	labelID          = "gridflow.id"
	labelReservation = "gridflow.reservation"
)

func newDockerClient(host, agentID string) (*dockerClient, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("agent: docker host %q: %w", host, err)
	}
	tr := &http.Transport{MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	c := &dockerClient{http: &http.Client{Transport: tr}, agentID: agentID}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "unix", sock)
		}
		c.base = "http://docker"
	case "tcp", "http":
		c.base = "http://" + u.Host
	default:
		return nil, fmt.Errorf("agent: docker host %q: use unix:///path/to/docker.sock or tcp://host:port", host)
	}
	return c, nil
}

// dockerError is an answer of the Docker Engine other than success.
type dockerError struct {
	status  int
	message string
}

func (e *dockerError) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.message, e.status)
}

func dockerStatus(err error) int {
	var de *dockerError
	if errors.As(err, &de) {
		return de.status
	}
	return 0
}

func (c *dockerClient) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("docker engine unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var m struct {
			Message string `json:"message"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(raw))
		}
		return resp.StatusCode, &dockerError{status: resp.StatusCode, message: m.Message}
	}
	if out != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("docker engine: decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *dockerClient) name(id string) string { return "gridflow-" + c.agentID + "-" + id }

// inspected is the part of GET /containers/{id}/json the agent reads.
type inspected struct {
	ID      string `json:"Id"`
	Name    string `json:"Name"`
	Created string `json:"Created"`
	State   struct {
		Status     string `json:"Status"`
		ExitCode   int    `json:"ExitCode"`
		StartedAt  string `json:"StartedAt"`
		FinishedAt string `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Image  string            `json:"Image"`
		Cmd    []string          `json:"Cmd"`
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	NetworkSettings struct {
		Ports map[string][]struct {
			HostIP   string `json:"HostIp"`
			HostPort string `json:"HostPort"`
		} `json:"Ports"`
	} `json:"NetworkSettings"`
}

func dockerTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 { // Docker writes 0001-01-01 for "never"
		return nil
	}
	return &t
}

func (in inspected) container() Container {
	c := Container{
		ID: in.Config.Labels[labelID], DockerID: in.ID, Name: strings.TrimPrefix(in.Name, "/"),
		Image: in.Config.Image, Cmd: in.Config.Cmd, State: in.State.Status, ExitCode: in.State.ExitCode,
		Reservation: in.Config.Labels[labelReservation],
		Started:     dockerTime(in.State.StartedAt), Finished: dockerTime(in.State.FinishedAt),
	}
	if t := dockerTime(in.Created); t != nil {
		c.Created = *t
	}
	for port, bs := range in.NetworkSettings.Ports {
		for _, b := range bs {
			if p, err := strconv.Atoi(b.HostPort); err == nil {
				if c.Ports == nil {
					c.Ports = map[string]int{}
				}
				c.Ports[port] = p
				break
			}
		}
	}
	return c
}

func (c *dockerClient) inspect(ctx context.Context, id string) (Container, error) {
	var in inspected
	if _, err := c.do(ctx, http.MethodGet, "/containers/"+c.name(id)+"/json", nil, nil, &in); err != nil {
		return Container{}, err
	}
	if in.Config.Labels[labelAgent] != c.agentID {
		return Container{}, &dockerError{status: http.StatusNotFound, message: "no such container"}
	}
	return in.container(), nil
}

// create creates (and starts) the container of r, or returns the one already
// created under r.ID.
func (c *dockerClient) create(ctx context.Context, r ContainerRequest) (Container, bool, error) {
	env := make([]string, 0, len(r.Env))
	for _, k := range slices.Sorted(maps.Keys(r.Env)) {
		env = append(env, k+"="+r.Env[k])
	}
	exposed := map[string]struct{}{}
	bindings := map[string][]map[string]string{}
	for port, host := range r.Ports {
		exposed[port] = struct{}{}
		bindings[port] = []map[string]string{{"HostIp": "127.0.0.1", "HostPort": strconv.Itoa(host)}}
	}
	body := map[string]any{
		"Image":        r.Image,
		"Cmd":          r.Cmd,
		"Env":          env,
		"Hostname":     r.Hostname,
		"Labels":       map[string]string{labelAgent: c.agentID, labelID: r.ID, labelReservation: r.Reservation},
		"ExposedPorts": exposed,
		"HostConfig":   map[string]any{"PortBindings": bindings},
	}
	// A retried create finds the container: the same image and reservation
	// make it the same request. Docker's own 409 covers a concurrent create.
	cur, err := c.inspect(ctx, r.ID)
	created := false
	if dockerStatus(err) == http.StatusNotFound {
		q := url.Values{"name": {c.name(r.ID)}}
		_, err = c.do(ctx, http.MethodPost, "/containers/create", q, body, nil)
		created = err == nil
		if err == nil || dockerStatus(err) == http.StatusConflict {
			cur, err = c.inspect(ctx, r.ID)
		}
	}
	if err != nil {
		return Container{}, false, err
	}
	if !created && (cur.Image != r.Image || cur.Reservation != r.Reservation) {
		return Container{}, false, fmt.Errorf("%w: container %q already exists with image %s; pick another id", errConflict, r.ID, cur.Image)
	}
	if (r.Start == nil || *r.Start) && cur.State == "created" {
		if err := c.start(ctx, r.ID); err != nil {
			return Container{}, false, err
		}
		if cur, err = c.inspect(ctx, r.ID); err != nil {
			return Container{}, false, err
		}
	}
	return cur, created, nil
}

func (c *dockerClient) start(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodPost, "/containers/"+c.name(id)+"/start", nil, nil, nil)
	return err
}

func (c *dockerClient) stop(ctx context.Context, id string, grace time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(int(grace.Seconds()))}}
	_, err := c.do(ctx, http.MethodPost, "/containers/"+c.name(id)+"/stop", q, nil, nil)
	return err
}

func (c *dockerClient) remove(ctx context.Context, id string) error {
	q := url.Values{"force": {"1"}, "v": {"1"}}
	_, err := c.do(ctx, http.MethodDelete, "/containers/"+c.name(id), q, nil, nil)
	return err
}

func (c *dockerClient) list(ctx context.Context) ([]Container, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {labelAgent + "=" + c.agentID}})
	var items []struct {
		Labels map[string]string `json:"Labels"`
	}
	q := url.Values{"all": {"1"}, "filters": {string(filters)}}
	if _, err := c.do(ctx, http.MethodGet, "/containers/json", q, nil, &items); err != nil {
		return nil, err
	}
	out := []Container{}
	for _, it := range items {
		ct, err := c.inspect(ctx, it.Labels[labelID])
		if dockerStatus(err) == http.StatusNotFound {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// stopAll stops the running containers that keep selects, in parallel, and
// returns how many it stopped.
func (c *dockerClient) stopAll(keep func(Container) bool, grace time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := c.list(ctx)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	n := 0
	for _, ct := range cs {
		if ct.State != "running" || !keep(ct) {
			continue
		}
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.stop(ctx, ct.ID, grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// HTTP handlers.

func (a *Agent) needDocker(w http.ResponseWriter) bool {
	if a.docker == nil {
		writeProblem(w, http.StatusNotImplemented, CodeUnavailable, "No container runtime",
			"this agent runs without Docker; start it with --docker-host unix:///var/run/docker.sock")
		return false
	}
	return true
}

func dockerProblem(w http.ResponseWriter, id string, err error) {
	switch st := dockerStatus(err); {
	case errors.Is(err, errConflict):
		writeProblem(w, http.StatusConflict, CodeConflict, "Container id in use", err.Error())
	case st == http.StatusNotFound:
		writeProblem(w, http.StatusNotFound, CodeNotFound, "Not found", fmt.Sprintf("container %q: %v", id, err))
	case st == http.StatusBadRequest:
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid container", err.Error())
	case st == http.StatusConflict:
		writeProblem(w, http.StatusConflict, CodeConflict, "Container conflict", err.Error())
	case st >= 400 && st < 500:
		writeProblem(w, http.StatusUnprocessableEntity, CodeFailed, "Docker refused", err.Error())
	default:
		writeProblem(w, http.StatusBadGateway, CodeUnavailable, "Docker engine failed", err.Error())
	}
}

func (a *Agent) handleCreateContainer(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	var req ContainerRequest
	if !decodeJSON(w, r, &req, false) {
		return
	}
	if err := validID(req.ID); err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid container id", err.Error())
		return
	}
	if req.Image == "" {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Missing image", "name the image in \"image\"; it must be present on the node")
		return
	}
	for port, host := range req.Ports {
		if !strings.Contains(port, "/") || host < 0 || host > 65535 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid port", fmt.Sprintf("%q → %d: map \"<port>/tcp\" or \"<port>/udp\" to a host port (0 for any)", port, host))
			return
		}
	}
	a.lifecycle.RLock()
	c, created, err := a.docker.create(r.Context(), req)
	a.lifecycle.RUnlock()
	if err != nil {
		if dockerStatus(err) == http.StatusNotFound {
			writeProblem(w, http.StatusUnprocessableEntity, CodeNotFound, "No such image",
				fmt.Sprintf("image %q is not on this node (%v); load or build it there first", req.Image, err))
			return
		}
		dockerProblem(w, req.ID, err)
		return
	}
	if created {
		w.Header().Set("Location", "/v1/containers/"+c.ID)
		writeJSON(w, http.StatusCreated, c)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *Agent) handleListContainers(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cs, err := a.docker.list(r.Context())
	if err != nil {
		dockerProblem(w, "", err)
		return
	}
	if res := r.URL.Query().Get("reservation"); res != "" {
		cs = slices.DeleteFunc(cs, func(c Container) bool { return c.Reservation != res })
	}
	writeJSON(w, http.StatusOK, cs)
}

func (a *Agent) handleGetContainer(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	c, err := a.docker.inspect(r.Context(), r.PathValue("id"))
	if err != nil {
		dockerProblem(w, r.PathValue("id"), err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *Agent) containerAction(w http.ResponseWriter, r *http.Request, act func(context.Context, string) error) {
	if !a.needDocker(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := a.docker.inspect(r.Context(), id); err != nil {
		dockerProblem(w, id, err)
		return
	}
	a.lifecycle.RLock()
	err := act(r.Context(), id)
	a.lifecycle.RUnlock()
	if err != nil {
		dockerProblem(w, id, err)
		return
	}
	c, err := a.docker.inspect(r.Context(), id)
	if err != nil {
		dockerProblem(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *Agent) handleStartContainer(w http.ResponseWriter, r *http.Request) {
	a.containerAction(w, r, a.docker.start)
}

func (a *Agent) handleStopContainer(w http.ResponseWriter, r *http.Request) {
	a.containerAction(w, r, func(ctx context.Context, id string) error { return a.docker.stop(ctx, id, a.cfg.KillGrace) })
}

func (a *Agent) handleDeleteContainer(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := a.docker.inspect(r.Context(), id); err != nil {
		dockerProblem(w, id, err)
		return
	}
	if err := a.docker.remove(r.Context(), id); err != nil && dockerStatus(err) != http.StatusNotFound {
		dockerProblem(w, id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
