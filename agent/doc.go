// Package agent is the Gridflow node agent: the daemon that runs on each piece
// of hardware of an "agent" cluster (gridflow agent) and lets the engine act on
// it. It reports real facts from its host, runs real processes, stores and
// serves real files checked with checksums, installs environments and
// "reboots" into them, and runs containers through the host's Docker Engine.
//
// The agent is an http.Handler (New) and a server (Run, Serve). Everything it
// keeps lives under its data directory:
//
//	state.json        agent id, boot generation, boot time, current environment
//	files/            the file area served by /v1/files
//	envs/<name>/      unpacked environments
//	procs/<id>/       meta.json, stdout and stderr of each managed process
//	tmp/              downloads in progress
//
// # API
//
// JSON over HTTP(S). Every request carries "Authorization: Bearer <token>"
// (compared in constant time); without it the answer is 401. Errors are
// application/problem+json documents (Problem) whose "code" classifies them:
// invalid (400), unauthorized (401), forbidden (403), not_found (404),
// conflict (409), exists (412), checksum_mismatch and failed (422),
// unavailable (501, 502), internal (500).
//
// Node:
//
//	GET    /v1/info              Info: hostname, cpus, load, boot id, generation,
//	                             boot time and uptime, environment, memory (from
//	                             /proc/meminfo: total, available, used = total -
//	                             available, usedPercent, free, cached, buffers,
//	                             active, inactive), disk of the data directory
//	POST   /v1/reboot            RebootRequest (optional): stops every managed
//	                             process and container, bumps the generation and
//	                             restarts the uptime; answers Info. With
//	                             ifGeneration, reboots only from that generation.
//	GET    /v1/environment       the installed Environment, or 404
//	POST   /v1/environment       EnvironmentRequest{name, url, checksum}: streams
//	                             the archive (http(s):// or file:<path> in the file
//	                             area) while checking its checksum, unpacks it
//	                             (tar, gzip or not) into envs/<name>, reboots;
//	                             answers Info. A wrong checksum: 422 and nothing
//	                             installed. The same name and checksum again: no-op.
//
// Processes (each in its own process group, output captured to files):
//
//	POST   /v1/processes         ProcessRequest{id, name, args, env, pwd,
//	                             reservation}: 201 and the Process; the same id
//	                             and command again: 200 and the first Process (a
//	                             retried start starts nothing); the same id for
//	                             another command: 409. ?wait=200ms answers once
//	                             the process ended or the wait is over
//	GET    /v1/processes         []Process with cpuPercent and rss (from
//	                             /proc/<pid>/stat and statm); ?reservation= filters
//	GET    /v1/processes/{id}    Process: state running|exited|lost, exitCode,
//	                             signal, started, ended
//	GET    /v1/processes/{id}/output           Output: the last bytes (?limit=,
//	                             at most Config.OutputLimit) of stdout and stderr
//	GET    /v1/processes/{id}/output/{stream}  raw stdout or stderr from ?offset=
//	DELETE /v1/processes/{id}    SIGTERM to the process group, SIGKILL after the
//	                             grace period (?grace=2s); answers the final Process
//	DELETE /v1/reservations/{id} stops every process and removes every
//	                             container tagged with the reservation; answers
//	                             StopResult
//
// Files, under files/ (paths relative, without '.', '..' or empty segments:
// 400; leading outside through a symbolic link: 403):
//
//	PUT    /v1/files/{path}      streams the body to a temporary name, computing
//	                             checksums; with "X-Checksum: <algo>:<hex>" the
//	                             body must match (422 and nothing stored
//	                             otherwise); then renames into place. 201 (new) or
//	                             200 (replaced) with X-Checksum headers and a
//	                             FileInfo. "If-None-Match: *" refuses to replace
//	                             (412).
//	POST   /v1/files/{path}      a third-party copy: fetches the file named by
//	                             X-Gridflow-Source from another agent, then as a
//	                             PUT, also checked against the source's trailer;
//	                             502 with X-Gridflow-Source-Status when the source
//	                             failed (see files_pull.go)
//	GET    /v1/files/{path}      streams the file; X-Size gives its size and the
//	                             X-Checksum trailer its checksum, computed while
//	                             streaming. A directory answers a []FileInfo.
//	HEAD   /v1/files/{path}      X-Checksum, Content-Length, X-Size
//	DELETE /v1/files/{path}      204; a directory needs ?recursive=true
//
// The algorithms are sha256 (default), md5 and adler32; X-Checksum-Algorithm
// (or ?checksum=) chooses those of an answer, comma-separated.
//
// Containers, when the agent has a Docker Engine (Config.DockerHost; 501
// otherwise). The image must already be on the node:
//
//	POST   /v1/containers        ContainerRequest{id, image, cmd, env, hostname,
//	                             workingDir, ports, hostNetwork, reservation,
//	                             start}: 201 and the Container (started unless
//	                             start is false); the same id again: 200 and the
//	                             existing one; an image the node lacks: 422
//	GET    /v1/containers        []Container (?reservation= filters)
//	GET    /v1/containers/{id}   Container
//	POST   /v1/containers/{id}/start, /v1/containers/{id}/stop
//	DELETE /v1/containers/{id}   removes it, stopping it first
//	GET    /v1/containers/{id}/processes  []ContainerProcess: pid (on the
//	                             node), ppid, cpuPercent, rss, vms, cmdline, from
//	                             the node's ps; 409 when the container is stopped
//
// Jobs, commands run inside a running container (package dockerapi tells how:
// their state lives in the container, so it survives an agent restart; the
// image needs /bin/sh, else 422):
//
//	POST   /v1/containers/{id}/jobs          JobRequest{id, name, args, env, pwd,
//	                             reservation}: 201 and the Job; the same id and
//	                             command again: 200 and the first Job; another
//	                             command under that id: 409; a stopped
//	                             container: 409. A program that does not exist
//	                             ends the job with 127 and the reason on stderr.
//	GET    /v1/containers/{id}/jobs          []Job, oldest first
//	GET    /v1/containers/{id}/jobs/{job}    Job: state running|exited|lost,
//	                             exitCode, signal, started, ended
//	GET    /v1/containers/{id}/jobs/{job}/output  Output (?limit=)
//	DELETE /v1/containers/{id}/jobs/{job}    SIGTERM to the job's process group,
//	                             SIGKILL after the grace period (?grace=2s);
//	                             answers the final Job; an ended job: as it is
//
// A reboot stops every managed process and container. Processes survive an
// agent restart: a restarted agent adopts those still running (it can kill
// them and sees them end, but their exit code is lost) and reports the others
// as "lost".
package agent
