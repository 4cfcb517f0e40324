package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Labels of the containers a Client creates. LabelScope keeps the name it
// had when only agents created containers, so that their containers stay
// visible.
const (
	LabelScope       = "gridflow.agent"
	LabelID          = "gridflow.id"
	LabelReservation = "gridflow.reservation"
	LabelEnv         = "gridflow.env" // the keys of Spec.Env, comma-separated
)

// Spec describes a container to create.
type Spec struct {
	// ID names the container within the scope.
	ID       string
	Image    string
	Cmd      []string
	Env      map[string]string
	Hostname string
	// WorkingDir of the main process; empty: the image's.
	WorkingDir string
	// Ports maps a container port ("8080/tcp") to a port of the host on
	// 127.0.0.1 (0: any free port).
	Ports map[string]int
	// HostNetwork runs the container in the host's network namespace.
	HostNetwork bool
	Reservation string
	// NoStart leaves the container created.
	NoStart bool
}

// Container states (Docker's words).
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
)

// Container is a container of the client's scope.
type Container struct {
	ID          string
	DockerID    string
	Name        string
	Image       string
	Cmd         []string
	Env         map[string]string // what Spec.Env set (not the image's variables)
	Hostname    string
	WorkingDir  string
	HostNetwork bool
	State       string
	ExitCode    int
	Ports       map[string]int
	Reservation string
	Created     time.Time
	Started     *time.Time
	Finished    *time.Time
}

// Running says whether the container runs (or is paused or restarting).
func (c Container) Running() bool {
	return c.State == StateRunning || c.State == "paused" || c.State == "restarting"
}

// Name is the Docker name of the container id of the client's scope.
func (c *Client) Name(id string) string { return "gridflow-" + c.scope + "-" + id }

