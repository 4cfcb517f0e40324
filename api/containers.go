package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// The g8os-style node runtime beyond processes: memory, reboot, containers,
// jobs and processes inside containers. Like processes, containers live only
// on nodes of the caller's running reservation (an administrator may act on
// any node); they are tagged with the reservation, whose end removes them.

// MemItem is the memory of a node, with the fields of the g8os API.
type MemItem struct {
	itemMedia
	hw.Memory
	Node  string `json:"node"`
	Links []Link `json:"links"`
}

// RebootItem is the answer of a reboot request.
type RebootItem struct {
	itemMedia
	Node string `json:"node"`
	// Generation is the boot the node leaves; GET …/info shows a greater one
	// once it is back.
	Generation int64  `json:"generation"`
	Status     string `json:"status" example:"rebooting"`
	Links      []Link `json:"links"`
}

// Nic is a network interface of a g8os container. No runtime of Gridflow
// supports them: a request that names any is refused.
type Nic struct {
	Type   string         `json:"type,omitempty" doc:"g8os nic type (default, vlan, vxlan, zerotier)"`
	ID     string         `json:"id,omitempty"`
	Config map[string]any `json:"config,omitempty"`
}

// NewContainer is the body of POST …/containers.
type NewContainer struct {
	ID       string            `json:"id,omitempty" maxLength:"128" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Container id on the node; empty: one is chosen. The same id and image again return the existing container" example:"web-1"`
	Hostname string            `json:"hostname,omitempty" maxLength:"63" doc:"Host name inside the container (default: the id)" example:"web-1"`
	Image    string            `json:"image,omitempty" maxLength:"512" doc:"Image the node's runtime has (nothing is pulled). Required" example:"busybox:latest"`
	Flist    string            `json:"flist,omitempty" maxLength:"2048" doc:"g8os flist: unsupported, give an image"`
	Cmd      []string          `json:"cmd,omitempty" maxItems:"1000" doc:"Main command (default: the image's)" example:"[\"/bin/sh\", \"-c\", \"httpd -f -p 8080\"]"`
	Env      map[string]string `json:"env,omitempty"`
	Pwd      string            `json:"pwd,omitempty" maxLength:"4096" doc:"Working directory of the main command"`
	// Ports in the g8os notation.
	Ports          []string     `json:"ports,omitempty" maxItems:"100" doc:"\"hostPort:containerPort[/tcp|udp]\", or \"containerPort[/proto]\" for any free host port (on the node's 127.0.0.1)" example:"[\"8080:80\", \"53/udp\"]"`
	HostNetworking bool         `json:"hostNetworking,omitempty" doc:"Run in the node's network namespace (no ports then)"`
	Nics           []Nic        `json:"nics,omitempty" maxItems:"16" doc:"g8os nics: unsupported (containers get the runtime's default network; use ports or hostNetworking)"`
	InitProcesses  []NewProcess `json:"initprocesses,omitempty" maxItems:"32" doc:"Processes started as jobs (init-0, init-1, …) once the container runs"`
	Start          *bool        `json:"start,omitempty" doc:"Start the container once created (default true)"`
}

// ContainerItem is a container on a node.
type ContainerItem struct {
	itemMedia
	UID            string            `json:"uid" doc:"The container id"`
	ID             string            `json:"id"`
	Node           string            `json:"node"`
	Hostname       string            `json:"hostname,omitempty"`
	Image          string            `json:"image"`
	Cmd            []string          `json:"cmd,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	Pwd            string            `json:"pwd,omitempty"`
	Ports          []string          `json:"ports" doc:"\"hostPort:containerPort/proto\""`
	HostNetworking bool              `json:"hostNetworking"`
	Nics           []Nic             `json:"nics" doc:"Always empty: no runtime of Gridflow supports nics"`
	Status         string            `json:"status" doc:"created, running, exited (the runtime's words)" example:"running"`
	ExitCode       int               `json:"exitCode"`
	Reservation    string            `json:"reservation,omitempty"`
	Created        time.Time         `json:"created"`
	Started        *time.Time        `json:"started,omitempty"`
	Finished       *time.Time        `json:"finished,omitempty"`
	Links          []Link            `json:"links"`
}

// NewJob is the body of POST …/containers/{id}/jobs.
type NewJob struct {
	ID string `json:"id,omitempty" maxLength:"128" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Job id in the container; empty: one is chosen. The same id and command again return the existing job"`
	NewProcess
}

