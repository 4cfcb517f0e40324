package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// NodeRuntimePath addresses a node of the testbed by uid.
type NodeRuntimePath struct {
	Node string `path:"node" maxLength:"128" doc:"Node uid" example:"paravance-1"`
}

// hwError maps driver errors to problems.
func hwError(err error, node string) error {
	switch hw.KindOf(err) {
	case hw.NotFound:
		return huma.Error404NotFound(err.Error())
	case hw.Invalid:
		return huma.Error422UnprocessableEntity(err.Error())
	case hw.Conflict, hw.Exists:
		return huma.Error409Conflict(err.Error())
	case hw.Unsupported:
		return huma.NewError(http.StatusNotImplemented, "node "+node+" cannot do this: "+err.Error())
	case hw.Unavailable:
		return huma.Error503ServiceUnavailable("node " + node + " does not answer: " + err.Error())
	}
	return huma.Error502BadGateway("node " + node + ": " + err.Error())
}

// holder returns the caller's running reservation that holds node; an
// administrator needs none.
func (s *Server) holder(ctx context.Context, node string) (store.Reservation, error) {
	p := caller(ctx)
	rs, _, err := s.eng.Store.ListReservations(ctx, store.ReservationFilter{Owner: p.User.Name, State: store.ResRunning})
	if err != nil {
		return store.Reservation{}, storeError(err, "reservations")
	}
	for _, r := range rs {
		if slices.Contains(r.Nodes, node) {
			return r, nil
		}
	}
	if p.User.Admin {
		return store.Reservation{}, nil
	}
	return store.Reservation{}, huma.Error403Forbidden("node " + node + " is not in one of your running reservations: reserve it first")
}

func (s *Server) driver(ctx context.Context, node string) (hw.Driver, error) {
	snap, err := s.eng.Current(ctx)
	if err != nil {
		return nil, engineError(err, "testbed")
	}
	if snap.Testbed.Node(node) == nil {
		return nil, huma.Error404NotFound("no node " + quote(node))
	}
	ds, err := s.eng.Drivers(ctx)
	if err != nil {
		return nil, huma.Error503ServiceUnavailable("hardware drivers unavailable: " + err.Error())
	}
	d, err := ds.For(node)
	if err != nil {
		return nil, hwError(err, node)
	}
	return d, nil
}

// NewProcess is the body of POST …/processes.
type NewProcess struct {
	Name string            `json:"name" minLength:"1" maxLength:"4096" doc:"Program to run" example:"/bin/sh"`
	Args []string          `json:"args,omitempty" maxItems:"1000" example:"[\"-c\", \"uptime\"]"`
	Env  map[string]string `json:"env,omitempty"`
	Pwd  string            `json:"pwd,omitempty" maxLength:"4096"`
}

// ProcessItem is a process on a node, with its output once asked.
type ProcessItem struct {
	itemMedia
	hw.Process
	Node   string     `json:"node"`
	Output *hw.Output `json:"output,omitempty"`
	Links  []Link     `json:"links"`
}

func processItem(ctx context.Context, node string, p hw.Process) ProcessItem {
	return ProcessItem{Process: p, Node: node, Links: []Link{
		link(ctx, "self", "/nodes/"+node+"/processes/"+p.ID, ItemType),
		link(ctx, "parent", "/nodes/"+node+"/processes", CollectionType),
	}}
}

