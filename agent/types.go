package agent

import "time"

// The JSON documents of the agent API. They are exported so that clients
// (engine/hw/agentclient) decode exactly what the agent encodes.

// Info is the answer of GET /v1/info: facts read from the host the agent runs on.
type Info struct {
	Hostname string `json:"hostname"`
	// AgentID identifies this agent's data directory; it survives restarts.
	AgentID string `json:"agentId"`
	CPUs    int    `json:"cpus"`
	Load    Load   `json:"load"`
	// BootID is the kernel's boot id; it changes when the host really reboots.
	BootID string `json:"bootId"`
	// Generation counts boots: it grows by one on every reboot, simulated
	// (POST /v1/reboot, an environment install) or real.
	Generation int64 `json:"generation"`
	// BootTime is when the current generation booted; Uptime is the time since.
	BootTime      time.Time    `json:"bootTime"`
	UptimeSeconds float64      `json:"uptimeSeconds"`
	Environment   *Environment `json:"environment,omitempty"`
	Memory        Memory       `json:"memory"`
	Disk          Disk         `json:"disk"`
	// Containers says whether the agent has a container runtime.
	Containers bool      `json:"containers"`
	Time       time.Time `json:"time"`
}

// Load holds the 1, 5 and 15 minute load averages.
type Load struct {
	One     float64 `json:"one"`
	Five    float64 `json:"five"`
	Fifteen float64 `json:"fifteen"`
}

// Memory is the memory of the host in bytes, with the fields of the g8os API.
// Used is Total - Available and UsedPercent is Used/Total*100.
type Memory struct {
	Total       uint64  `json:"total"`
	Available   uint64  `json:"available"`
	Used        uint64  `json:"used"`
	UsedPercent float64 `json:"usedPercent"`
	Free        uint64  `json:"free"`
	Cached      uint64  `json:"cached"`
	Buffers     uint64  `json:"buffers"`
	Active      uint64  `json:"active"`
	Inactive    uint64  `json:"inactive"`
}

// Disk describes the filesystem that holds the agent's data directory, in bytes.
type Disk struct {
	Path        string  `json:"path"`
	Total       uint64  `json:"total"`
	Free        uint64  `json:"free"`
	Available   uint64  `json:"available"`
	Used        uint64  `json:"used"`
	UsedPercent float64 `json:"usedPercent"`
}

// Environment is the installed environment the node booted into.
type Environment struct {
	Name        string    `json:"name"`
	URL         string    `json:"url,omitempty"`
	Checksum    string    `json:"checksum"`
	InstalledAt time.Time `json:"installedAt"`
	// Path is the directory the archive was unpacked into.
	Path string `json:"path"`
}

// EnvironmentRequest is the body of POST /v1/environment.
type EnvironmentRequest struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Checksum string `json:"checksum"`
}

// RebootRequest is the optional body of POST /v1/reboot. With IfGeneration
// set, the agent reboots only while its generation is still that one, so a
// retried reboot does not reboot twice.
type RebootRequest struct {
	IfGeneration int64 `json:"ifGeneration,omitempty"`
}

// ProcessRequest is the body of POST /v1/processes.
type ProcessRequest struct {
	// ID names the process; a second request with the same ID and the same
	// command returns the first process instead of starting another. Empty:
	// the agent picks one. Letters, digits, '.', '_' and '-', at most 128.
	ID   string   `json:"id,omitempty"`
	Name string   `json:"name"`
	Args []string `json:"args,omitempty"`
	// Env is added to the agent's environment (without its GRIDFLOW_* variables).
	Env map[string]string `json:"env,omitempty"`
	// Pwd is the working directory; relative to the file area, which is also the default.
	Pwd         string `json:"pwd,omitempty"`
	Reservation string `json:"reservation,omitempty"`
}

// Process states.
const (
	StateRunning = "running"
	StateExited  = "exited"
	// StateLost is a process the agent started before a restart and can no
	// longer account for; its exit code is unknown.
	StateLost = "lost"
)

