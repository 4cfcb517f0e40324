package activities

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/jobs"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// CampaignGraph is the compiled shape of a campaign: what the workflow needs
// to order and supervise its steps. Step bodies stay in the source; the
// activities evaluate them against recorded outputs.
type CampaignGraph struct {
	Steps   []GraphStep
	Outputs []string
}

// GraphStep is one step of the graph.
type GraphStep struct {
	Address   string
	Kind      string
	DependsOn []string
	Attempts  int           // runs in all, the first included (>= 1)
	Backoff   time.Duration // wait before the second run; doubles after each failure
	Continue  bool          // on failure, let dependents run (on_failure = "continue")
	Timeout   time.Duration // per attempt; 0 is the engine's default
}

// InstanceOutput is what one instance of a step recorded.
type InstanceOutput struct {
	Address string
	Output  json.RawMessage // an object of campaign.OutputType(kind), as cty JSON
}

// StepInstance is one instance to run, decoded against the outputs so far.
type StepInstance struct {
	Address     string
	Kind        string
	Reservation *ReserveAction   `json:",omitempty"`
	Run         *RunAction       `json:",omitempty"`
	Deployment  *DeployAction    `json:",omitempty"`
	Transfer    *TransferAction  `json:",omitempty"`
	Container   *ContainerAction `json:",omitempty"`
	Job         *JobAction       `json:",omitempty"`
}

// DeployAction is a deployment step instance.
type DeployAction struct {
	Nodes       []string
	Environment string
	Force       bool
}

// ReserveAction is a reservation step instance.
type ReserveAction struct {
	Site     string
	Groups   []resv.NodeGroup
	Walltime time.Duration
	Queue    string
	Types    []string
	Start    time.Time
}

// RunAction is a run step instance: a command on each of Nodes.
type RunAction struct {
	Nodes []string
	// Container, when set, runs the command in that container (made by a
	// container step) instead of on Nodes.
	Container string `json:",omitempty"`
	Command   string
	Args      []string
	Env       map[string]string
	Dir       string
}

func nonRetryable(err error, kind string) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), kind, err)
}

// loaded keeps parsed campaigns: every step of a campaign needs it, and a
// stored campaign never changes, so parsing once per worker is enough.
var loaded = struct {
	sync.Mutex
	m map[string]*campaign.Campaign
}{m: map[string]*campaign.Campaign{}}

const loadedMax = 256

// load parses the stored campaign again (or takes it from the cache).
// Parsing is a pure function of the source and variables, so every activity
// sees the campaign the submission validated.
func (a *Activities) load(ctx context.Context, id string) (*campaign.Campaign, error) {
	loaded.Lock()
	c, ok := loaded.m[id]
	loaded.Unlock()
	if ok {
		return c, nil
	}
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nonRetryable(err, "NotFound")
		}
		return nil, err
	}
	c, diags := campaign.Load(campaign.Input{Filename: rec.Filename, Source: []byte(rec.Source), Vars: rec.Variables})
	if diags.HasErrors() {
		return nil, nonRetryable(fmt.Errorf("campaign %s no longer loads: %s", id, diags.Error()), "Invalid")
	}
	loaded.Lock()
	if len(loaded.m) >= loadedMax {
		clear(loaded.m)
	}
	loaded.m[id] = c
	loaded.Unlock()
	return c, nil
}

// CampaignGraphOf compiles a stored campaign into its step graph.
func (a *Activities) CampaignGraphOf(ctx context.Context, id string) (CampaignGraph, error) {
	c, err := a.load(ctx, id)
	if err != nil {
		return CampaignGraph{}, err
	}
	var g CampaignGraph
	for _, st := range c.Steps {
		gs := GraphStep{Address: st.Address, Kind: string(st.Kind), DependsOn: st.DependsOn, Attempts: 1,
			Continue: st.OnFailure.Then == campaign.Continue, Timeout: st.Timeout}
		if r := st.OnFailure.Retry; r != nil {
			gs.Attempts, gs.Backoff = max(r.Attempts, 1), r.Backoff
		}
		g.Steps = append(g.Steps, gs)
	}
	for _, o := range c.Outputs {
		g.Outputs = append(g.Outputs, o.Name)
	}
	return g, nil
}

