// Package hw is how the engine acts on hardware: one small interface per
// capability (Info, Power, Processes, Files, Environments, Containers), the
// types they exchange, errors classed as retryable or not, and Drivers, the
// map from node uid to the driver of its cluster built from a testbed.
//
// Implementations live in subpackages and register themselves for a driver
// kind of the testbed language: engine/hw/sim (simulated nodes, kind "sim"),
// engine/hw/agentclient (gridflow agents, kind "agent") and engine/hw/docker
// (a Docker Engine as the node's container runtime, kind "docker"). A program
// that calls ForTestbed imports them, usually for their side effect:
//
//	import (
//		"github.com/gridflow/gridflow/engine/hw"
//		_ "github.com/gridflow/gridflow/engine/hw/agentclient"
//		_ "github.com/gridflow/gridflow/engine/hw/docker"
//		_ "github.com/gridflow/gridflow/engine/hw/sim"
//	)
//
// Every call is meant to run inside an activity: calls are idempotent where
// the hardware allows it (a process or container start names its id, a reboot
// can name the generation it starts from, installing the environment a node
// already runs does nothing), honour their context, and return errors for
// which Retryable says whether trying again can help.
package hw

import (
	"context"
	"io"
	"time"
)

// Info reads the facts of a node.
type Info interface {
	Info(ctx context.Context, node string) (NodeInfo, error)
}

// Power reboots nodes.
type Power interface {
	// Reboot stops everything the node runs and boots it again; it returns
	// once the node is up. See RebootOptions for retries.
	Reboot(ctx context.Context, node string, opts RebootOptions) (NodeInfo, error)
}

// Processes runs commands on nodes.
type Processes interface {
	// Start starts spec.ID on the node, or returns the process already
	// started under that id with the same command (a retried start starts
	// nothing). Another command under a used id is a Conflict.
	Start(ctx context.Context, node string, spec ProcessSpec) (Process, error)
	Status(ctx context.Context, node, id string) (Process, error)
	List(ctx context.Context, node string) ([]Process, error)
	// Output returns the last bytes of what the process wrote.
	Output(ctx context.Context, node, id string) (Output, error)
	// Kill stops the process and its children (SIGTERM, then SIGKILL) and
	// returns its final state. Killing an exited process is harmless.
	Kill(ctx context.Context, node, id string) (Process, error)
	// StopReservation stops every process and removes every container
	// tagged with the reservation, and returns how many it stopped.
	StopReservation(ctx context.Context, node, reservation string) (int, error)
}

// Files stores and serves files on nodes, with checksums. Paths are
// relative, slash-separated, without '.', '..' or empty segments (CleanPath).
type Files interface {
	// Put streams r to path. The node computes the checksum while writing;
	// with opts.Checksum the bytes must match it, else the call fails with
	// ChecksumMismatch and nothing is stored.
	Put(ctx context.Context, node, path string, r io.Reader, opts PutOptions) (FileInfo, error)
	// Get streams the file. The Download checks the bytes against the
	// node's checksum as they pass and fails at the end if they differ.
	Get(ctx context.Context, node, path, algorithm string) (Download, error)
	// Stat describes a file and its checksum with algorithm (default sha256).
	Stat(ctx context.Context, node, path, algorithm string) (FileInfo, error)
	// Delete removes a file; a file that is not there is not an error.
	Delete(ctx context.Context, node, path string) error
}

// Environments installs operating system environments (deployments).
type Environments interface {
	// Install writes env on the node, verified by its checksum, and boots
	// the node into it; installing what the node already runs does nothing.
	Install(ctx context.Context, node string, env EnvSpec) (NodeInfo, error)
}

