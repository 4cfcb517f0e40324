// Package deploy is the deployment service (kadeploy-like): it keeps the
// environments catalog, checks that a deployment touches only nodes of the
// caller's running reservation of type deploy, records it and starts its
// workflow; it retries the KO nodes and cancels. The API and the campaign
// activities both use it.
//
// A retry is a new run of the same deployment: the deployment keeps its id
// and its OK nodes, its KO nodes go back to pending with run+1, and a new
// workflow run starts under the same workflow id. Every node shows the last
// run that deployed it and how many times its image was written.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/gridflow/gridflow/agent/checksum"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// WorkflowName is the registered name of the deployment workflow; the
// service starts it by name so that this package need not import workflows.
const WorkflowName = "Deployment"

// ReservationType is the reservation type that allows redeploying nodes.
const ReservationType = "deploy"

// PublicOwner owns the built-in public environments.
const PublicOwner = "gridflow"

// Timeouts bound each step of a node's deployment; zero fields take the
// defaults (DefaultTimeouts).
type Timeouts struct {
	Prepare time.Duration `json:"prepare,omitempty"`
	Write   time.Duration `json:"write,omitempty"`
	Verify  time.Duration `json:"verify,omitempty"`
	Boot    time.Duration `json:"boot,omitempty"`
	Check   time.Duration `json:"check,omitempty"`
}

// DefaultTimeouts are kadeploy-like: writing an image is the long step.
var DefaultTimeouts = Timeouts{Prepare: time.Minute, Write: 15 * time.Minute, Verify: time.Minute, Boot: 10 * time.Minute, Check: 2 * time.Minute}

// WithDefaults fills the zero fields.
func (t Timeouts) WithDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{{&t.Prepare, &d.Prepare}, {&t.Write, &d.Write}, {&t.Verify, &d.Verify}, {&t.Boot, &d.Boot}, {&t.Check, &d.Check}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// Of returns the timeout of a step.
func (t Timeouts) Of(step string) time.Duration {
	switch step {
	case store.StepPrepare:
		return t.Prepare
	case store.StepWrite:
		return t.Write
	case store.StepVerify:
		return t.Verify
	case store.StepBoot:
		return t.Boot
	}
	return t.Check
}

// Total is the longest a node's deployment may take with retries: every
// try of every step, the soft reboots after a failed boot or check, and the
// waits between tries (at most 10s each).
func (t Timeouts) Total(retries int) time.Duration {
	return (t.Prepare + t.Write + t.Verify + 2*t.Boot + 2*t.Check + 5*10*time.Second) * time.Duration(retries+1)
}

// TotalWithPowerCycle is Total with kadeploy's last fallback: a boot that
// failed every try power-cycles the node (at most a boot timeout) and is
// tried once more.
func (t Timeouts) TotalWithPowerCycle(retries int) time.Duration {
	return t.Total(retries) + 2*t.Boot
}

// DefaultRetries is how many times a failed step is tried again.
const DefaultRetries = 2

// MaxRetries caps the retries a user may ask for.
const MaxRetries = 10

// DefaultParallel is how many nodes a deployment writes to at once.
const DefaultParallel = 16

// BatchSize is how many nodes one workflow history deploys: a run of more
// nodes gives them to child workflows of BatchSize nodes each, so that no
// history grows with the size of the deployment (about six events per
// node in the history that deploys it).
const BatchSize = 100

// Options are the per-deployment knobs, stored with the deployment.
type Options struct {
	Force    bool     `json:"force,omitempty"`
	Timeouts Timeouts `json:"timeouts"`
	Retries  int      `json:"retries"`
	// Parallel bounds the nodes deployed at once (0: DefaultParallel).
	Parallel int `json:"parallel,omitempty"`
}

// Params start (a run of) a deployment workflow; its id is the deployment id.
type Params struct {
	ID          string
	Run         int
	Reservation string
	Nodes       []string
	Env         hw.EnvSpec
	Options     Options
}

// DeployRequest is what a user submits.
type DeployRequest struct {
	Site  string
	Owner string
	// Projects of the owner: they see their projects' environments.
	Projects []string
	// Reservation, or Nodes, or both (then the nodes must be in it).
	Reservation string
	Nodes       []string
	// Environment is "name" (newest visible version) or "name@version"; with
	// URL and Checksum it is only a label (default "custom").
	Environment string
	URL         string
	Checksum    string
	Force       bool
	Timeouts    Timeouts
	// Retries of a failed step; nil: DefaultRetries.
	Retries *int
}

// Viewer is who looks at the catalog.
type Viewer struct {
	Name     string
	Projects []string
	Admin    bool
}

// Visible reports whether v may see and use e.
func (v Viewer) Visible(e store.Environment) bool {
	switch {
	case v.Admin, e.Visibility == store.VisibilityPublic, e.Owner == v.Name:
		return true
	case e.Visibility == store.VisibilityProject:
		return slices.Contains(v.Projects, e.Project)
	}
	return false
}

// Service deploys environments on reserved nodes.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Testbed returns the current testbed.
	Testbed func(ctx context.Context) (*testbed.Testbed, error)
	Logger  *slog.Logger

	seedMu sync.Mutex
	seeded bool
}