// evalContext rebuilds the evaluation context from recorded outputs.
func evalContext(c *campaign.Campaign, outputs map[string][]InstanceOutput) (map[string]cty.Value, error) {
	vals := map[string]cty.Value{}
	for _, st := range c.Steps {
		recs, ok := outputs[st.Address]
		if !ok {
			continue
		}
		insts := make([]campaign.Instance, 0, len(recs))
		outs := make([]cty.Value, 0, len(recs))
		// The instances are expanded again so that their keys match.
		known := map[string]campaign.Instance{}
		ctx := c.EvalContext(vals)
		all, diags := st.Expand(ctx)
		if diags.HasErrors() {
			return nil, fmt.Errorf("expand %s: %s", st.Address, diags.Error())
		}
		for _, in := range all {
			known[in.Address] = in
		}
		// Instances in expansion order, whatever the order they were
		// recorded in (the store keeps them in a map).
		order := make(map[string]int, len(all))
		for i, in := range all {
			order[in.Address] = i
		}
		recs = slices.Clone(recs)
		slices.SortStableFunc(recs, func(x, y InstanceOutput) int { return order[x.Address] - order[y.Address] })
		for _, r := range recs {
			in, ok := known[r.Address]
			if !ok {
				return nil, fmt.Errorf("recorded output of unknown instance %s", r.Address)
			}
			v, err := ctyjson.Unmarshal(r.Output, campaign.OutputType(st.Kind))
			if err != nil {
				return nil, fmt.Errorf("outputs of %s: %w", r.Address, err)
			}
			insts = append(insts, in)
			outs = append(outs, v)
		}
		v, err := st.OutputValue(insts, outs)
		if err != nil {
			return nil, err
		}
		vals[st.Address] = v
	}
	return vals, nil
}

// ExpandStep records that attempt of the step as running, evaluates the step
// against the outputs recorded so far and returns its instances, ready to
// run. (One activity for both: a campaign step costs a store write less.)
func (a *Activities) ExpandStep(ctx context.Context, id, address string, attempt int, outputs map[string][]InstanceOutput) ([]StepInstance, error) {
	if err := a.Store.SetStepState(ctx, id, address, store.StepRunning, attempt, "", nil); err != nil {
		return nil, err
	}
	c, err := a.load(ctx, id)
	if err != nil {
		return nil, err
	}
	st := c.Step(address)
	if st == nil {
		return nil, nonRetryable(fmt.Errorf("campaign %s has no step %s", id, address), "Invalid")
	}
	vals, err := evalContext(c, outputs)
	if err != nil {
		return nil, nonRetryable(err, "Invalid")
	}
	ectx := c.EvalContext(vals)
	insts, diags := st.Expand(ectx)
	if diags.HasErrors() {
		return nil, nonRetryable(fmt.Errorf("%s: %s", address, diags.Error()), "Invalid")
	}
	out := make([]StepInstance, 0, len(insts))
	for _, in := range insts {
		spec, diags := st.Decode(ectx, in)
		if diags.HasErrors() {
			return nil, nonRetryable(fmt.Errorf("%s: %s", in.Address, diags.Error()), "Invalid")
		}
		if p := spec.Pending(); len(p) > 0 {
			return nil, nonRetryable(fmt.Errorf("%s: arguments still unknown when it should run: %v", in.Address, p), "Invalid")
		}
		si := StepInstance{Address: in.Address, Kind: string(st.Kind)}
		switch sp := spec.(type) {
		case *campaign.ReservationSpec:
			ra := &ReserveAction{Site: sp.Site, Walltime: sp.Walltime, Queue: sp.Queue, Types: sp.Types}
			if sp.Start != nil {
				ra.Start = *sp.Start
			}
			filter, err := propertiesFilter(sp.Properties)
			if err != nil {
				return nil, nonRetryable(fmt.Errorf("%s: %w", in.Address, err), "Invalid")
			}
			if len(sp.Groups) == 0 {
				f := filter
				f.Cluster = sp.Cluster
				ra.Groups = []resv.NodeGroup{{Count: sp.Nodes, Filter: f}}
			}
			for _, g := range sp.Groups {
				f := filter
				f.Cluster = g.Cluster
				ra.Groups = append(ra.Groups, resv.NodeGroup{Count: g.Nodes, Filter: f})
			}
			si.Reservation = ra
		case *campaign.DeploymentSpec:
			si.Deployment = &DeployAction{Nodes: sp.Nodes, Environment: sp.Environment, Force: sp.Force}
		case *campaign.TransferSpec:
			ta := &TransferAction{Overwrite: sp.Overwrite, Retry: sp.Retry, RetryDelay: sp.RetryDelay, Priority: sp.Priority, Verify: "none"}
			if sp.VerifyChecksum {
				ta.Verify = "both"
			}
			for _, f := range sp.Files {
				sum, err := stepChecksum(f.ChecksumAlgorithm, f.Checksum)
				if err != nil {
					return nil, nonRetryable(fmt.Errorf("%s: %w", in.Address, err), "Invalid")
				}
				ta.Files = append(ta.Files, TransferFileAction{Sources: f.Sources, Destination: f.Destination, Checksum: sum, LFN: f.LFN})
			}
			si.Transfer = ta
		case *campaign.ContainerSpec:
			ca := &ContainerAction{Node: sp.Node, Image: sp.Image, Env: sp.Env, Ports: map[string]int{}}
			for host, ctr := range sp.Ports {
				ca.Ports[fmt.Sprintf("%d/tcp", ctr)] = host
			}
			for _, p := range sp.Init {
				ca.Init = append(ca.Init, RunAction{Command: p.Command, Args: p.Args, Env: p.Env, Dir: p.Dir})
			}
			si.Container = ca
		case *campaign.RunSpec:
			si.Run = &RunAction{Nodes: sp.Nodes, Container: sp.Container, Command: sp.Command, Args: sp.Args, Env: sp.Env, Dir: sp.Dir}
		case *campaign.JobSpec:
			m := jobs.Manifest{Executable: sp.Executable, Arguments: sp.Arguments, JobName: cmpOr(sp.JobName, in.Address), Sites: sp.Sites,
				Cores: sp.Cores, Memory: sp.Memory, CPUTime: int(sp.CPUTime / time.Second), Environment: sp.Env, OutputSandbox: sp.OutputSandbox}
			si.Job = &JobAction{Manifest: m, Files: sp.Files}
		default:
			return nil, nonRetryable(fmt.Errorf("%s: %s steps are not supported by this engine yet", in.Address, st.Kind), "Unsupported")
		}
		out = append(out, si)
	}
	return out, nil
}