// Containers runs containers on nodes (g8os style).
type Containers interface {
	// CreateContainer creates spec.ID (and starts it unless told not to), or
	// returns the container already created under that id.
	CreateContainer(ctx context.Context, node string, spec ContainerSpec) (Container, error)
	Container(ctx context.Context, node, id string) (Container, error)
	ListContainers(ctx context.Context, node string) ([]Container, error)
	StartContainer(ctx context.Context, node, id string) (Container, error)
	StopContainer(ctx context.Context, node, id string) (Container, error)
	// DeleteContainer removes a container, stopping it first; a container
	// that is not there is not an error.
	DeleteContainer(ctx context.Context, node, id string) error

	// Exec starts spec.ID, a command inside a running container (a job), or
	// returns the job already started under that id with the same command;
	// another command under a used id is a Conflict, a stopped container a
	// Conflict too. A program that does not exist ends the job with 127.
	Exec(ctx context.Context, node, container string, spec ProcessSpec) (Process, error)
	// ContainerJobs lists the jobs of a container, oldest first.
	ContainerJobs(ctx context.Context, node, container string) ([]Process, error)
	ContainerJob(ctx context.Context, node, container, job string) (Process, error)
	// ContainerJobOutput returns the last bytes of what a job wrote.
	ContainerJobOutput(ctx context.Context, node, container, job string) (Output, error)
	// KillContainerJob stops a job (SIGTERM, then SIGKILL) and returns its
	// final state; killing an ended job is harmless.
	KillContainerJob(ctx context.Context, node, container, job string) (Process, error)
	// ContainerProcesses lists the processes running in a container with
	// their cpu and memory; a stopped container is a Conflict.
	ContainerProcesses(ctx context.Context, node, container string) ([]ContainerProcess, error)
}

// Driver is everything a driver of a cluster offers.
type Driver interface {
	Info
	Power
	Processes
	Files
	Environments
	Containers
}

// NodeInfo is what a node reports about itself.
type NodeInfo struct {
	Node     string `json:"node"`
	Hostname string `json:"hostname"`
	CPUs     int    `json:"cpus"`
	Load     Load   `json:"load"`
	// BootID changes when the node boots; Generation counts its boots.
	BootID      string        `json:"bootId"`
	Generation  int64         `json:"generation"`
	BootTime    time.Time     `json:"bootTime"`
	Uptime      time.Duration `json:"uptime"`
	Environment *Environment  `json:"environment,omitempty"`
	Memory      Memory        `json:"memory"`
	Disk        Disk          `json:"disk"`
	// Containers says whether the node can run containers.
	Containers bool `json:"containers"`
}

// Load holds the 1, 5 and 15 minute load averages.
type Load struct {
	One     float64 `json:"one"`
	Five    float64 `json:"five"`
	Fifteen float64 `json:"fifteen"`
}

// Memory in bytes, with the fields of the g8os API; Used = Total - Available.
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

// Disk is the storage that holds a node's files, in bytes.
type Disk struct {
	Total       uint64  `json:"total"`
	Free        uint64  `json:"free"`
	Used        uint64  `json:"used"`
	UsedPercent float64 `json:"usedPercent"`
}

// Environment is the environment a node runs.
type Environment struct {
	Name        string    `json:"name"`
	Checksum    string    `json:"checksum"`
	InstalledAt time.Time `json:"installedAt"`
}

// RebootOptions tune a reboot.
type RebootOptions struct {
	// IfGeneration, when not zero, reboots only a node still in that
	// generation: an activity reads the generation once, and its retries
	// then cannot reboot twice.
	IfGeneration int64 `json:"ifGeneration,omitempty"`
}

// EnvSpec names an environment image and how to check it.
type EnvSpec struct {
	// Name, as "debian12-min@2024.1".
	Name string `json:"name"`
	// URL of the image archive (tar, gzip or not): http(s)://, or
	// file:<path> for a file already stored on the node.
	URL string `json:"url,omitempty"`
	// Checksum "<algorithm>:<hex>" of the archive. Required.
	Checksum string `json:"checksum"`
}

