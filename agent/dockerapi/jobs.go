package dockerapi

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Where jobs keep their state inside a container (see the package doc).
const (
	jobsDir = "/.gridflow/jobs"
	outDir  = "/.gridflow/out"
)

// wrapper runs a job: $0 is the job id, the arguments are the command. The
// noclobber write of run/ makes a second start of the same id a no-op; the
// command gets a session of its own (setsid) when the image has setsid, so
// that a kill of its process group reaches its children. Only shell builtins
// are needed besides setsid.
const wrapper = `d=` + jobsDir + `/$0
o=` + outDir + `/$0
( set -C; : >"$d/run" ) 2>/dev/null || exit 0
if command -v setsid >/dev/null 2>&1; then
  setsid /bin/sh -c 'echo $$ >"$0/pid"; exec "$@"' "$d" "$@" >"$o.stdout" 2>"$o.stderr" </dev/null
else
  /bin/sh -c 'echo $$ >"$0/pid"; exec "$@"' "$d" "$@" >"$o.stdout" 2>"$o.stderr" </dev/null
fi
echo $? >"$d/exit"
`

// killer stops a job: $0 is the job id, $1 the grace period in tenths of a
// second between SIGTERM and SIGKILL.
const killer = `d=` + jobsDir + `/$0
[ -s "$d/exit" ] && exit 0
read p 2>/dev/null <"$d/pid" || exit 3
echo TERM >"$d/killed"
kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
i=0
while [ ! -s "$d/exit" ] && [ "$i" -lt "$1" ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done
[ -s "$d/exit" ] && exit 0
echo KILL >"$d/killed"
kill -KILL -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
exit 0
`

// ErrNoShell: the image has no /bin/sh to run jobs with.
var ErrNoShell = errors.New("no /bin/sh in the container")