// inspected is the part of GET /containers/{id}/json the client reads.
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
		Image      string            `json:"Image"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Hostname   string            `json:"Hostname"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
	} `json:"Config"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
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
		ID: in.Config.Labels[LabelID], DockerID: in.ID, Name: strings.TrimPrefix(in.Name, "/"),
		Image: in.Config.Image, Cmd: in.Config.Cmd, Hostname: in.Config.Hostname, WorkingDir: in.Config.WorkingDir,
		HostNetwork: in.HostConfig.NetworkMode == "host",
		State:       in.State.Status, ExitCode: in.State.ExitCode,
		Reservation: in.Config.Labels[LabelReservation],
		Started:     dockerTime(in.State.StartedAt), Finished: dockerTime(in.State.FinishedAt),
	}
	if t := dockerTime(in.Created); t != nil {
		c.Created = *t
	}
	if c.Started != nil && c.Finished != nil && c.Running() {
		c.Finished = nil // the end of a previous run
	}
	if keys := in.Config.Labels[LabelEnv]; keys != "" {
		want := map[string]bool{}
		for k := range strings.SplitSeq(keys, ",") {
			want[k] = true
		}
		for _, kv := range in.Config.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && want[k] {
				if c.Env == nil {
					c.Env = map[string]string{}
				}
				c.Env[k] = v
			}
		}
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

// Inspect returns the container id of the scope; a container of another
// scope is not found.
func (c *Client) Inspect(ctx context.Context, id string) (Container, error) {
	if err := checkID("container", id); err != nil {
		return Container{}, &Error{Status: http.StatusNotFound, Message: err.Error()}
	}
	var in inspected
	if _, err := c.Do(ctx, http.MethodGet, "/containers/"+c.Name(id)+"/json", nil, nil, &in); err != nil {
		return Container{}, err
	}
	if in.Config.Labels[LabelScope] != c.scope {
		return Container{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no such container: %s", id)}
	}
	return in.container(), nil
}

// CheckSpec says what is wrong with s, or nil.
func CheckSpec(s Spec) error {
	if err := checkID("container", s.ID); err != nil {
		return err
	}
	if strings.TrimSpace(s.Image) == "" {
		return errors.New("name the image in \"image\"; it must be present on the node")
	}
	for port, host := range s.Ports {
		num, proto, ok := strings.Cut(port, "/")
		if n, err := strconv.Atoi(num); !ok || err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp") || host < 0 || host > 65535 {
			return fmt.Errorf("port %q → %d: map \"<port>/tcp\" or \"<port>/udp\" to a host port (0 for any)", port, host)
		}
	}
	if s.HostNetwork && len(s.Ports) > 0 {
		return errors.New("a container on the host's network uses the host's ports directly: give either ports or host networking, not both")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=,\x00") {
			return fmt.Errorf("environment variable name %q: use a name without '=', ',' or NUL", k)
		}
	}
	return nil
}

// Create creates (and, unless s.NoStart, starts) the container of s, or
// returns the one already created under s.ID; created says which. The same
// id with another image or reservation is ErrConflict; an image the engine
// does not have is a 404 *Error.
func (c *Client) Create(ctx context.Context, s Spec) (ct Container, created bool, err error) {
	if err := CheckSpec(s); err != nil {
		return Container{}, false, &Error{Status: http.StatusBadRequest, Message: err.Error()}
	}
	keys := slices.Sorted(maps.Keys(s.Env))
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+s.Env[k])
	}
	exposed := map[string]struct{}{}
	bindings := map[string][]map[string]string{}
	for port, host := range s.Ports {
		exposed[port] = struct{}{}
		hp := ""
		if host > 0 {
			hp = strconv.Itoa(host)
		}
		bindings[port] = []map[string]string{{"HostIp": "127.0.0.1", "HostPort": hp}}
	}
	hostConfig := map[string]any{"PortBindings": bindings}
	if s.HostNetwork {
		hostConfig = map[string]any{"NetworkMode": "host"}
	}
	body := map[string]any{
		"Image":        s.Image,
		"Cmd":          s.Cmd,
		"Env":          env,
		"Hostname":     s.Hostname,
		"WorkingDir":   s.WorkingDir,
		"Labels":       map[string]string{LabelScope: c.scope, LabelID: s.ID, LabelReservation: s.Reservation, LabelEnv: strings.Join(keys, ",")},
		"ExposedPorts": exposed,
		"HostConfig":   hostConfig,
	}
	if s.HostNetwork {
		delete(body, "Hostname") // Docker refuses a hostname with the host's network
	}
	// A retried create finds the container: the same image and reservation
	// make it the same request. Docker's own 409 covers a concurrent create.
	cur, err := c.Inspect(ctx, s.ID)
	if IsNotFound(err) {
		_, err = c.Do(ctx, http.MethodPost, "/containers/create", url.Values{"name": {c.Name(s.ID)}}, body, nil)
		created = err == nil
		if err == nil || StatusOf(err) == http.StatusConflict {
			cur, err = c.Inspect(ctx, s.ID)
		}
	}
	if err != nil {
		return Container{}, false, err
	}
	if !created && (cur.Image != s.Image || cur.Reservation != s.Reservation) {
		return Container{}, false, fmt.Errorf("%w: container %q already exists with image %s; pick another id", ErrConflict, s.ID, cur.Image)
	}
	if !s.NoStart && cur.State == StateCreated {
		if err := c.Start(ctx, s.ID); err != nil {
			return Container{}, false, err
		}
		if cur, err = c.Inspect(ctx, s.ID); err != nil {
			return Container{}, false, err
		}
	}
	return cur, created, nil
}

// Start starts a container; starting a running one does nothing.
func (c *Client) Start(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodPost, "/containers/"+c.Name(id)+"/start", nil, nil, nil)
	return err
}

// Stop stops a container: SIGTERM, then SIGKILL after grace.
func (c *Client) Stop(ctx context.Context, id string, grace time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(int(grace.Seconds()))}}
	_, err := c.Do(ctx, http.MethodPost, "/containers/"+c.Name(id)+"/stop", q, nil, nil)
	return err
}

// Remove removes a container, killing it if it runs.
func (c *Client) Remove(ctx context.Context, id string) error {
	q := url.Values{"force": {"1"}, "v": {"1"}}
	_, err := c.Do(ctx, http.MethodDelete, "/containers/"+c.Name(id), q, nil, nil)
	return err
}

// List returns the containers of the scope, by id.
func (c *Client) List(ctx context.Context) ([]Container, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {LabelScope + "=" + c.scope}})
	var items []struct {
		Labels map[string]string `json:"Labels"`
	}
	q := url.Values{"all": {"1"}, "filters": {string(filters)}}
	if _, err := c.Do(ctx, http.MethodGet, "/containers/json", q, nil, &items); err != nil {
		return nil, err
	}
	out := []Container{}
	for _, it := range items {
		ct, err := c.Inspect(ctx, it.Labels[LabelID])
		if IsNotFound(err) {
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

// StopAll stops the running containers that keep selects, in parallel, and
// returns how many it stopped.
func (c *Client) StopAll(ctx context.Context, keep func(Container) bool, grace time.Duration) (int, error) {
	return c.each(ctx, func(ct Container) bool { return ct.Running() && keep(ct) }, func(ctx context.Context, id string) error {
		return c.Stop(ctx, id, grace)
	})
}

// RemoveAll removes the containers that keep selects, in parallel, and
// returns how many it removed.
func (c *Client) RemoveAll(ctx context.Context, keep func(Container) bool) (int, error) {
	return c.each(ctx, keep, func(ctx context.Context, id string) error {
		if err := c.Remove(ctx, id); err != nil && !IsNotFound(err) {
			return err
		}
		return nil
	})
}

func (c *Client) each(ctx context.Context, keep func(Container) bool, act func(context.Context, string) error) (int, error) {
	cs, err := c.List(ctx)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	n := 0
	for _, ct := range cs {
		if !keep(ct) {
			continue
		}
		n++
		wg.Go(func() {
			if err := act(ctx, ct.ID); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("container %s: %w", ct.ID, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// Proc is a process running in a container, as the node's ps sees it.
type Proc struct {
	// PID is the process id on the node (not in the container).
	PID        int
	PPID       int
	CPUPercent float64
	// RSS and VMS are the resident and virtual sizes in bytes.
	RSS, VMS int64
	// Elapsed is the time since the process started.
	Elapsed time.Duration
	Cmdline string
}

// Top lists the processes of a running container with their cpu and memory,
// through the engine's ps (GET /containers/{id}/top).
func (c *Client) Top(ctx context.Context, id string) ([]Proc, error) {
	var out struct {
		Titles    []string   `json:"Titles"`
		Processes [][]string `json:"Processes"`
	}
	q := url.Values{"ps_args": {"-o pid,ppid,pcpu,rss,vsz,etimes,args"}}
	if _, err := c.Do(ctx, http.MethodGet, "/containers/"+c.Name(id)+"/top", q, nil, &out); err != nil {
		if StatusOf(err) == http.StatusConflict || StatusOf(err) == http.StatusInternalServerError && strings.Contains(err.Error(), "not running") {
			return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		return nil, err
	}
	col := map[string]int{}
	for i, t := range out.Titles {
		col[t] = i
	}
	get := func(row []string, title string) string {
		if i, ok := col[title]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	procs := make([]Proc, 0, len(out.Processes))
	for _, row := range out.Processes {
		var p Proc
		p.PID, _ = strconv.Atoi(get(row, "PID"))
		p.PPID, _ = strconv.Atoi(get(row, "PPID"))
		p.CPUPercent, _ = strconv.ParseFloat(get(row, "%CPU"), 64)
		rss, _ := strconv.ParseInt(get(row, "RSS"), 10, 64)
		vsz, _ := strconv.ParseInt(get(row, "VSZ"), 10, 64)
		p.RSS, p.VMS = rss<<10, vsz<<10 // ps counts KiB
		el, _ := strconv.ParseInt(get(row, "ELAPSED"), 10, 64)
		p.Elapsed = time.Duration(el) * time.Second
		p.Cmdline = get(row, "COMMAND")
		procs = append(procs, p)
	}
	slices.SortFunc(procs, func(a, b Proc) int { return a.PID - b.PID })
	return procs, nil
}
