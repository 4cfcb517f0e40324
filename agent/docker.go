package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gridflow/gridflow/agent/dockerapi"
)

// dockerClient is the agent's Docker Engine: containers are scoped by the
// agent id (named gridflow-<agent id>-<id> and labelled), so that several
// agents can share one Docker Engine without seeing each other's containers.
type dockerClient struct {
	*dockerapi.Client
}

func newDockerClient(host, agentID string) (*dockerClient, error) {
	c, err := dockerapi.New(host, agentID)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &dockerClient{c}, nil
}

func container(c dockerapi.Container) Container {
	return Container{
		ID: c.ID, DockerID: c.DockerID, Name: c.Name, Image: c.Image, Cmd: c.Cmd, Env: c.Env,
		Hostname: c.Hostname, WorkingDir: c.WorkingDir, HostNetwork: c.HostNetwork,
		State: c.State, ExitCode: c.ExitCode, Ports: c.Ports, Reservation: c.Reservation,
		Created: c.Created, Started: c.Started, Finished: c.Finished,
	}
}

func job(j dockerapi.Job) Job {
	return Job{
		ID: j.ID, Container: j.Container, Name: j.Name, Args: j.Args, Env: j.Env, Pwd: j.Pwd, Reservation: j.Reservation,
		PID: j.PID, State: j.State, ExitCode: j.ExitCode, Signal: j.Signal, Started: j.Started, Ended: j.Ended,
	}
}

// stopAll stops the running containers that keep selects and returns how
// many it stopped (a reboot).
func (c *dockerClient) stopAll(keep func(Container) bool, grace time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+grace)
	defer cancel()
	return c.StopAll(ctx, func(ct dockerapi.Container) bool { return keep(container(ct)) }, grace)
}