// ProcessSpec describes a process to start.
type ProcessSpec struct {
	// ID names the process on its node and makes Start idempotent.
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Pwd         string            `json:"pwd,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
}

// Process states.
const (
	ProcessRunning = "running"
	ProcessExited  = "exited"
	// ProcessLost: the node lost track of the process; its exit is unknown.
	ProcessLost = "lost"
)

// Process is the state of a process.
type Process struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Pwd         string            `json:"pwd,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
	PID         int               `json:"pid"`
	State       string            `json:"state"`
	// ExitCode is -1 when a signal ended the process, nil while it runs or
	// when unknown.
	ExitCode   *int       `json:"exitCode,omitempty"`
	Signal     string     `json:"signal,omitempty"`
	Started    time.Time  `json:"started"`
	Ended      *time.Time `json:"ended,omitempty"`
	CPUPercent float64    `json:"cpuPercent"`
	RSS        int64      `json:"rss"`
}

// Output is the tail of what a process wrote.
type Output struct {
	Stdout     []byte `json:"stdout"`
	Stderr     []byte `json:"stderr"`
	StdoutSize int64  `json:"stdoutSize"`
	StderrSize int64  `json:"stderrSize"`
	// Truncated: Stdout or Stderr holds only the end of a longer stream.
	Truncated bool `json:"truncated"`
}

// PutOptions tune a Put.
type PutOptions struct {
	// Checksum, "<algorithm>:<hex>", is what the bytes must hash to.
	Checksum string
	// Algorithm of the checksum to report when Checksum is empty
	// (default sha256).
	Algorithm string
	// NoOverwrite makes Put fail with Exists when the file is there.
	NoOverwrite bool
}

// FileInfo describes a stored file.
type FileInfo struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	// Checksum is "<algorithm>:<hex>".
	Checksum string `json:"checksum"`
}

// Download is a file being read from a node.
type Download interface {
	io.ReadCloser
	// Size is the size of the file, or -1 when the node did not say.
	Size() int64
	// Checksum is the checksum of the bytes read, once Read returned io.EOF.
	Checksum() string
}

// ContainerSpec describes a container to create.
type ContainerSpec struct {
	ID       string            `json:"id"`
	Image    string            `json:"image"`
	Cmd      []string          `json:"cmd,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	// WorkingDir of the main process; empty: the image's.
	WorkingDir string `json:"workingDir,omitempty"`
	// Ports maps a container port ("8080/tcp") to a host port (0: any).
	Ports map[string]int `json:"ports,omitempty"`
	// HostNetwork runs the container in the node's network namespace; it
	// excludes Ports.
	HostNetwork bool   `json:"hostNetwork,omitempty"`
	Reservation string `json:"reservation,omitempty"`
	// NoStart leaves the container created but not started.
	NoStart bool `json:"noStart,omitempty"`
}

// Container states (Docker's words).
const (
	ContainerCreated = "created"
	ContainerRunning = "running"
	ContainerExited  = "exited"
)

// Container is the state of a container.
type Container struct {
	ID    string   `json:"id"`
	Image string   `json:"image"`
	Cmd   []string `json:"cmd,omitempty"`
	// Env holds the variables the spec set (not those of the image).
	Env         map[string]string `json:"env,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	HostNetwork bool              `json:"hostNetwork,omitempty"`
	State       string            `json:"state"`
	ExitCode    int               `json:"exitCode"`
	Ports       map[string]int    `json:"ports,omitempty"`
	Reservation string            `json:"reservation,omitempty"`
	Created     time.Time         `json:"created"`
	Started     *time.Time        `json:"started,omitempty"`
	Finished    *time.Time        `json:"finished,omitempty"`
}

// ContainerProcess is a process running in a container.
type ContainerProcess struct {
	// PID as the node sees it (Docker: on the host, not in the container).
	PID        int     `json:"pid"`
	PPID       int     `json:"ppid"`
	Cmdline    string  `json:"cmdline"`
	CPUPercent float64 `json:"cpuPercent"`
	// RSS and VMS are the resident and virtual sizes in bytes.
	RSS     int64         `json:"rss"`
	VMS     int64         `json:"vms"`
	Elapsed time.Duration `json:"elapsed"`
}