func (s *Server) registerNodeRuntime(api huma.API) {
	huma.Register(api, op("get-node-info", http.MethodGet, "/v1/nodes/{node}/info", "Live facts a node reports: memory, cpus, load, uptime, disk, environment", "nodes"),
		func(ctx context.Context, in *NodeRuntimePath) (*struct{ Body hw.NodeInfo }, error) {
			d, err := s.driver(ctx, in.Node)
			if err != nil {
				return nil, err
			}
			info, err := d.Info(ctx, in.Node)
			if err != nil {
				return nil, hwError(err, in.Node)
			}
			return &struct{ Body hw.NodeInfo }{info}, nil
		})
	start := op("start-process", http.MethodPost, "/v1/nodes/{node}/processes", "Run a process on a node of your running reservation", "nodes")
	start.DefaultStatus = http.StatusCreated
	huma.Register(api, start, func(ctx context.Context, in *struct {
		NodeRuntimePath
		Body NewProcess
	}) (*created[ProcessItem], error) {
		r, err := s.holder(ctx, in.Node)
		if err != nil {
			return nil, err
		}
		d, err := s.driver(ctx, in.Node)
		if err != nil {
			return nil, err
		}
		id := "p" + time.Now().UTC().Format("20060102T150405") + "-" + randomSuffix()
		p, err := d.Start(ctx, in.Node, hw.ProcessSpec{ID: id, Name: in.Body.Name, Args: in.Body.Args, Env: in.Body.Env, Pwd: in.Body.Pwd, Reservation: r.ID})
		if err != nil {
			return nil, hwError(err, in.Node)
		}
		return &created[ProcessItem]{Location: base(ctx) + "/nodes/" + in.Node + "/processes/" + p.ID, Body: processItem(ctx, in.Node, p)}, nil
	})
	huma.Register(api, op("list-processes", http.MethodGet, "/v1/nodes/{node}/processes", "Processes on a node (those of your reservation)", "nodes"),
		func(ctx context.Context, in *struct {
			NodeRuntimePath
			Paging
		}) (*struct{ Body Collection[ProcessItem] }, error) {
			r, err := s.holder(ctx, in.Node)
			if err != nil {
				return nil, err
			}
			d, err := s.driver(ctx, in.Node)
			if err != nil {
				return nil, err
			}
			ps, err := d.List(ctx, in.Node)
			if err != nil {
				return nil, hwError(err, in.Node)
			}
			items := []ProcessItem{}
			for _, p := range ps {
				if r.ID == "" || p.Reservation == r.ID {
					items = append(items, processItem(ctx, in.Node, p))
				}
			}
			return &struct{ Body Collection[ProcessItem] }{page(ctx, items, in.Paging, "/nodes/"+in.Node+"/processes", "/nodes/"+in.Node+"/info", "")}, nil
		})
	type procPath struct {
		NodeRuntimePath
		ID string `path:"id" maxLength:"128"`
	}
	// own checks that the process belongs to the caller's reservation.
	own := func(ctx context.Context, in *procPath) (hw.Driver, hw.Process, error) {
		r, err := s.holder(ctx, in.Node)
		if err != nil {
			return nil, hw.Process{}, err
		}
		d, err := s.driver(ctx, in.Node)
		if err != nil {
			return nil, hw.Process{}, err
		}
		p, err := d.Status(ctx, in.Node, in.ID)
		if err != nil {
			return nil, p, hwError(err, in.Node)
		}
		if r.ID != "" && p.Reservation != r.ID {
			return nil, p, huma.Error404NotFound("no process " + quote(in.ID) + " of your reservation on " + in.Node)
		}
		return d, p, nil
	}
	huma.Register(api, op("get-process", http.MethodGet, "/v1/nodes/{node}/processes/{id}", "A process with its state, exit code and output", "nodes"),
		func(ctx context.Context, in *procPath) (*struct{ Body ProcessItem }, error) {
			d, p, err := own(ctx, in)
			if err != nil {
				return nil, err
			}
			out, err := d.Output(ctx, in.Node, in.ID)
			if err != nil && !errors.Is(err, hw.NotFound) {
				return nil, hwError(err, in.Node)
			}
			it := processItem(ctx, in.Node, p)
			it.Output = &out
			return &struct{ Body ProcessItem }{it}, nil
		})
	kill := op("kill-process", http.MethodDelete, "/v1/nodes/{node}/processes/{id}", "Kill a process (SIGTERM, then SIGKILL)", "nodes")
	huma.Register(api, kill, func(ctx context.Context, in *procPath) (*struct{ Body ProcessItem }, error) {
		d, _, err := own(ctx, in)
		if err != nil {
			return nil, err
		}
		p, err := d.Kill(ctx, in.Node, in.ID)
		if err != nil {
			return nil, hwError(err, in.Node)
		}
		return &struct{ Body ProcessItem }{processItem(ctx, in.Node, p)}, nil
	})
}

func randomSuffix() string { return store.NewReservationID()[1:9] }