// removeAll removes the containers that keep selects and returns how many it
// removed (the end of a reservation).
func (c *dockerClient) removeAll(keep func(Container) bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return c.RemoveAll(ctx, func(ct dockerapi.Container) bool { return keep(container(ct)) })
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

// dockerProblem answers an error of the Docker Engine; what names the
// container or job concerned.
func dockerProblem(w http.ResponseWriter, what string, err error) {
	switch st := dockerapi.StatusOf(err); {
	case errors.Is(err, dockerapi.ErrConflict):
		writeProblem(w, http.StatusConflict, CodeConflict, "Id in use", err.Error())
	case errors.Is(err, dockerapi.ErrNotRunning):
		writeProblem(w, http.StatusConflict, CodeConflict, "Container not running", err.Error())
	case errors.Is(err, dockerapi.ErrNoShell):
		writeProblem(w, http.StatusUnprocessableEntity, CodeFailed, "No shell in the container", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeProblem(w, http.StatusServiceUnavailable, CodeUnavailable, "Gave up", err.Error())
	case st == http.StatusNotFound:
		writeProblem(w, http.StatusNotFound, CodeNotFound, "Not found", fmt.Sprintf("%s: %v", what, err))
	case st == http.StatusBadRequest:
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid request", err.Error())
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
	spec := dockerapi.Spec{ID: req.ID, Image: req.Image, Cmd: req.Cmd, Env: req.Env, Hostname: req.Hostname,
		WorkingDir: req.WorkingDir, Ports: req.Ports, HostNetwork: req.HostNetwork, Reservation: req.Reservation,
		NoStart: req.Start != nil && !*req.Start}
	if err := dockerapi.CheckSpec(spec); err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid container", err.Error())
		return
	}
	a.lifecycle.RLock()
	c, created, err := a.docker.Create(r.Context(), spec)
	a.lifecycle.RUnlock()
	if err != nil {
		if dockerapi.IsNotFound(err) {
			writeProblem(w, http.StatusUnprocessableEntity, CodeNotFound, "No such image",
				fmt.Sprintf("image %q is not on this node (%v); load or build it there first", req.Image, err))
			return
		}
		dockerProblem(w, "container "+strconv.Quote(req.ID), err)
		return
	}
	if created {
		w.Header().Set("Location", "/v1/containers/"+c.ID)
		writeJSON(w, http.StatusCreated, container(c))
		return
	}
	writeJSON(w, http.StatusOK, container(c))
}

func (a *Agent) handleListContainers(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cs, err := a.docker.List(r.Context())
	if err != nil {
		dockerProblem(w, "containers", err)
		return
	}
	out := []Container{}
	res := r.URL.Query().Get("reservation")
	for _, c := range cs {
		if res == "" || c.Reservation == res {
			out = append(out, container(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) handleGetContainer(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	id := r.PathValue("id")
	c, err := a.docker.Inspect(r.Context(), id)
	if err != nil {
		dockerProblem(w, "container "+strconv.Quote(id), err)
		return
	}
	writeJSON(w, http.StatusOK, container(c))
}

func (a *Agent) containerAction(w http.ResponseWriter, r *http.Request, act func(context.Context, string) error) {
	if !a.needDocker(w) {
		return
	}
	id := r.PathValue("id")
	what := "container " + strconv.Quote(id)
	if _, err := a.docker.Inspect(r.Context(), id); err != nil {
		dockerProblem(w, what, err)
		return
	}
	a.lifecycle.RLock()
	err := act(r.Context(), id)
	a.lifecycle.RUnlock()
	if err != nil {
		dockerProblem(w, what, err)
		return
	}
	c, err := a.docker.Inspect(r.Context(), id)
	if err != nil {
		dockerProblem(w, what, err)
		return
	}
	writeJSON(w, http.StatusOK, container(c))
}

func (a *Agent) handleStartContainer(w http.ResponseWriter, r *http.Request) {
	a.containerAction(w, r, func(ctx context.Context, id string) error { return a.docker.Start(ctx, id) })
}

func (a *Agent) handleStopContainer(w http.ResponseWriter, r *http.Request) {
	a.containerAction(w, r, func(ctx context.Context, id string) error { return a.docker.Stop(ctx, id, a.cfg.KillGrace) })
}

func (a *Agent) handleDeleteContainer(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	id := r.PathValue("id")
	if _, err := a.docker.Inspect(r.Context(), id); err != nil {
		dockerProblem(w, "container "+strconv.Quote(id), err)
		return
	}
	if err := a.docker.Remove(r.Context(), id); err != nil && !dockerapi.IsNotFound(err) {
		dockerProblem(w, "container "+strconv.Quote(id), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) handleStartJob(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cid := r.PathValue("id")
	var req JobRequest
	if !decodeJSON(w, r, &req, false) {
		return
	}
	if req.ID == "" {
		req.ID = "j" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if err := validID(req.ID); err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid job id", err.Error())
		return
	}
	spec := dockerapi.JobSpec{ID: req.ID, Name: req.Name, Args: req.Args, Env: req.Env, Pwd: req.Pwd, Reservation: req.Reservation}
	if err := dockerapi.CheckJob(spec); err != nil {
		writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid job", err.Error())
		return
	}
	a.lifecycle.RLock()
	j, created, err := a.docker.Exec(r.Context(), cid, spec)
	a.lifecycle.RUnlock()
	if err != nil {
		dockerProblem(w, "container "+strconv.Quote(cid), err)
		return
	}
	if created {
		w.Header().Set("Location", "/v1/containers/"+cid+"/jobs/"+j.ID)
		writeJSON(w, http.StatusCreated, job(j))
		return
	}
	writeJSON(w, http.StatusOK, job(j))
}

func (a *Agent) handleListJobs(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cid := r.PathValue("id")
	js, err := a.docker.Jobs(r.Context(), cid)
	if err != nil {
		dockerProblem(w, "container "+strconv.Quote(cid), err)
		return
	}
	out := make([]Job, len(js))
	for i, j := range js {
		out[i] = job(j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) handleGetJob(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cid, jid := r.PathValue("id"), r.PathValue("job")
	j, err := a.docker.Job(r.Context(), cid, jid)
	if err != nil {
		dockerProblem(w, "job "+strconv.Quote(jid)+" of container "+strconv.Quote(cid), err)
		return
	}
	writeJSON(w, http.StatusOK, job(j))
}

func (a *Agent) handleJobOutput(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	limit := a.cfg.OutputLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid limit", "limit is a number of bytes")
			return
		}
		limit = min(n, a.cfg.OutputLimit)
	}
	cid, jid := r.PathValue("id"), r.PathValue("job")
	o, err := a.docker.JobOutput(r.Context(), cid, jid, limit)
	if err != nil {
		dockerProblem(w, "job "+strconv.Quote(jid)+" of container "+strconv.Quote(cid), err)
		return
	}
	writeJSON(w, http.StatusOK, Output{Stdout: string(o.Stdout), Stderr: string(o.Stderr), StdoutSize: o.StdoutSize, StderrSize: o.StderrSize, Truncated: o.Truncated})
}

func (a *Agent) handleKillJob(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	grace := a.cfg.KillGrace
	if s := r.URL.Query().Get("grace"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			writeProblem(w, http.StatusBadRequest, CodeInvalid, "Invalid grace", "grace is a duration such as 2s")
			return
		}
		grace = d
	}
	cid, jid := r.PathValue("id"), r.PathValue("job")
	j, err := a.docker.KillJob(r.Context(), cid, jid, grace)
	if err != nil {
		dockerProblem(w, "job "+strconv.Quote(jid)+" of container "+strconv.Quote(cid), err)
		return
	}
	writeJSON(w, http.StatusOK, job(j))
}

func (a *Agent) handleContainerProcesses(w http.ResponseWriter, r *http.Request) {
	if !a.needDocker(w) {
		return
	}
	cid := r.PathValue("id")
	ps, err := a.docker.Top(r.Context(), cid)
	if err != nil {
		dockerProblem(w, "container "+strconv.Quote(cid), err)
		return
	}
	out := make([]ContainerProcess, len(ps))
	for i, p := range ps {
		out[i] = ContainerProcess{PID: p.PID, PPID: p.PPID, CPUPercent: p.CPUPercent, RSS: p.RSS, VMS: p.VMS,
			ElapsedSeconds: p.Elapsed.Seconds(), Cmdline: p.Cmdline}
	}
	slices.SortFunc(out, func(a, b ContainerProcess) int { return a.PID - b.PID })
	writeJSON(w, http.StatusOK, out)
}