func reqErr(status int, format string, args ...any) error {
	return &resv.RequestError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func (e *Service) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.Default()
	}
	return e.Logger
}

// SplitRef splits "name@version"; version is "" without '@'.
func SplitRef(ref string) (name, version string) {
	name, version, _ = strings.Cut(ref, "@")
	return name, version
}

// seed adds the built-in public environments to the catalog once per
// process; a failure is retried on the next call.
func (e *Service) seed(ctx context.Context) error {
	e.seedMu.Lock()
	defer e.seedMu.Unlock()
	if e.seeded {
		return nil
	}
	var envs []store.Environment
	for _, p := range hw.PublicEnvironments() {
		name, version := SplitRef(p.Name)
		family, _, _ := strings.Cut(name, "-")
		envs = append(envs, store.Environment{Name: name, Version: version, Description: p.Description, OS: family,
			URL: p.URL, Checksum: p.Checksum, Owner: PublicOwner, Visibility: store.VisibilityPublic})
	}
	if err := e.Store.SeedEnvironments(ctx, envs); err != nil {
		return err
	}
	e.seeded = true
	return nil
}

// Environments returns the catalog entries v may see, all versions, or the
// versions of one name (newest first).
func (e *Service) Environments(ctx context.Context, v Viewer, name string) ([]store.Environment, error) {
	if err := e.seed(ctx); err != nil {
		return nil, err
	}
	all, err := e.Store.ListEnvironments(ctx, name)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(env store.Environment) bool { return !v.Visible(env) }), nil
}

// Environment resolves "name" (its newest visible version) or "name@version".
func (e *Service) Environment(ctx context.Context, v Viewer, ref string) (store.Environment, error) {
	name, version := SplitRef(ref)
	vs, err := e.Environments(ctx, v, name)
	if err != nil {
		return store.Environment{}, err
	}
	for _, env := range vs {
		if version == "" || env.Version == version {
			return env, nil
		}
	}
	if len(vs) > 0 {
		have := make([]string, len(vs))
		for i, env := range vs {
			have[i] = env.Version
		}
		return store.Environment{}, reqErr(404, "environment %s has no version %q: it has %s", name, version, strings.Join(have, ", "))
	}
	return store.Environment{}, reqErr(404, "no environment %q: GET /v1/environments lists those you may deploy", name)
}

// CheckChecksum validates "<algorithm>:<hex>".
func CheckChecksum(sum string) error {
	if _, err := checksum.Parse(sum); err != nil {
		return reqErr(422, "checksum %q: %v (write e.g. sha256:<64 hex digits>)", sum, err)
	}
	return nil
}