// propertiesFilter maps the language's node properties onto a node filter:
// numbers are minimums, strings must match (see engine/inventory, which
// validated them with the same meaning).
func propertiesFilter(props map[string]cty.Value) (resv.NodeFilter, error) {
	var f resv.NodeFilter
	for k, v := range props {
		if !v.IsKnown() || v.IsNull() {
			continue
		}
		var err error
		switch k {
		case "cores":
			f.MinCores, err = whole(v)
		case "gpu_count", "gpus":
			f.MinGPUs, err = whole(v)
		case "memory":
			f.MinMemory, err = quantity(v, units.ParseSize)
		case "disk":
			f.MinDisk, err = quantity(v, units.ParseSize)
		case "network", "network_rate":
			f.MinNetwork, err = quantity(v, units.ParseRate)
		case "gpu_model", "cpu_model", "cluster":
			if v.Type() != cty.String {
				return f, fmt.Errorf("property %s must be a string", k)
			}
			switch k {
			case "gpu_model":
				f.GPUModel = v.AsString()
			case "cpu_model":
				f.CPUModel = v.AsString()
			default:
				f.Cluster = v.AsString()
			}
		default:
			return f, fmt.Errorf("property %q is not supported for node selection (use cores, memory, disk, network, gpu_count, gpu_model, cpu_model, cluster)", k)
		}
		if err != nil {
			return f, fmt.Errorf("property %s: %w", k, err)
		}
	}
	return f, nil
}

// whole reads a whole number given as a number or a numeric string.
func whole(v cty.Value) (int, error) {
	n, err := quantity(v, func(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) })
	return int(n), err
}

// quantity reads a number, or a string through parse ("64GiB", "10Gbps").
func quantity(v cty.Value, parse func(string) (int64, error)) (int64, error) {
	switch v.Type() {
	case cty.Number:
		n, acc := v.AsBigFloat().Int64()
		if acc != big.Exact && !v.AsBigFloat().IsInt() {
			return 0, fmt.Errorf("%s is not a whole number", v.AsBigFloat().String())
		}
		return n, nil
	case cty.String:
		return parse(v.AsString())
	}
	return 0, fmt.Errorf("want a number or a string, got %s", v.Type().FriendlyName())
}

// reservationName ties a campaign's reservation to its instance, so that a
// retried activity finds the reservation it already made.
func reservationName(id, address string) string { return "campaign " + id + " " + address }

