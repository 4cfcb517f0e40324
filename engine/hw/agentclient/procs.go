package agentclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
)

func process(p agent.Process) hw.Process {
	return hw.Process{
		ID: p.ID, Name: p.Name, Args: p.Args, Env: p.Env, Pwd: p.Pwd, Reservation: p.Reservation,
		PID: p.PID, State: p.State, ExitCode: p.ExitCode, Signal: p.Signal, Started: p.Started, Ended: p.Ended,
		CPUPercent: p.CPUPercent, RSS: p.RSS,
	}
}

// Start starts a process, or finds the one started under spec.ID. The
// agent answers once the process ended or after Options.StartWait, which
// comes first: a short command is reported ended, with its exit code.
func (c *Client) Start(ctx context.Context, node string, spec hw.ProcessSpec) (hw.Process, error) {
	const op = "start process"
	if spec.ID != "" {
		if err := hw.ValidID(spec.ID); err != nil {
			return hw.Process{}, hw.Errorf(op, node, hw.Invalid, "%v", err)
		}
	}
	var p agent.Process
	req := agent.ProcessRequest{ID: spec.ID, Name: spec.Name, Args: spec.Args, Env: spec.Env, Pwd: spec.Pwd, Reservation: spec.Reservation}
	r := request{op: op, node: node, method: http.MethodPost, path: "/v1/processes"}
	if c.opts.StartWait > 0 {
		// A command that ends within StartWait comes back ended: whoever
		// waits for it (a campaign step) needs no poll.
		r.query = url.Values{"wait": {c.opts.StartWait.String()}}
	}
	if err := c.call(ctx, r, req, &p); err != nil {
		return hw.Process{}, err
	}
	return process(p), nil
}

// Status reports a process.
func (c *Client) Status(ctx context.Context, node, id string) (hw.Process, error) {
	var p agent.Process
	if err := c.call(ctx, request{op: "process status", node: node, method: http.MethodGet, path: "/v1/processes/" + seg(id)}, nil, &p); err != nil {
		return hw.Process{}, err
	}
	return process(p), nil
}

// List reports the node's processes.
func (c *Client) List(ctx context.Context, node string) ([]hw.Process, error) {
	var ps []agent.Process
	if err := c.call(ctx, request{op: "list processes", node: node, method: http.MethodGet, path: "/v1/processes"}, nil, &ps); err != nil {
		return nil, err
	}
	out := make([]hw.Process, len(ps))
	for i, p := range ps {
		out[i] = process(p)
	}
	return out, nil
}

// Output returns the tail of a process's output.
func (c *Client) Output(ctx context.Context, node, id string) (hw.Output, error) {
	var o agent.Output
	if err := c.call(ctx, request{op: "process output", node: node, method: http.MethodGet, path: "/v1/processes/" + seg(id) + "/output"}, nil, &o); err != nil {
		return hw.Output{}, err
	}
	return hw.Output{Stdout: []byte(o.Stdout), Stderr: []byte(o.Stderr), StdoutSize: o.StdoutSize, StderrSize: o.StderrSize, Truncated: o.Truncated}, nil
}

// Kill stops a process and its process group.
func (c *Client) Kill(ctx context.Context, node, id string) (hw.Process, error) {
	var p agent.Process
	if err := c.call(ctx, request{op: "kill process", node: node, method: http.MethodDelete, path: "/v1/processes/" + seg(id)}, nil, &p); err != nil {
		return hw.Process{}, err
	}
	return process(p), nil
}

// StopReservation stops the processes and containers of a reservation.
func (c *Client) StopReservation(ctx context.Context, node, reservation string) (int, error) {
	var res agent.StopResult
	r := request{op: "stop reservation", node: node, method: http.MethodDelete, path: "/v1/reservations/" + seg(reservation), long: true}
	if err := c.call(ctx, r, nil, &res); err != nil {
		return 0, err
	}
	return res.Processes + res.Containers, nil
}