// CreateEnvironment adds an environment version owned by env.Owner.
func (e *Service) CreateEnvironment(ctx context.Context, env store.Environment) (store.Environment, error) {
	if err := e.seed(ctx); err != nil {
		return env, err
	}
	if err := CheckChecksum(env.Checksum); err != nil {
		return env, err
	}
	if env.Visibility == "" {
		env.Visibility = store.VisibilityPrivate
	}
	out, err := e.Store.CreateEnvironment(ctx, env)
	switch {
	case errors.Is(err, store.ErrConflict):
		return out, reqErr(409, "environment %s already exists: publish a new version", env.Ref())
	case errors.Is(err, store.ErrInvalid):
		return out, reqErr(422, "%s", strings.TrimPrefix(err.Error(), "store: "))
	}
	return out, err
}

// DeleteEnvironment removes one version, or every version the viewer may
// delete when version is "". Only the owner or an administrator may.
func (e *Service) DeleteEnvironment(ctx context.Context, v Viewer, name, version string) error {
	vs, err := e.Environments(ctx, v, name)
	if err != nil {
		return err
	}
	var del []store.Environment
	for _, env := range vs {
		if version == "" || env.Version == version {
			del = append(del, env)
		}
	}
	if len(del) == 0 {
		if version != "" {
			name += "@" + version
		}
		return reqErr(404, "no environment %s that you may see", name)
	}
	for _, env := range del {
		if !v.Admin && env.Owner != v.Name {
			return reqErr(403, "environment %s belongs to %s: only its owner or an administrator may delete it", env.Ref(), env.Owner)
		}
	}
	for _, env := range del {
		if err := e.Store.DeleteEnvironment(ctx, env.Name, env.Version); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// resolveNodes checks the nodes against the rules: on the site, in one
// running reservation of the owner, made with type deploy.
func (e *Service) resolveNodes(ctx context.Context, req DeployRequest) (store.Reservation, []string, error) {
	tb, err := e.Testbed(ctx)
	if err != nil {
		return store.Reservation{}, nil, err
	}
	if tb.Site(req.Site) == nil {
		return store.Reservation{}, nil, reqErr(404, "no site %q", req.Site)
	}
	var unknown []string
	for _, n := range req.Nodes {
		if node := tb.Node(n); node == nil || node.Site != req.Site {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return store.Reservation{}, nil, reqErr(404, "no node %s on site %s", strings.Join(unknown, ", "), req.Site)
	}
	check := func(r store.Reservation) error {
		switch {
		case r.Owner != req.Owner:
			return reqErr(403, "reservation %s belongs to %s: deploy only on your own reservations", r.ID, r.Owner)
		case r.Site != req.Site:
			return reqErr(404, "no reservation %q at site %s", r.ID, req.Site)
		case !slices.Contains(r.Types, ReservationType):
			return reqErr(403, "reservation %s (nodes %s) was not made with type deploy: reserve with types [\"deploy\"] to deploy environments",
				r.ID, strings.Join(r.Nodes, ", "))
		case r.State != store.ResRunning:
			return reqErr(409, "reservation %s is %s, not running: deploy on its nodes %s while it runs", r.ID, r.State, strings.Join(r.Nodes, ", "))
		}
		return nil
	}
	if req.Reservation != "" {
		r, err := e.Store.GetReservation(ctx, req.Reservation)
		if errors.Is(err, store.ErrNotFound) {
			return r, nil, reqErr(404, "no reservation %q at site %s", req.Reservation, req.Site)
		}
		if err != nil {
			return r, nil, err
		}
		if err := check(r); err != nil {
			return r, nil, err
		}
		if len(req.Nodes) == 0 {
			return r, r.Nodes, nil
		}
		var outside []string
		for _, n := range req.Nodes {
			if !slices.Contains(r.Nodes, n) {
				outside = append(outside, n)
			}
		}
		if len(outside) > 0 {
			return r, nil, reqErr(403, "nodes %s are not in reservation %s (which holds %s)", strings.Join(outside, ", "), r.ID, strings.Join(r.Nodes, ", "))
		}
		return r, dedup(req.Nodes), nil
	}
	if len(req.Nodes) == 0 {
		return store.Reservation{}, nil, reqErr(422, "name the nodes to deploy, or a reservation to deploy all its nodes")
	}
	running, _, err := e.Store.ListReservations(ctx, store.ReservationFilter{Site: req.Site, Owner: req.Owner, State: store.ResRunning})
	if err != nil {
		return store.Reservation{}, nil, err
	}
	var holder *store.Reservation
	var outside []string
	for _, n := range req.Nodes {
		i := slices.IndexFunc(running, func(r store.Reservation) bool { return slices.Contains(r.Nodes, n) })
		switch {
		case i < 0:
			outside = append(outside, n)
		case holder == nil:
			holder = &running[i]
		case holder.ID != running[i].ID:
			return store.Reservation{}, nil, reqErr(422, "nodes are in several reservations (%s and %s): deploy each reservation's nodes separately", holder.ID, running[i].ID)
		}
	}
	if len(outside) > 0 {
		return store.Reservation{}, nil, reqErr(403, "nodes %s are not in one of your running reservations: reserve them with types [\"deploy\"] first", strings.Join(outside, ", "))
	}
	if err := check(*holder); err != nil {
		return *holder, nil, err
	}
	return *holder, dedup(req.Nodes), nil
}

func dedup(nodes []string) []string {
	out := slices.Clone(nodes)
	slices.Sort(out)
	return slices.Compact(out)
}

func busyError(err error) error {
	var busy *store.BusyError
	if errors.As(err, &busy) {
		return reqErr(409, "%s: wait for it to end, cancel it, or ask again with force", busy.Error())
	}
	return err
}

// Submit validates a deployment, records it and starts its workflow.
func (e *Service) Submit(ctx context.Context, req DeployRequest) (store.Deployment, error) {
	opts := Options{Force: req.Force, Timeouts: req.Timeouts.WithDefaults(), Retries: DefaultRetries}
	if req.Retries != nil {
		if *req.Retries < 0 || *req.Retries > MaxRetries {
			return store.Deployment{}, reqErr(422, "retries must be between 0 and %d, not %d", MaxRetries, *req.Retries)
		}
		opts.Retries = *req.Retries
	}
	var env hw.EnvSpec
	label := req.Environment
	switch {
	case req.URL != "" || req.Checksum != "":
		if req.URL == "" || req.Checksum == "" {
			return store.Deployment{}, reqErr(422, "an image given by URL needs both url and checksum")
		}
		if err := CheckChecksum(req.Checksum); err != nil {
			return store.Deployment{}, err
		}
		if label == "" {
			label = "custom"
		}
		if !strings.Contains(label, "@") {
			_, sum, _ := strings.Cut(req.Checksum, ":")
			label += "@" + sum[:min(12, len(sum))] // the version says which image it was
		}
		env = hw.EnvSpec{Name: label, URL: req.URL, Checksum: req.Checksum}
	case req.Environment != "":
		found, err := e.Environment(ctx, Viewer{Name: req.Owner, Projects: req.Projects}, req.Environment)
		if err != nil {
			return store.Deployment{}, err
		}
		label = found.Ref()
		env = hw.EnvSpec{Name: label, URL: found.URL, Checksum: found.Checksum}
	default:
		return store.Deployment{}, reqErr(422, "name an environment (name or name@version) or give an image url with its checksum")
	}
	r, nodes, err := e.resolveNodes(ctx, req)
	if err != nil {
		return store.Deployment{}, err
	}
	raw, _ := json.Marshal(opts)
	d := store.Deployment{ID: store.NewDeploymentID(), Site: req.Site, Owner: req.Owner, ReservationID: r.ID,
		Environment: label, EnvURL: env.URL, EnvChecksum: env.Checksum, State: store.DeployWaiting, Run: 1, Options: raw}
	d, err = e.Store.InsertDeployment(ctx, d, nodes, req.Force)
	if err != nil {
		return store.Deployment{}, busyError(err)
	}
	if err := e.start(ctx, Params{ID: d.ID, Run: 1, Reservation: r.ID, Nodes: nodes, Env: env, Options: opts}); err != nil {
		// Nothing half-created: a deployment without a workflow would show
		// its nodes busy forever.
		if derr := e.Store.DeleteDeployment(context.WithoutCancel(ctx), d.ID); derr != nil {
			e.logger().Error("cannot undo a deployment whose workflow did not start", "deployment", d.ID, "err", derr)
		}
		return store.Deployment{}, fmt.Errorf("start the deployment workflow: %w", err)
	}
	return d, nil
}

// start starts a run of the workflow. The previous run of a retried
// deployment may still be closing (its last activity recorded the end): wait
// for it once, then start.
func (e *Service) start(ctx context.Context, p Params) error {
	o := client.StartWorkflowOptions{ID: p.ID, TaskQueue: resv.TaskQueue, WorkflowExecutionErrorWhenAlreadyStarted: true}
	_, err := e.Temporal.ExecuteWorkflow(ctx, o, WorkflowName, p)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) && p.Run > 1 {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = e.Temporal.GetWorkflow(wctx, p.ID, "").Get(wctx, nil)
		cancel()
		_, err = e.Temporal.ExecuteWorkflow(ctx, o, WorkflowName, p)
	}
	return err
}

// Retry redeploys the nodes of a finished deployment that are not OK, in a
// new run of the same deployment. The reservation must still be running.
func (e *Service) Retry(ctx context.Context, id string) (store.Deployment, error) {
	d, err := e.Store.GetDeployment(ctx, id)
	if err != nil {
		return d, err
	}
	if !store.IsDeploymentFinal(d.State) {
		return d, reqErr(409, "deployment %s is still %s: retry once it ended, or cancel it", id, d.State)
	}
	r, err := e.Store.GetReservation(ctx, d.ReservationID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	if err != nil || r.State != store.ResRunning {
		return d, reqErr(409, "reservation %s of deployment %s is not running any more: reserve again and deploy anew", d.ReservationID, id)
	}
	var opts Options
	if err := json.Unmarshal(d.Options, &opts); err != nil {
		return d, fmt.Errorf("deployment %s options: %w", id, err)
	}
	prevState, prevReason := d.State, d.Reason
	d, nodes, err := e.Store.RestartDeployment(ctx, id, opts.Force)
	if errors.Is(err, store.ErrInvalid) {
		return d, reqErr(409, "every node of deployment %s is OK: there is nothing to retry", id)
	}
	if err != nil {
		return d, busyError(err)
	}
	env := hw.EnvSpec{Name: d.Environment, URL: d.EnvURL, Checksum: d.EnvChecksum}
	if err := e.start(ctx, Params{ID: id, Run: d.Run, Reservation: d.ReservationID, Nodes: nodes, Env: env, Options: opts}); err != nil {
		if uerr := e.Store.UndoRestart(context.WithoutCancel(ctx), id, d.Run, prevState, prevReason); uerr != nil {
			e.logger().Error("cannot undo a retry whose workflow did not start", "deployment", id, "err", uerr)
		}
		return d, fmt.Errorf("start the deployment workflow: %w", err)
	}
	return d, nil
}

// Cancel asks a deployment's workflow to stop (202: the nodes not finished
// become KO, the deployment canceled).
func (e *Service) Cancel(ctx context.Context, id string) error {
	d, err := e.Store.GetDeployment(ctx, id)
	if err != nil {
		return err
	}
	if store.IsDeploymentFinal(d.State) {
		return reqErr(409, "deployment %s already ended (%s)", id, d.State)
	}
	if err := e.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return reqErr(409, "deployment %s already ended", id)
		}
		return err
	}
	return nil
}