// JobSpec describes a command to run inside a container.
type JobSpec struct {
	// ID names the job within its container and makes Exec idempotent.
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Args []string          `json:"args,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	// Pwd is the working directory in the container; empty: the image's.
	Pwd         string `json:"pwd,omitempty"`
	Reservation string `json:"reservation,omitempty"`
}

func (s JobSpec) same(o JobSpec) bool {
	return s.Name == o.Name && slices.Equal(s.Args, o.Args) && maps.Equal(s.Env, o.Env) && s.Pwd == o.Pwd && s.Reservation == o.Reservation
}

// Job states.
const (
	JobRunning = "running"
	JobExited  = "exited"
	// JobLost: the container stopped or restarted while the job ran; how
	// the job ended is unknown.
	JobLost = "lost"
)

// Job is the state of a job.
type Job struct {
	JobSpec
	Container string
	// PID is the pid of the command inside the container (0 while it starts).
	PID   int
	State string
	// ExitCode is -1 when a kill's signal ended the job, nil while it runs.
	ExitCode *int
	Signal   string
	Started  time.Time
	Ended    *time.Time
}

// JobOutput is the tail of what a job wrote.
type JobOutput struct {
	Stdout, Stderr         []byte
	StdoutSize, StderrSize int64
	Truncated              bool
}

type meta struct {
	JobSpec
	Started time.Time `json:"started"`
}

// file is an entry of an archive read from a container.
type file struct {
	dir     bool
	size    int64
	modTime time.Time
	body    []byte // files of the job directory only; small
}

// readArchive reads the tree at p in the container (GET …/archive): the
// entries by path relative to p, and whether p exists. Regular files whose
// name keep selects are read, up to limit bytes from their end (0: all).
func (c *Client) readArchive(ctx context.Context, container, p string, keep func(string) bool, limit int64) (map[string]file, bool, error) {
	resp, err := c.request(ctx, http.MethodGet, "/containers/"+c.Name(container)+"/archive", url.Values{"path": {p}}, nil, "")
	if IsNotFound(err) {
		// Either the container or the path: tell them apart.
		if _, ierr := c.Inspect(ctx, container); ierr != nil {
			return nil, false, ierr
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	out := map[string]file{}
	tr := tar.NewReader(resp.Body)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("docker engine: reading %s of container %s: %w", p, container, err)
		}
		// The archive names entries after the last element of p.
		_, rel, _ := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/")
		f := file{dir: h.Typeflag == tar.TypeDir, size: h.Size, modTime: h.ModTime}
		if h.Typeflag == tar.TypeReg && keep(rel) {
			if skip := h.Size - limit; limit > 0 && skip > 0 {
				if _, err := io.CopyN(io.Discard, tr, skip); err != nil {
					return nil, false, fmt.Errorf("docker engine: reading %s of container %s: %w", p, container, err)
				}
			}
			if f.body, err = io.ReadAll(tr); err != nil {
				return nil, false, fmt.Errorf("docker engine: reading %s of container %s: %w", p, container, err)
			}
		}
		out[rel] = f
	}
}

// writeFiles writes files (absolute path → content; a path ending in "/" is
// a directory) into the container (PUT …/archive).
func (c *Client) writeFiles(ctx context.Context, container string, files map[string][]byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		name := strings.TrimPrefix(p, "/")
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[p])), ModTime: now, Typeflag: tar.TypeReg}
		if strings.HasSuffix(p, "/") {
			h.Mode, h.Size, h.Typeflag = 0o755, 0, tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(files[p]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := c.request(ctx, http.MethodPut, "/containers/"+c.Name(container)+"/archive", url.Values{"path": {"/"}}, &buf, "application/x-tar")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// jobFiles are the small state files of a job directory.
func jobFiles(rel string) bool {
	switch path.Base(rel) {
	case "meta.json", "pid", "exit", "killed":
		return true
	}
	return false
}

// job builds the state of one job from its directory.
func job(container Container, files map[string]file) (Job, bool) {
	mf, ok := files["meta.json"]
	if !ok {
		return Job{}, false
	}
	var m meta
	if json.Unmarshal(mf.body, &m) != nil {
		return Job{}, false
	}
	j := Job{JobSpec: m.JobSpec, Container: container.ID, State: JobRunning, Started: m.Started}
	if f, ok := files["pid"]; ok {
		j.PID, _ = strconv.Atoi(strings.TrimSpace(string(f.body)))
	}
	if f, ok := files["exit"]; ok {
		if code, err := strconv.Atoi(strings.TrimSpace(string(f.body))); err == nil {
			ended := f.modTime
			if ended.Before(j.Started) {
				ended = j.Started // the node's clock is behind ours
			}
			j.State, j.ExitCode, j.Ended = JobExited, &code, &ended
			if k, ok := files["killed"]; ok && code > 128 {
				minus := -1
				j.ExitCode, j.Signal = &minus, signalName(code-128, strings.TrimSpace(string(k.body)))
			}
			return j, true
		}
	}
	// No exit status: the job runs, unless its container stopped or
	// restarted since it started (what the wrapper wrote dates it on the
	// node's clock).
	since := j.Started
	if f, ok := files["run"]; ok {
		since = f.modTime
	}
	if !container.Running() || (container.Started != nil && container.Started.After(since.Add(time.Second))) {
		j.State = JobLost
		if container.Finished != nil {
			t := *container.Finished
			j.Ended = &t
		}
	}
	return j, true
}

func signalName(n int, sent string) string {
	switch n {
	case 1:
		return "SIGHUP"
	case 2:
		return "SIGINT"
	case 9:
		return "SIGKILL"
	case 15:
		return "SIGTERM"
	}
	if sent != "" {
		return "SIG" + sent
	}
	return "SIG" + strconv.Itoa(n)
}

// CheckJob says what is wrong with a job spec, or nil.
func CheckJob(s JobSpec) error {
	if err := checkID("job", s.ID); err != nil {
		return err
	}
	if strings.TrimSpace(s.Name) == "" {
		return errors.New("name the program to run in \"name\"")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("environment variable name %q: use a name without '=' or NUL", k)
		}
	}
	return nil
}

// Job returns the state of a job; an unknown job is a 404 *Error.
func (c *Client) Job(ctx context.Context, container, id string) (Job, error) {
	ct, err := c.Inspect(ctx, container)
	if err != nil {
		return Job{}, err
	}
	return c.job(ctx, ct, id)
}

func (c *Client) job(ctx context.Context, ct Container, id string) (Job, error) {
	if !validID(id) {
		return Job{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no job %q in container %s", id, ct.ID)}
	}
	files, found, err := c.readArchive(ctx, ct.ID, jobsDir+"/"+id, jobFiles, 4096)
	if err != nil {
		return Job{}, err
	}
	j, ok := job(ct, files)
	if !found || !ok {
		return Job{}, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no job %q in container %s", id, ct.ID)}
	}
	return j, nil
}

// Jobs lists the jobs of a container, oldest first.
func (c *Client) Jobs(ctx context.Context, container string) ([]Job, error) {
	ct, err := c.Inspect(ctx, container)
	if err != nil {
		return nil, err
	}
	files, _, err := c.readArchive(ctx, container, jobsDir, jobFiles, 4096)
	if err != nil {
		return nil, err
	}
	byJob := map[string]map[string]file{}
	for rel, f := range files {
		id, name, ok := strings.Cut(rel, "/")
		if !ok {
			continue
		}
		if byJob[id] == nil {
			byJob[id] = map[string]file{}
		}
		byJob[id][name] = f
	}
	out := []Job{}
	for _, fs := range byJob {
		if j, ok := job(ct, fs); ok {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b Job) int {
		if d := a.Started.Compare(b.Started); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Exec starts a job in a running container, or returns the job already
// started under s.ID (created says which). The same id for another command
// is ErrConflict; a container that does not run, ErrNotRunning; an image
// without a shell, ErrNoShell. A command that does not exist starts, and
// ends with status 127 and the shell's message on stderr.
func (c *Client) Exec(ctx context.Context, container string, s JobSpec) (j Job, created bool, err error) {
	if err := CheckJob(s); err != nil {
		return Job{}, false, &Error{Status: http.StatusBadRequest, Message: err.Error()}
	}
	ct, err := c.Inspect(ctx, container)
	if err != nil {
		return Job{}, false, err
	}
	files, found, err := c.readArchive(ctx, container, jobsDir+"/"+s.ID, jobFiles, 4096)
	if err != nil {
		return Job{}, false, err
	}
	if cur, ok := job(ct, files); found && ok {
		if !cur.same(s) {
			return Job{}, false, fmt.Errorf("%w: job %q already exists in container %s with another command; pick another id", ErrConflict, s.ID, container)
		}
		if _, started := files["run"]; started {
			return cur, false, nil
		}
		// A start that stopped between writing the job and running it.
	} else {
		if !ct.Running() {
			return Job{}, false, fmt.Errorf("%w: container %s is %s; start it first", ErrNotRunning, container, ct.State)
		}
		raw, _ := json.Marshal(meta{JobSpec: s, Started: time.Now().UTC()})
		err := c.writeFiles(ctx, container, map[string][]byte{
			"/.gridflow/": nil, jobsDir + "/": nil, outDir + "/": nil,
			jobsDir + "/" + s.ID + "/":          nil,
			jobsDir + "/" + s.ID + "/meta.json": raw,
		})
		if err != nil {
			return Job{}, false, err
		}
		created = true
	}
	env := make([]string, 0, len(s.Env)+1)
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		env = append(env, k+"="+s.Env[k])
	}
	env = append(env, "GRIDFLOW_JOB="+s.ID)
	cmd := append([]string{"/bin/sh", "-c", wrapper, s.ID, s.Name}, s.Args...)
	if _, err := c.exec(ctx, container, cmd, env, s.Pwd, true); err != nil {
		if errors.Is(err, ErrNotRunning) {
			return Job{}, false, err
		}
		// The job could not start: record why, so that it reads as failed
		// (and a retry under the same id finds it so).
		code := "126"
		if errors.Is(err, ErrNoShell) || strings.Contains(err.Error(), "no such file") {
			code = "127"
		}
		_ = c.writeFiles(ctx, container, map[string][]byte{
			jobsDir + "/" + s.ID + "/run":   nil,
			jobsDir + "/" + s.ID + "/exit":  []byte(code + "\n"),
			outDir + "/" + s.ID + ".stderr": []byte(err.Error() + "\n"),
		})
		return Job{}, false, err
	}
	// Answer with the pid when the wrapper writes it quickly.
	deadline := time.Now().Add(2 * time.Second)
	for {
		j, err = c.job(ctx, ct, s.ID)
		if err != nil || j.PID != 0 || j.State != JobRunning || time.Now().After(deadline) {
			return j, created, err
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return j, created, err
		}
	}
}

// KillJob stops a job (SIGTERM to its process group, SIGKILL after grace)
// and returns its final state. Killing an ended job does nothing.
func (c *Client) KillJob(ctx context.Context, container, id string, grace time.Duration) (Job, error) {
	ct, err := c.Inspect(ctx, container)
	if err != nil {
		return Job{}, err
	}
	j, err := c.job(ctx, ct, id)
	if err != nil || j.State != JobRunning {
		return j, err
	}
	// A job just started may not have written its pid yet.
	deadline := time.Now().Add(2 * time.Second)
	for j.PID == 0 && j.State == JobRunning && time.Now().Before(deadline) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return j, err
		}
		if j, err = c.job(ctx, ct, id); err != nil {
			return j, err
		}
	}
	if j.State != JobRunning {
		return j, nil
	}
	tenths := strconv.Itoa(max(int(grace/(100*time.Millisecond)), 1))
	if _, err := c.exec(ctx, container, []string{"/bin/sh", "-c", killer, id, tenths}, nil, "", false); err != nil && !errors.Is(err, ErrNotRunning) {
		return j, err
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if j, err = c.Job(ctx, container, id); err != nil || j.State != JobRunning || time.Now().After(deadline) {
			return j, err
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return j, err
		}
	}
}

// JobOutput returns the last limit bytes of each stream of a job (a
// negative limit: all of them; 0: only their sizes).
func (c *Client) JobOutput(ctx context.Context, container, id string, limit int64) (JobOutput, error) {
	if _, err := c.Job(ctx, container, id); err != nil {
		return JobOutput{}, err
	}
	var out JobOutput
	for _, s := range []struct {
		name string
		body *[]byte
		size *int64
	}{{"stdout", &out.Stdout, &out.StdoutSize}, {"stderr", &out.Stderr, &out.StderrSize}} {
		files, _, err := c.readArchive(ctx, container, outDir+"/"+id+"."+s.name, func(string) bool { return limit != 0 }, max(limit, 0))
		if err != nil {
			return JobOutput{}, err
		}
		for _, f := range files {
			*s.body, *s.size = f.body, f.size
			if int64(len(f.body)) < f.size {
				out.Truncated = true
			}
		}
	}
	return out, nil
}

// exec runs cmd in the container; detached, it returns once the command
// started, else once it ended, with its exit code.
func (c *Client) exec(ctx context.Context, container string, cmd, env []string, pwd string, detach bool) (int, error) {
	var created struct {
		ID string `json:"Id"`
	}
	body := map[string]any{"Cmd": cmd, "Env": env, "WorkingDir": pwd, "AttachStdout": !detach, "AttachStderr": !detach}
	if _, err := c.Do(ctx, http.MethodPost, "/containers/"+c.Name(container)+"/exec", nil, body, &created); err != nil {
		if StatusOf(err) == http.StatusConflict {
			return 0, fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		return 0, err
	}
	resp, err := c.request(ctx, http.MethodPost, "/exec/"+created.ID+"/start", nil,
		strings.NewReader(fmt.Sprintf(`{"Detach":%t,"Tty":false}`, detach)), "application/json")
	if err != nil {
		if strings.Contains(err.Error(), `"/bin/sh"`) && strings.Contains(err.Error(), "no such file") {
			return 0, fmt.Errorf("%w: the image of container %s has no /bin/sh; jobs run through a POSIX shell inside the container (%v)", ErrNoShell, container, err)
		}
		if StatusOf(err) == http.StatusConflict {
			return 0, fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		return 0, err
	}
	if !detach {
		// Multiplexed stdout/stderr frames; their content is not needed.
		err = drain(resp.Body)
	}
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	var state struct {
		Running  bool `json:"Running"`
		ExitCode int  `json:"ExitCode"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/exec/"+created.ID+"/json", nil, nil, &state); err != nil {
		return 0, err
	}
	return state.ExitCode, nil
}

// drain reads a multiplexed exec stream to its end.
func drain(r io.Reader) error {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("docker engine: reading exec output: %w", err)
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[4:]))); err != nil {
			return fmt.Errorf("docker engine: reading exec output: %w", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