// Reserve makes (or finds) the reservation of a campaign step instance and
// waits, heartbeating, until it runs.
func (a *Activities) Reserve(ctx context.Context, id, address string, act ReserveAction) (json.RawMessage, error) {
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	name := reservationName(id, address)
	r, err := a.Store.FindReservationByName(ctx, rec.Owner, name)
	if errors.Is(err, store.ErrNotFound) {
		r, err = a.Reservations.Submit(ctx, resv.ReservationRequest{Site: act.Site, Owner: rec.Owner, Name: name,
			Queue: cmpOr(act.Queue, "default"), Types: act.Types, Groups: act.Groups, Walltime: act.Walltime, Start: act.Start})
		var re *resv.RequestError
		if errors.As(err, &re) {
			return nil, nonRetryable(fmt.Errorf("%s: %s", address, re.Msg), "Refused")
		}
	}
	if err != nil {
		return nil, err
	}
	// A reservation of free nodes runs within tens of milliseconds: look
	// often at first, then every 250 ms while it waits for its nodes.
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		activity.RecordHeartbeat(ctx, r.State)
		switch r.State {
		case store.ResRunning:
			return json.Marshal(map[string]any{"id": r.ID, "site": r.Site, "nodes": r.Nodes})
		case store.ResError, store.ResCanceled, store.ResTerminated:
			return nil, nonRetryable(fmt.Errorf("reservation %s ended %s before the step could use it: %s", r.ID, r.State, r.Reason), "ReservationEnded")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if r, err = a.Store.GetReservation(ctx, r.ID); err != nil {
			return nil, err
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Deploy deploys an environment for a campaign step instance (or finds the
// deployment an earlier try made) and waits for its end. Following the
// language, it fails only when no node deployed.
func (a *Activities) Deploy(ctx context.Context, id, address string, act DeployAction) (json.RawMessage, error) {
	if a.Deployments == nil {
		return nil, nonRetryable(errors.New("deployments are not available in this engine"), "Unsupported")
	}
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(act.Nodes) == 0 {
		return nil, nonRetryable(fmt.Errorf("%s: no nodes to deploy", address), "Invalid")
	}
	tb, err := a.Reservations.Testbed(ctx)
	if err != nil {
		return nil, err
	}
	n := tb.Node(act.Nodes[0])
	if n == nil {
		return nil, nonRetryable(fmt.Errorf("%s: no node %q in the testbed", address, act.Nodes[0]), "Invalid")
	}
	key := "campaign-deployment " + id + " " + address
	depID, err := a.Store.GetSetting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		d, err := a.Deployments.Submit(ctx, deploy.DeployRequest{Site: n.Site, Owner: rec.Owner, Nodes: act.Nodes,
			Environment: act.Environment, Force: act.Force})
		var re *resv.RequestError
		if errors.As(err, &re) {
			return nil, nonRetryable(fmt.Errorf("%s: %s", address, re.Msg), "Refused")
		}
		if err != nil {
			return nil, err
		}
		depID = d.ID
		if err := a.Store.SetSetting(ctx, key, depID); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	for {
		d, err := a.Store.GetDeployment(ctx, depID)
		if err != nil {
			return nil, err
		}
		activity.RecordHeartbeat(ctx, d.State)
		switch d.State {
		case store.DeployWaiting, store.DeployProcessing:
		default:
			var ok, ko []string
			for _, dn := range d.Nodes {
				if dn.State == store.NodeOK {
					ok = append(ok, dn.Node)
				} else {
					ko = append(ko, dn.Node)
				}
			}
			out, _ := json.Marshal(map[string]any{"id": d.ID, "environment": d.Environment, "nodes": act.Nodes,
				"ok_nodes": nonNilList(ok), "ko_nodes": nonNilList(ko)})
			if len(ok) == 0 {
				return nil, nonRetryable(fmt.Errorf("%s: deployment %s deployed no node (%s): %s", address, d.ID, d.State, d.Reason), "DeployFailed")
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReleaseCampaign cancels every active reservation the campaign made.
func (a *Activities) ReleaseCampaign(ctx context.Context, id string) (int, error) {
	rec, err := a.Store.GetCampaign(ctx, id)
	if err != nil {
		return 0, err
	}
	rs, _, err := a.Store.ListReservations(ctx, store.ReservationFilter{Owner: rec.Owner})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		if !strings.HasPrefix(r.Name, "campaign "+id+" ") || !slices.Contains(store.ActiveStates, r.State) {
			continue
		}
		err := a.Reservations.Cancel(ctx, r.ID)
		var re *resv.RequestError
		if err != nil && !errors.As(err, &re) { // 409: it ended meanwhile
			return n, err
		}
		n++
	}
	return n, nil
}

// processID names a run instance's process on a node: the same on every retry
// of the activity (so Start is idempotent), new for every attempt of the step.
func processID(id, address string, attempt int) string {
	sum := sha1.Sum([]byte(address))
	return fmt.Sprintf("%s-%s-%d", id, hex.EncodeToString(sum[:6]), attempt)
}

type runResult struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exit_code"`
}

// RunOutcome is what a run instance recorded, and its exit code (the
// largest over its nodes) so that the workflow need not decode the output.
type RunOutcome struct {
	Output   json.RawMessage
	ExitCode int
}

// RunCommand runs a command on every node of the action, in parallel, and
// waits for all of them, heartbeating. Its output follows the language: the
// exit code is the largest, stdout and stderr are the first node's, results
// holds every node's.
func (a *Activities) RunCommand(ctx context.Context, id, address string, attempt int, act RunAction) (RunOutcome, error) {
	drivers, err := a.Drivers(ctx)
	if err != nil {
		return RunOutcome{}, err
	}
	targets := act.Nodes
	containerNode := ""
	if act.Container != "" {
		if containerNode, err = a.Store.GetSetting(ctx, containerNodeKey(act.Container)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return RunOutcome{}, nonRetryable(fmt.Errorf("%s: no container %q was started by a container step", address, act.Container), "Invalid")
			}
			return RunOutcome{}, err
		}
		targets = []string{act.Container}
	}
	if len(targets) == 0 {
		return RunOutcome{}, nonRetryable(fmt.Errorf("%s: no nodes to run on", address), "Invalid")
	}
	name, args := act.Command, act.Args
	if len(args) == 0 { // the language: command without args is a shell line
		name, args = "/bin/sh", []string{"-c", act.Command}
	}
	pid := processID(id, address, attempt)
	results := make(map[string]runResult, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, target := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := hw.ProcessSpec{ID: pid, Name: name, Args: args, Env: act.Env, Pwd: act.Dir}
			var ops procOps
			var err error
			what := "node " + target
			if containerNode != "" {
				ops, err = containerOps(drivers, containerNode, target)
				what = "container " + target + " on " + containerNode
			} else {
				ops, err = nodeOps(drivers, target)
			}
			var res runResult
			if err == nil {
				res, err = runOn(ctx, ops, spec)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", what, err)
				return
			}
			mu.Lock()
			results[target] = res
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			mu.Lock()
			activity.RecordHeartbeat(ctx, len(results))
			mu.Unlock()
		}
	}
	if err := errors.Join(errs...); err != nil {
		if hw.Retryable(err) {
			return RunOutcome{}, err
		}
		return RunOutcome{}, nonRetryable(err, "RunFailed")
	}
	out := map[string]any{"results": results, "exit_code": 0, "stdout": "", "stderr": ""}
	first := results[targets[0]]
	out["stdout"], out["stderr"] = first.Stdout, first.Stderr
	// The worst exit code: the largest positive one; else -1 when a signal
	// ended a process (that is a failure too, not a success); else 0.
	worst, signaled := 0, false
	for _, r := range results {
		worst = max(worst, r.ExitCode)
		signaled = signaled || r.ExitCode < 0
	}
	if worst == 0 && signaled {
		worst = -1
	}
	out["exit_code"] = worst
	b, err := json.Marshal(out)
	return RunOutcome{Output: b, ExitCode: worst}, err
}

// procOps runs processes in one place: a node, or a container on a node.
type procOps struct {
	Start  func(ctx context.Context, spec hw.ProcessSpec) (hw.Process, error)
	Status func(ctx context.Context, id string) (hw.Process, error)
	Output func(ctx context.Context, id string) (hw.Output, error)
	Kill   func(ctx context.Context, id string) (hw.Process, error)
}

func nodeOps(drivers *hw.Drivers, node string) (procOps, error) {
	d, err := drivers.For(node)
	if err != nil {
		return procOps{}, err
	}
	return procOps{
		Start:  func(ctx context.Context, spec hw.ProcessSpec) (hw.Process, error) { return d.Start(ctx, node, spec) },
		Status: func(ctx context.Context, id string) (hw.Process, error) { return d.Status(ctx, node, id) },
		Output: func(ctx context.Context, id string) (hw.Output, error) { return d.Output(ctx, node, id) },
		Kill:   func(ctx context.Context, id string) (hw.Process, error) { return d.Kill(ctx, node, id) },
	}, nil
}

func containerOps(drivers *hw.Drivers, node, ctr string) (procOps, error) {
	d, err := drivers.For(node)
	if err != nil {
		return procOps{}, err
	}
	return procOps{
		Start: func(ctx context.Context, spec hw.ProcessSpec) (hw.Process, error) {
			return d.Exec(ctx, node, ctr, spec)
		},
		Status: func(ctx context.Context, id string) (hw.Process, error) { return d.ContainerJob(ctx, node, ctr, id) },
		Output: func(ctx context.Context, id string) (hw.Output, error) {
			return d.ContainerJobOutput(ctx, node, ctr, id)
		},
		Kill: func(ctx context.Context, id string) (hw.Process, error) {
			return d.KillContainerJob(ctx, node, ctr, id)
		},
	}, nil
}

// stepEnds reports whether an activity's context ended because its step
// does (the workflow canceled it, or the attempt's own timeout passed),
// rather than because this attempt was lost: the SDK also ends the context
// when a heartbeat does not reach Temporal in time or Temporal no longer
// knows the attempt. A lost attempt is retried, and the retry finds the
// process by its id: killing it would fail the step for nothing.
func stepEnds(ctx context.Context) bool {
	if temporal.IsCanceledError(context.Cause(ctx)) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// runOn starts the process (idempotently) and waits for its end.
func runOn(ctx context.Context, d procOps, spec hw.ProcessSpec) (runResult, error) {
	p, err := d.Start(ctx, spec)
	if err != nil {
		return runResult{}, err
	}
	wait := 5 * time.Millisecond // short commands end fast; long ones are polled less
	for p.State == hw.ProcessRunning {
		select {
		case <-ctx.Done():
			select {
			case <-activity.GetWorkerStopChannel(ctx):
				// The worker is stopping, not the step: leave the process
				// running; the retried attempt finds it by its id.
			default:
				if stepEnds(ctx) {
					_, _ = d.Kill(context.WithoutCancel(ctx), spec.ID)
				}
			}
			return runResult{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
		if p, err = d.Status(ctx, spec.ID); err != nil {
			return runResult{}, err
		}
	}
	o, err := d.Output(ctx, spec.ID)
	if err != nil {
		return runResult{}, err
	}
	code := -1
	if p.ExitCode != nil {
		code = *p.ExitCode
	}
	return runResult{Stdout: string(o.Stdout), Stderr: string(o.Stderr), ExitCode: code}, nil
}

// CampaignOutputs evaluates the campaign's output blocks once it has run.
func (a *Activities) CampaignOutputs(ctx context.Context, id string, outputs map[string][]InstanceOutput) (json.RawMessage, error) {
	c, err := a.load(ctx, id)
	if err != nil {
		return nil, err
	}
	vals, err := evalContext(c, outputs)
	if err != nil {
		return nil, nonRetryable(err, "Invalid")
	}
	ectx := c.EvalContext(vals)
	res := map[string]json.RawMessage{}
	for _, o := range c.Outputs {
		v, diags := o.Value(ectx)
		if diags.HasErrors() || !v.IsWhollyKnown() {
			continue // an output that reads a step that did not run
		}
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return nil, nonRetryable(err, "Invalid")
		}
		res[o.Name] = b
	}
	return json.Marshal(res)
}

// SetCampaignState records the campaign's state (idempotent after the end).
func (a *Activities) SetCampaignState(ctx context.Context, id, state, reason string, outputs json.RawMessage) error {
	err := a.Store.SetCampaignState(ctx, id, state, reason, outputs)
	if errors.Is(err, store.ErrFinal) {
		return nil
	}
	return err
}

// SetStepState records a step's progress; outputs (nil: unchanged) are its
// instances' outputs.
func (a *Activities) SetStepState(ctx context.Context, id, address, state string, attempts int, errMsg string, outputs []InstanceOutput) error {
	var raw json.RawMessage
	if outputs != nil {
		m := make(map[string]json.RawMessage, len(outputs))
		for _, o := range outputs {
			if len(o.Output) > 0 {
				m[o.Address] = o.Output
			}
		}
		var err error
		if raw, err = json.Marshal(m); err != nil {
			return nonRetryable(err, "Invalid")
		}
	}
	return a.Store.SetStepState(ctx, id, address, state, attempts, errMsg, raw)
}