// JobOutput is what a job wrote (the end of it when long).
type JobOutput struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	StdoutSize int64  `json:"stdoutSize"`
	StderrSize int64  `json:"stderrSize"`
	Truncated  bool   `json:"truncated" doc:"stdout or stderr holds only the end of a longer stream"`
}

// JobItem is a command run inside a container.
type JobItem struct {
	itemMedia
	hw.Process
	Container string     `json:"container"`
	Node      string     `json:"node"`
	StartTime int64      `json:"startTime" doc:"Start in milliseconds since the epoch, as g8os writes it"`
	Output    *JobOutput `json:"output,omitempty"`
	Links     []Link     `json:"links"`
}

// ContainerProcessItem is a process running in a container.
type ContainerProcessItem struct {
	PID            int     `json:"pid" doc:"Process id as the node sees it (for Docker: on the host)"`
	PPID           int     `json:"ppid"`
	Cmdline        string  `json:"cmdline"`
	CPUPercent     float64 `json:"cpuPercent"`
	RSS            int64   `json:"rss" doc:"Resident memory in bytes"`
	VMS            int64   `json:"vms" doc:"Virtual memory in bytes"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
}

// ContainerPath addresses a container of a node.
type ContainerPath struct {
	NodeRuntimePath
	ID string `path:"id" maxLength:"128" doc:"Container id"`
}

// JobPath addresses a job of a container.
type JobPath struct {
	ContainerPath
	Job string `path:"job" maxLength:"128" doc:"Job id"`
}

func containerHref(node, id string) string { return "/nodes/" + node + "/containers/" + id }

func containerItem(ctx context.Context, node string, c hw.Container) ContainerItem {
	it := ContainerItem{UID: c.ID, ID: c.ID, Node: node, Hostname: c.Hostname, Image: c.Image, Cmd: c.Cmd, Env: c.Env,
		Pwd: c.WorkingDir, Ports: []string{}, HostNetworking: c.HostNetwork, Nics: []Nic{}, Status: c.State,
		ExitCode: c.ExitCode, Reservation: c.Reservation, Created: c.Created, Started: c.Started, Finished: c.Finished}
	for _, p := range slices.Sorted(maps.Keys(c.Ports)) {
		it.Ports = append(it.Ports, strconv.Itoa(c.Ports[p])+":"+p)
	}
	self := containerHref(node, c.ID)
	it.Links = []Link{
		link(ctx, "self", self, ItemType),
		link(ctx, "parent", "/nodes/"+node+"/containers", CollectionType),
		link(ctx, "jobs", self+"/jobs", CollectionType),
		link(ctx, "processes", self+"/processes", CollectionType),
		link(ctx, "node", "/nodes/"+node+"/info", ItemType),
	}
	return it
}

func jobItem(ctx context.Context, node, ctr string, p hw.Process) JobItem {
	parent := containerHref(node, ctr) + "/jobs"
	return JobItem{Process: p, Container: ctr, Node: node, StartTime: p.Started.UnixMilli(), Links: []Link{
		link(ctx, "self", parent+"/"+p.ID, ItemType),
		link(ctx, "parent", parent, CollectionType),
		link(ctx, "container", containerHref(node, ctr), ItemType),
	}}
}

// parsePorts reads g8os port mappings into the driver's map.
func parsePorts(ports []string) (map[string]int, error) {
	if len(ports) == 0 {
		return nil, nil
	}
	out := map[string]int{}
	for _, p := range ports {
		host, ctr, ok := strings.Cut(p, ":")
		if !ok {
			host, ctr = "0", p
		}
		num, proto, _ := strings.Cut(ctr, "/")
		if proto == "" {
			proto = "tcp"
		}
		h, herr := strconv.Atoi(host)
		c, cerr := strconv.Atoi(num)
		if herr != nil || cerr != nil || h < 0 || h > 65535 || c < 1 || c > 65535 || (proto != "tcp" && proto != "udp") {
			return nil, fmt.Errorf("port %q: write \"hostPort:containerPort\" (\"8080:80\", \"8053:53/udp\") or \"containerPort\" for any free host port", p)
		}
		key := strconv.Itoa(c) + "/" + proto
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("port %s is mapped twice", key)
		}
		out[key] = h
	}
	return out, nil
}

// runtimeError maps driver errors of the container calls to problems: a
// refused command (no shell in the image…) is the request's fault (422).
func runtimeError(err error, node string) error {
	var he *hw.Error
	if hw.KindOf(err) == hw.Failed && errors.As(err, &he) && !he.Retryable {
		return huma.Error422UnprocessableEntity(err.Error())
	}
	if hw.KindOf(err) == hw.Unsupported {
		return huma.NewError(http.StatusNotImplemented, "node "+node+" has no container runtime for this: "+err.Error())
	}
	return hwError(err, node)
}

// nodeFor checks the node exists (404) and that the caller holds it (403),
// in that order, and returns its driver and the caller's reservation.
func (s *Server) nodeFor(ctx context.Context, node string) (hw.Driver, store.Reservation, error) {
	d, err := s.driver(ctx, node)
	if err != nil {
		return nil, store.Reservation{}, err
	}
	r, err := s.holder(ctx, node)
	if err != nil {
		return nil, store.Reservation{}, err
	}
	return d, r, nil
}

// ownContainer returns a container of the caller's reservation (404 for the
// containers of others, as if they were not there).
func (s *Server) ownContainer(ctx context.Context, node, id string) (hw.Driver, store.Reservation, hw.Container, error) {
	d, r, err := s.nodeFor(ctx, node)
	if err != nil {
		return nil, r, hw.Container{}, err
	}
	c, err := d.Container(ctx, node, id)
	if err != nil {
		return nil, r, c, runtimeError(err, node)
	}
	if r.ID != "" && c.Reservation != r.ID {
		return nil, r, c, huma.Error404NotFound("no container " + quote(id) + " of your reservation on " + node)
	}
	return d, r, c, nil
}

func (s *Server) registerContainers(api huma.API) {
	huma.Register(api, op("get-node-mem", http.MethodGet, "/v1/nodes/{node}/mem", "Memory of a node, as g8os reports it (bytes; usedPercent in %)", "nodes"),
		func(ctx context.Context, in *NodeRuntimePath) (*struct{ Body MemItem }, error) {
			d, err := s.driver(ctx, in.Node)
			if err != nil {
				return nil, err
			}
			info, err := d.Info(ctx, in.Node)
			if err != nil {
				return nil, hwError(err, in.Node)
			}
			return &struct{ Body MemItem }{MemItem{Memory: info.Memory, Node: in.Node, Links: []Link{
				link(ctx, "self", "/nodes/"+in.Node+"/mem", ItemType),
				link(ctx, "parent", "/nodes/"+in.Node+"/info", ItemType),
			}}}, nil
		})

	reboot := op("reboot-node", http.MethodPost, "/v1/nodes/{node}/reboot", "Reboot a node of your running reservation; it runs in the background (202): watch the generation of …/info grow", "nodes")
	reboot.DefaultStatus = http.StatusAccepted
	huma.Register(api, reboot, func(ctx context.Context, in *NodeRuntimePath) (*struct {
		Location string `header:"Location"`
		Body     RebootItem
	}, error) {
		d, _, err := s.nodeFor(ctx, in.Node)
		if err != nil {
			return nil, err
		}
		info, err := d.Info(ctx, in.Node)
		if err != nil {
			return nil, hwError(err, in.Node)
		}
		gen, node := info.Generation, in.Node
		errc := make(chan error, 1)
		go func() {
			// The reboot outlives the request. IfGeneration keeps it from
			// rebooting twice should the call be retried.
			rctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			_, err := d.Reboot(rctx, node, hw.RebootOptions{IfGeneration: gen})
			if err != nil {
				s.log.Warn("reboot failed", "node", node, "generation", gen, "error", err)
			}
			errc <- err
		}()
		// A node that refuses at once (it cannot reboot, it is busy) says so
		// to the caller rather than fail unseen.
		select {
		case err := <-errc:
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
		case <-time.After(300 * time.Millisecond):
		}
		info0 := "/nodes/" + in.Node + "/info"
		return &struct {
			Location string `header:"Location"`
			Body     RebootItem
		}{base(ctx) + info0, RebootItem{Node: in.Node, Generation: gen, Status: "rebooting", Links: []Link{
			link(ctx, "self", "/nodes/"+in.Node+"/reboot", ItemType),
			link(ctx, "node", info0, ItemType),
		}}}, nil
	})

	create := op("create-container", http.MethodPost, "/v1/nodes/{node}/containers", "Create (and start) a container on a node of your running reservation", "containers")
	create.DefaultStatus = http.StatusCreated
	huma.Register(api, create, func(ctx context.Context, in *struct {
		NodeRuntimePath
		Body NewContainer
	}) (*created[ContainerItem], error) {
		b := in.Body
		switch {
		case b.Flist != "" && b.Image == "":
			return nil, huma.Error422UnprocessableEntity("flist images are unsupported: give a Docker image the node has in \"image\"")
		case strings.TrimSpace(b.Image) == "":
			return nil, huma.Error422UnprocessableEntity("name the image to run in \"image\"; it must already be on the node (nothing is pulled)")
		case len(b.Nics) > 0:
			return nil, huma.Error422UnprocessableEntity("nics are unsupported: Gridflow's container runtimes give a container the node's default network; publish ports with \"ports\" or share the node's network with \"hostNetworking\"")
		case b.HostNetworking && len(b.Ports) > 0:
			return nil, huma.Error422UnprocessableEntity("a container on the node's network uses the node's ports directly: give either ports or hostNetworking, not both")
		}
		ports, err := parsePorts(b.Ports)
		if err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		for i, p := range b.InitProcesses {
			if strings.TrimSpace(p.Name) == "" {
				return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("init process %d names no program", i))
			}
		}
		if b.Start != nil && !*b.Start && len(b.InitProcesses) > 0 {
			return nil, huma.Error422UnprocessableEntity("init processes run once the container runs: do not set start to false with initprocesses")
		}
		d, r, err := s.nodeFor(ctx, in.Node)
		if err != nil {
			return nil, err
		}
		id := b.ID
		if id == "" {
			id = "c" + time.Now().UTC().Format("20060102T150405") + "-" + randomSuffix()
		}
		host := b.Hostname
		if host == "" && !b.HostNetworking {
			host = id
		}
		spec := hw.ContainerSpec{ID: id, Image: b.Image, Cmd: b.Cmd, Env: b.Env, Hostname: host, WorkingDir: b.Pwd,
			Ports: ports, HostNetwork: b.HostNetworking, Reservation: r.ID, NoStart: b.Start != nil && !*b.Start}
		c, err := d.CreateContainer(ctx, in.Node, spec)
		if err != nil {
			if hw.KindOf(err) == hw.NotFound {
				return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("image %q is not on node %s: %v. Load or build it there first: nothing is pulled", b.Image, in.Node, err))
			}
			return nil, runtimeError(err, in.Node)
		}
		for i, p := range b.InitProcesses {
			jid := "init-" + strconv.Itoa(i)
			if _, err := d.Exec(ctx, in.Node, id, hw.ProcessSpec{ID: jid, Name: p.Name, Args: p.Args, Env: p.Env, Pwd: p.Pwd, Reservation: r.ID}); err != nil {
				return nil, runtimeError(fmt.Errorf("container %s created, but its init process %s did not start (create it again to retry): %w", id, jid, err), in.Node)
			}
		}
		return &created[ContainerItem]{Location: base(ctx) + containerHref(in.Node, id), Body: containerItem(ctx, in.Node, c)}, nil
	})

	huma.Register(api, op("list-containers", http.MethodGet, "/v1/nodes/{node}/containers", "Containers on a node (those of your reservation)", "containers"),
		func(ctx context.Context, in *struct {
			NodeRuntimePath
			Paging
		}) (*struct{ Body Collection[ContainerItem] }, error) {
			d, r, err := s.nodeFor(ctx, in.Node)
			if err != nil {
				return nil, err
			}
			cs, err := d.ListContainers(ctx, in.Node)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			items := []ContainerItem{}
			for _, c := range cs {
				if r.ID == "" || c.Reservation == r.ID {
					items = append(items, containerItem(ctx, in.Node, c))
				}
			}
			return &struct{ Body Collection[ContainerItem] }{page(ctx, items, in.Paging, "/nodes/"+in.Node+"/containers", "/nodes/"+in.Node+"/info", "")}, nil
		})

	huma.Register(api, op("get-container", http.MethodGet, "/v1/nodes/{node}/containers/{id}", "A container", "containers"),
		func(ctx context.Context, in *ContainerPath) (*struct{ Body ContainerItem }, error) {
			_, _, c, err := s.ownContainer(ctx, in.Node, in.ID)
			if err != nil {
				return nil, err
			}
			return &struct{ Body ContainerItem }{containerItem(ctx, in.Node, c)}, nil
		})

	del := op("delete-container", http.MethodDelete, "/v1/nodes/{node}/containers/{id}", "Remove a container, stopping it first", "containers")
	del.DefaultStatus = http.StatusNoContent
	huma.Register(api, del, func(ctx context.Context, in *ContainerPath) (*struct{}, error) {
		d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
		if err != nil {
			return nil, err
		}
		if err := d.DeleteContainer(ctx, in.Node, in.ID); err != nil {
			return nil, runtimeError(err, in.Node)
		}
		return &struct{}{}, nil
	})

	for _, a := range []struct {
		verb, summary string
		act           func(hw.Driver) func(context.Context, string, string) (hw.Container, error)
	}{
		{"start", "Start a container", func(d hw.Driver) func(context.Context, string, string) (hw.Container, error) { return d.StartContainer }},
		{"stop", "Stop a container (SIGTERM, then SIGKILL); its jobs end with it", func(d hw.Driver) func(context.Context, string, string) (hw.Container, error) { return d.StopContainer }},
	} {
		huma.Register(api, op(a.verb+"-container", http.MethodPost, "/v1/nodes/{node}/containers/{id}/"+a.verb, a.summary, "containers"),
			func(ctx context.Context, in *ContainerPath) (*struct{ Body ContainerItem }, error) {
				d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
				if err != nil {
					return nil, err
				}
				c, err := a.act(d)(ctx, in.Node, in.ID)
				if err != nil {
					return nil, runtimeError(err, in.Node)
				}
				return &struct{ Body ContainerItem }{containerItem(ctx, in.Node, c)}, nil
			})
	}

	startJob := func(ctx context.Context, in *ContainerPath, b NewJob) (JobItem, error) {
		d, r, _, err := s.ownContainer(ctx, in.Node, in.ID)
		if err != nil {
			return JobItem{}, err
		}
		id := b.ID
		if id == "" {
			id = "j" + time.Now().UTC().Format("20060102T150405") + "-" + randomSuffix()
		}
		p, err := d.Exec(ctx, in.Node, in.ID, hw.ProcessSpec{ID: id, Name: b.Name, Args: b.Args, Env: b.Env, Pwd: b.Pwd, Reservation: r.ID})
		if err != nil {
			return JobItem{}, runtimeError(err, in.Node)
		}
		return jobItem(ctx, in.Node, in.ID, p), nil
	}
	postJob := op("start-container-job", http.MethodPost, "/v1/nodes/{node}/containers/{id}/jobs", "Run a command inside a running container; GET the job for its output and exit code", "containers")
	postJob.DefaultStatus = http.StatusCreated
	huma.Register(api, postJob, func(ctx context.Context, in *struct {
		ContainerPath
		Body NewJob
	}) (*created[JobItem], error) {
		it, err := startJob(ctx, &in.ContainerPath, in.Body)
		if err != nil {
			return nil, err
		}
		return &created[JobItem]{Location: base(ctx) + containerHref(in.Node, in.ID) + "/jobs/" + it.ID, Body: it}, nil
	})

	huma.Register(api, op("list-container-jobs", http.MethodGet, "/v1/nodes/{node}/containers/{id}/jobs", "Jobs of a container, oldest first", "containers"),
		func(ctx context.Context, in *struct {
			ContainerPath
			Paging
		}) (*struct{ Body Collection[JobItem] }, error) {
			d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
			if err != nil {
				return nil, err
			}
			js, err := d.ContainerJobs(ctx, in.Node, in.ID)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			items := make([]JobItem, len(js))
			for i, j := range js {
				items[i] = jobItem(ctx, in.Node, in.ID, j)
			}
			self := containerHref(in.Node, in.ID)
			return &struct{ Body Collection[JobItem] }{page(ctx, items, in.Paging, self+"/jobs", self, "")}, nil
		})

	huma.Register(api, op("get-container-job", http.MethodGet, "/v1/nodes/{node}/containers/{id}/jobs/{job}", "A job with its state, exit code and output", "containers"),
		func(ctx context.Context, in *JobPath) (*struct{ Body JobItem }, error) {
			d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
			if err != nil {
				return nil, err
			}
			p, err := d.ContainerJob(ctx, in.Node, in.ID, in.Job)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			o, err := d.ContainerJobOutput(ctx, in.Node, in.ID, in.Job)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			it := jobItem(ctx, in.Node, in.ID, p)
			it.Output = &JobOutput{Stdout: string(o.Stdout), Stderr: string(o.Stderr), StdoutSize: o.StdoutSize, StderrSize: o.StderrSize, Truncated: o.Truncated}
			return &struct{ Body JobItem }{it}, nil
		})

	huma.Register(api, op("kill-container-job", http.MethodDelete, "/v1/nodes/{node}/containers/{id}/jobs/{job}", "Kill a job (SIGTERM, then SIGKILL); killing an ended job changes nothing", "containers"),
		func(ctx context.Context, in *JobPath) (*struct{ Body JobItem }, error) {
			d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
			if err != nil {
				return nil, err
			}
			p, err := d.KillContainerJob(ctx, in.Node, in.ID, in.Job)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			return &struct{ Body JobItem }{jobItem(ctx, in.Node, in.ID, p)}, nil
		})

	huma.Register(api, op("list-container-processes", http.MethodGet, "/v1/nodes/{node}/containers/{id}/processes", "Processes running in a container, with cpu and memory", "containers"),
		func(ctx context.Context, in *struct {
			ContainerPath
			Paging
		}) (*struct {
			Body Collection[ContainerProcessItem]
		}, error) {
			d, _, _, err := s.ownContainer(ctx, in.Node, in.ID)
			if err != nil {
				return nil, err
			}
			ps, err := d.ContainerProcesses(ctx, in.Node, in.ID)
			if err != nil {
				return nil, runtimeError(err, in.Node)
			}
			items := make([]ContainerProcessItem, len(ps))
			for i, p := range ps {
				items[i] = ContainerProcessItem{PID: p.PID, PPID: p.PPID, Cmdline: p.Cmdline, CPUPercent: p.CPUPercent, RSS: p.RSS, VMS: p.VMS, ElapsedSeconds: p.Elapsed.Seconds()}
			}
			self := containerHref(in.Node, in.ID)
			return &struct {
				Body Collection[ContainerProcessItem]
			}{page(ctx, items, in.Paging, self+"/processes", self, "")}, nil
		})

	postProc := op("start-container-process", http.MethodPost, "/v1/nodes/{node}/containers/{id}/processes", "Start a process in a container (g8os style): it runs as a job, whose URL Location gives", "containers")
	postProc.DefaultStatus = http.StatusAccepted
	huma.Register(api, postProc, func(ctx context.Context, in *struct {
		ContainerPath
		Body NewProcess
	}) (*struct {
		Location string `header:"Location"`
		Body     JobItem
	}, error) {
		it, err := startJob(ctx, &in.ContainerPath, NewJob{NewProcess: in.Body})
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     JobItem
		}{base(ctx) + containerHref(in.Node, in.ID) + "/jobs/" + it.ID, it}, nil
	})
}