// Process describes a managed process.
type Process struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Pwd         string            `json:"pwd,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
	PID         int               `json:"pid"`
	State       string            `json:"state"`
	// ExitCode is set once the process exited on its own; -1 when a signal
	// ended it, absent when unknown.
	ExitCode *int `json:"exitCode,omitempty"`
	// Signal names the signal that ended the process ("SIGTERM"), if any.
	Signal     string     `json:"signal,omitempty"`
	Started    time.Time  `json:"started"`
	Ended      *time.Time `json:"ended,omitempty"`
	Generation int64      `json:"generation"`
	// CPUPercent is the CPU used over the process lifetime (as ps shows it)
	// and RSS its resident memory in bytes; both only while it runs.
	CPUPercent float64 `json:"cpuPercent"`
	RSS        int64   `json:"rss"`
}

// Output is the captured output of a process (GET /v1/processes/{id}/output):
// the last Limit bytes of each stream.
type Output struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	StdoutSize int64  `json:"stdoutSize"`
	StderrSize int64  `json:"stderrSize"`
	Truncated  bool   `json:"truncated"`
}

// StopResult is the answer of DELETE /v1/reservations/{id}.
type StopResult struct {
	Processes  int `json:"processes"`
	Containers int `json:"containers"`
}

// FileInfo describes a stored file (the JSON body of a PUT answer and of the
// entries of a directory listing).
type FileInfo struct {
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	Dir       bool      `json:"dir,omitempty"`
	ModTime   time.Time `json:"modTime"`
	Checksums []string  `json:"checksums,omitempty"`
}

// ContainerRequest is the body of POST /v1/containers.
type ContainerRequest struct {
	// ID names the container on this agent, with the same rules and the same
	// idempotency as a process ID.
	ID       string            `json:"id"`
	Image    string            `json:"image"`
	Cmd      []string          `json:"cmd,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	// Ports maps a container port ("8080/tcp") to a host port on 127.0.0.1
	// (0: any free port).
	Ports map[string]int `json:"ports,omitempty"`
	// WorkingDir of the main process; empty: the image's.
	WorkingDir string `json:"workingDir,omitempty"`
	// HostNetwork runs the container in the host's network (no ports then).
	HostNetwork bool   `json:"hostNetwork,omitempty"`
	Reservation string `json:"reservation,omitempty"`
	// Start, true unless given, starts the container once created.
	Start *bool `json:"start,omitempty"`
}

// Container describes a container managed by the agent.
type Container struct {
	ID       string   `json:"id"`
	DockerID string   `json:"dockerId"`
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	Cmd      []string `json:"cmd,omitempty"`
	// Env holds the variables the request set (not the image's).
	Env         map[string]string `json:"env,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	HostNetwork bool              `json:"hostNetwork,omitempty"`
	State       string            `json:"state"` // Docker's: created, running, exited, …
	ExitCode    int               `json:"exitCode"`
	Ports       map[string]int    `json:"ports,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
	Created     time.Time         `json:"created"`
	Started     *time.Time        `json:"started,omitempty"`
	Finished    *time.Time        `json:"finished,omitempty"`
}

// JobRequest is the body of POST /v1/containers/{id}/jobs: a command to run
// inside the container. The same ID and command again return the first job.
type JobRequest struct {
	// ID names the job in its container; empty: the agent picks one.
	ID   string            `json:"id,omitempty"`
	Name string            `json:"name"`
	Args []string          `json:"args,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	// Pwd is the working directory inside the container; empty: the image's.
	Pwd         string `json:"pwd,omitempty"`
	Reservation string `json:"reservation,omitempty"`
}

// Job describes a command run inside a container.
type Job struct {
	ID          string            `json:"id"`
	Container   string            `json:"container"`
	Name        string            `json:"name"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Pwd         string            `json:"pwd,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
	// PID is the pid inside the container (0 while the job starts).
	PID int `json:"pid"`
	// State is running, exited or lost (the container stopped meanwhile).
	State string `json:"state"`
	// ExitCode is -1 when a kill's signal ended the job, absent while it runs.
	ExitCode *int       `json:"exitCode,omitempty"`
	Signal   string     `json:"signal,omitempty"`
	Started  time.Time  `json:"started"`
	Ended    *time.Time `json:"ended,omitempty"`
}

// ContainerProcess is a process running in a container, as the node's ps
// sees it (GET /v1/containers/{id}/processes).
type ContainerProcess struct {
	// PID is the pid on the node, not inside the container.
	PID            int     `json:"pid"`
	PPID           int     `json:"ppid"`
	CPUPercent     float64 `json:"cpuPercent"`
	RSS            int64   `json:"rss"`
	VMS            int64   `json:"vms"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	Cmdline        string  `json:"cmdline"`
}

// Problem is the body of every error answer (RFC 9457, application/problem+json).
type Problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code classifies the error for programs: one of the Code* constants.
	Code string `json:"code"`
}

// Problem codes.
const (
	CodeUnauthorized     = "unauthorized"
	CodeInvalid          = "invalid"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeExists           = "exists"
	CodeChecksumMismatch = "checksum_mismatch"
	CodeUnavailable      = "unavailable"
	CodeFailed           = "failed"
	CodeInternal         = "internal"
)

// Header names.
const (
	// HeaderChecksum carries "<algorithm>:<hex>": the expected checksum of a
	// PUT body, the checksums of a stored file (one value per algorithm) in
	// PUT and HEAD answers, and the checksum of a GET body as a trailer.
	HeaderChecksum = "X-Checksum"
	// HeaderChecksumAlgorithm asks for the checksum algorithms of an answer
	// (comma-separated); the default is sha256.
	HeaderChecksumAlgorithm = "X-Checksum-Algorithm"
	// HeaderSize is the size of a file in GET answers, which stream without
	// Content-Length so that they can end with the checksum trailer.
	HeaderSize = "X-Size"
)
