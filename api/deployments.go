package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine/deploy"
	"github.com/gridflow/gridflow/engine/store"
)

// EnvironmentItem is an entry of the environments catalog.
type EnvironmentItem struct {
	itemMedia
	UID         string    `json:"uid" doc:"name@version" example:"debian12-min@2024.1"`
	Type        string    `json:"type" example:"environment"`
	Name        string    `json:"name" example:"debian12-min"`
	Version     string    `json:"version" example:"2024.1"`
	Description string    `json:"description,omitempty"`
	OS          string    `json:"os,omitempty" example:"debian12"`
	URL         string    `json:"url" doc:"Image archive: http(s):// or file:<path> on the node"`
	Checksum    string    `json:"checksum" example:"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`
	Size        int64     `json:"size,omitempty" doc:"Bytes"`
	Owner       string    `json:"owner"`
	Project     string    `json:"project,omitempty"`
	Visibility  string    `json:"visibility" enum:"public,project,private"`
	CreatedAt   time.Time `json:"created_at"`
	Links       []Link    `json:"links"`
}

func environmentItem(ctx context.Context, e store.Environment) EnvironmentItem {
	self := "/environments/" + url.PathEscape(e.Name) + "?version=" + url.QueryEscape(e.Version)
	return EnvironmentItem{UID: e.Ref(), Type: "environment", Name: e.Name, Version: e.Version, Description: e.Description, OS: e.OS,
		URL: e.URL, Checksum: e.Checksum, Size: e.Size, Owner: e.Owner, Project: e.Project, Visibility: e.Visibility, CreatedAt: e.CreatedAt,
		Links: []Link{
			link(ctx, "self", self, ItemType),
			link(ctx, "parent", "/environments", CollectionType),
			link(ctx, "versions", "/environments?name="+url.QueryEscape(e.Name), CollectionType),
		}}
}

// NewEnvironment is the body of POST /v1/environments.
type NewEnvironment struct {
	Name        string `json:"name" minLength:"1" maxLength:"100" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" example:"my-debian"`
	Version     string `json:"version" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._+-]*$" example:"1"`
	Description string `json:"description,omitempty" maxLength:"1000"`
	OS          string `json:"os,omitempty" maxLength:"64" example:"debian12"`
	URL         string `json:"url" minLength:"1" maxLength:"2048" doc:"Image archive (tar, gzip or not): http(s):// or file:<path> on the node" example:"https://example.org/my-debian.tar.gz"`
	Checksum    string `json:"checksum" minLength:"3" maxLength:"200" doc:"<algorithm>:<hex> of the archive: sha256, md5 or adler32"`
	Size        int64  `json:"size,omitempty" minimum:"0" doc:"Bytes"`
	Visibility  string `json:"visibility,omitempty" enum:"public,project,private" default:"private" doc:"public needs an administrator; project needs project"`
	Project     string `json:"project,omitempty" maxLength:"64" doc:"One of your projects (visibility project)"`
}

// EnvironmentPath addresses an environment by name.
type EnvironmentPath struct {
	Name    string `path:"name" maxLength:"100" doc:"Environment name (or name@version)"`
	Version string `query:"version" maxLength:"64" doc:"One version; default: the newest you may see"`
}

func (in EnvironmentPath) ref() (name, version string) {
	name, version = deploy.SplitRef(in.Name)
	if in.Version != "" {
		version = in.Version
	}
	return name, version
}

func viewer(ctx context.Context) deploy.Viewer {
	p := caller(ctx)
	return deploy.Viewer{Name: p.User.Name, Projects: p.User.Projects, Admin: p.User.Admin}
}

// StepTimeouts bound the steps of a node's deployment.
type StepTimeouts struct {
	Prepare string `json:"prepare,omitempty" maxLength:"20" doc:"Default 1m" example:"1m"`
	Write   string `json:"write,omitempty" maxLength:"20" doc:"Writing the image; default 15m" example:"15m"`
	Verify  string `json:"verify,omitempty" maxLength:"20" doc:"Default 1m"`
	Boot    string `json:"boot,omitempty" maxLength:"20" doc:"Default 10m"`
	Check   string `json:"check,omitempty" maxLength:"20" doc:"Default 2m"`
}

// Image is an environment image given by URL instead of by name.
type Image struct {
	URL      string `json:"url" minLength:"1" maxLength:"2048" doc:"http(s):// or file:<path> on the node"`
	Checksum string `json:"checksum" minLength:"3" maxLength:"200" doc:"<algorithm>:<hex> the archive must have"`
}

// NewDeployment is the body of POST /v1/sites/{site}/deployments.
type NewDeployment struct {
	Reservation string        `json:"reservation,omitempty" maxLength:"64" doc:"Deploy on every node of this reservation (or on the given nodes of it)"`
	Nodes       []string      `json:"nodes,omitempty" maxItems:"10000" doc:"Nodes of one of your running reservations of type deploy"`
	Environment string        `json:"environment,omitempty" maxLength:"170" doc:"name (newest version) or name@version from /v1/environments; with image, a label" example:"debian12-min@2024.1"`
	Image       *Image        `json:"image,omitempty" doc:"An image by URL and checksum instead of a catalog environment"`
	Force       bool          `json:"force,omitempty" doc:"Deploy even on nodes another deployment is writing to"`
	Timeouts    *StepTimeouts `json:"timeouts,omitempty"`
	Retries     *int          `json:"retries,omitempty" minimum:"0" maximum:"10" doc:"Retries of a failed step (default 2)"`
}

// DeploymentNodeItem is one node's result.
type DeploymentNodeItem struct {
	Node     string             `json:"node"`
	State    string             `json:"state" enum:"pending,processing,ok,ko"`
	Step     string             `json:"step,omitempty" enum:"prepare,write,verify,boot,check," doc:"The step it is at, or where a KO node stopped"`
	Reason   string             `json:"reason,omitempty" doc:"Why a KO node failed"`
	Timings  map[string]float64 `json:"timings" doc:"Seconds per step, and per fallback the node needed (reboot, power_cycle)"`
	Fallback string             `json:"fallback,omitempty" enum:"reboot,power_cycle," doc:"The strongest fallback the node needed, as kadeploy's: a soft reboot between the tries of its boot or check, or a hard power cycle when its boot still failed"`
	Attempts int                `json:"attempts" doc:"Image writes on this node, over every run"`
	Run      int                `json:"run" doc:"The last run that deployed this node"`
}

// DeploymentItem is a deployment as the API shows it.
type DeploymentItem struct {
	itemMedia
	UID         string               `json:"uid" example:"d3f2a9c01b7d4e5a6"`
	Type        string               `json:"type" example:"deployment"`
	Site        string               `json:"site"`
	Owner       string               `json:"owner"`
	Reservation string               `json:"reservation"`
	Environment string               `json:"environment" example:"debian12-min@2024.1"`
	Image       Image                `json:"image"`
	State       string               `json:"state" enum:"waiting,processing,terminated,canceled,error"`
	Reason      string               `json:"reason,omitempty"`
	Run         int                  `json:"run" doc:"1, and one more per retry"`
	Options     deploy.Options       `json:"options"`
	Summary     map[string]int       `json:"summary" doc:"Nodes per state"`
	Nodes       []DeploymentNodeItem `json:"nodes"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
	Links       []Link               `json:"links"`
}

func deploymentItem(ctx context.Context, d store.Deployment) DeploymentItem {
	p := "/sites/" + d.Site + "/deployments/" + d.ID
	it := DeploymentItem{UID: d.ID, Type: "deployment", Site: d.Site, Owner: d.Owner, Reservation: d.ReservationID, Environment: d.Environment,
		Image: Image{URL: d.EnvURL, Checksum: d.EnvChecksum}, State: d.State, Reason: d.Reason, Run: d.Run,
		Summary: map[string]int{store.NodeOK: 0, store.NodeKO: 0, store.NodeProcessing: 0, store.NodePending: 0},
		Nodes:   make([]DeploymentNodeItem, 0, len(d.Nodes)), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		Links: []Link{
			link(ctx, "self", p, ItemType),
			link(ctx, "parent", "/sites/"+d.Site+"/deployments", CollectionType),
			link(ctx, "reservation", "/sites/"+d.Site+"/reservations/"+d.ReservationID, ItemType),
			link(ctx, "retry", p+"/retry", ItemType),
		}}
	_ = json.Unmarshal(d.Options, &it.Options) // written by the service: always valid
	for _, n := range d.Nodes {
		timings := n.Timings
		if timings == nil {
			timings = map[string]float64{}
		}
		it.Nodes = append(it.Nodes, DeploymentNodeItem{Node: n.Node, State: n.State, Step: n.Step, Reason: n.Reason, Timings: timings,
			Fallback: n.Fallback(), Attempts: n.Attempts, Run: n.Run})
		it.Summary[n.State]++
	}
	return it
}

// DeploymentPath addresses a deployment.
type DeploymentPath struct {
	SitePath
	ID string `path:"id" maxLength:"64" doc:"Deployment id"`
}

// DeploymentListQuery filters deployment lists.
type DeploymentListQuery struct {
	Paging
	State       string `query:"state" enum:"waiting,processing,terminated,canceled,error," doc:"Only in this state"`
	User        string `query:"user" maxLength:"64" doc:"Only this owner's (administrators; others always see their own)"`
	Environment string `query:"environment" maxLength:"170" doc:"Only of this environment: name or name@version"`
	Reservation string `query:"reservation" maxLength:"64" doc:"Only on this reservation"`
}

// ownDeployment loads a deployment the caller may see (its owner or an admin).
func (s *Server) ownDeployment(ctx context.Context, site, id string) (store.Deployment, error) {
	d, err := s.eng.Store.GetDeployment(ctx, id)
	if err != nil || d.Site != site {
		return d, huma.Error404NotFound("no deployment " + quote(id) + " at site " + quote(site) + ": list them at " + base(ctx) + "/sites/" + site + "/deployments")
	}
	if p := caller(ctx); !p.User.Admin && p.User.Name != d.Owner {
		return d, huma.Error403Forbidden("deployment " + id + " belongs to " + d.Owner)
	}
	return d, nil
}

func parseTimeouts(t *StepTimeouts) (deploy.Timeouts, error) {
	var out deploy.Timeouts
	if t == nil {
		return out, nil
	}
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{{"prepare", t.Prepare, &out.Prepare}, {"write", t.Write, &out.Write}, {"verify", t.Verify, &out.Verify}, {"boot", t.Boot, &out.Boot}, {"check", t.Check, &out.Check}} {
		if f.v == "" {
			continue
		}
		d, err := units.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return out, huma.Error422UnprocessableEntity("timeouts." + f.name + ": write \"10m\", \"00:10:00\" or a number of seconds greater than 0")
		}
		*f.dst = d
	}
	return out, nil
}

func (s *Server) registerDeployments(api huma.API) {
	// --- environments catalog ---
	huma.Register(api, op("list-environments", http.MethodGet, "/v1/environments", "List the environments you may deploy", "deployments"),
		func(ctx context.Context, in *struct {
			Paging
			Name string `query:"name" maxLength:"100" doc:"Only the versions of this environment"`
			OS   string `query:"os" maxLength:"64" doc:"Only environments of this OS"`
		}) (*struct{ Body Collection[EnvironmentItem] }, error) {
			envs, err := s.eng.Deployments.Environments(ctx, viewer(ctx), in.Name)
			if err != nil {
				return nil, engineError(err, "environments")
			}
			items := make([]EnvironmentItem, 0, len(envs))
			for _, e := range envs {
				if in.OS == "" || e.OS == in.OS {
					items = append(items, environmentItem(ctx, e))
				}
			}
			extra := ""
			if in.Name != "" {
				extra = "name=" + url.QueryEscape(in.Name)
			}
			return &struct{ Body Collection[EnvironmentItem] }{page(ctx, items, in.Paging, "/environments", "", extra)}, nil
		})

	create := op("create-environment", http.MethodPost, "/v1/environments", "Add an environment (or a new version of one) to the catalog", "deployments")
	create.DefaultStatus = http.StatusCreated
	huma.Register(api, create, func(ctx context.Context, in *struct{ Body NewEnvironment }) (*created[EnvironmentItem], error) {
		p := caller(ctx)
		b := in.Body
		if b.Visibility == "" {
			b.Visibility = store.VisibilityPrivate
		}
		switch {
		case b.Visibility == store.VisibilityPublic && !p.User.Admin:
			return nil, huma.Error403Forbidden("only administrators publish public environments: use visibility project or private")
		case b.Visibility == store.VisibilityProject && b.Project == "":
			return nil, huma.Error422UnprocessableEntity("visibility project needs project: one of your projects")
		case b.Project != "" && !p.User.Admin && !slices.Contains(p.User.Projects, b.Project):
			return nil, huma.Error403Forbidden("you are not a member of project " + quote(b.Project))
		}
		e, err := s.eng.Deployments.CreateEnvironment(ctx, store.Environment{Name: b.Name, Version: b.Version, Description: b.Description, OS: b.OS,
			URL: b.URL, Checksum: b.Checksum, Size: b.Size, Owner: p.User.Name, Project: b.Project, Visibility: b.Visibility})
		if err != nil {
			return nil, engineError(err, "environment")
		}
		it := environmentItem(ctx, e)
		return &created[EnvironmentItem]{Location: it.Links[0].Href, Body: it}, nil
	})

	huma.Register(api, op("get-environment", http.MethodGet, "/v1/environments/{name}", "Get an environment (its newest version, or ?version=)", "deployments"),
		func(ctx context.Context, in *EnvironmentPath) (*struct{ Body EnvironmentItem }, error) {
			name, version := in.ref()
			ref := name
			if version != "" {
				ref += "@" + version
			}
			e, err := s.eng.Deployments.Environment(ctx, viewer(ctx), ref)
			if err != nil {
				return nil, engineError(err, "environment")
			}
			return &struct{ Body EnvironmentItem }{environmentItem(ctx, e)}, nil
		})

	del := op("delete-environment", http.MethodDelete, "/v1/environments/{name}", "Delete a version of an environment (?version=), or all your versions of it", "deployments")
	del.DefaultStatus = http.StatusNoContent
	huma.Register(api, del, func(ctx context.Context, in *EnvironmentPath) (*struct{}, error) {
		name, version := in.ref()
		if err := s.eng.Deployments.DeleteEnvironment(ctx, viewer(ctx), name, version); err != nil {
			return nil, engineError(err, "environment")
		}
		return &struct{}{}, nil
	})

	// --- deployments ---
	deployOp := op("create-deployment", http.MethodPost, "/v1/sites/{site}/deployments", "Deploy an environment on reserved nodes (kadeploy-like)", "deployments")
	deployOp.DefaultStatus = http.StatusCreated
	deployOp.Description = "Deploys `environment` (a catalog `name` or `name@version`, or an `image` with its `checksum`) on `nodes` of one of your " +
		"running reservations made with type `deploy`, or on every node of `reservation`. Each node goes through prepare → write → verify → boot → check " +
		"with per-step timeouts and retries, and ends `ok` or `ko` with the step and the reason. A node another deployment is writing to is refused (409) " +
		"unless `force`. Answers 201 with the deployment; poll it, or retry its KO nodes with POST …/retry."
	huma.Register(api, deployOp, func(ctx context.Context, in *struct {
		SitePath
		Body NewDeployment
	}) (*created[DeploymentItem], error) {
		p := caller(ctx)
		b := in.Body
		tmo, err := parseTimeouts(b.Timeouts)
		if err != nil {
			return nil, err
		}
		req := deploy.DeployRequest{Site: in.Site, Owner: p.User.Name, Projects: p.User.Projects, Reservation: b.Reservation, Nodes: b.Nodes,
			Environment: b.Environment, Force: b.Force, Timeouts: tmo, Retries: b.Retries}
		if b.Image != nil {
			req.URL, req.Checksum = b.Image.URL, b.Image.Checksum
		}
		d, err := s.eng.Deployments.Submit(ctx, req)
		if err != nil {
			return nil, engineError(err, "deployment")
		}
		return &created[DeploymentItem]{Location: base(ctx) + "/sites/" + d.Site + "/deployments/" + d.ID, Body: deploymentItem(ctx, d)}, nil
	})

	huma.Register(api, op("list-site-deployments", http.MethodGet, "/v1/sites/{site}/deployments", "List the deployments of a site", "deployments"),
		func(ctx context.Context, in *struct {
			SitePath
			DeploymentListQuery
		}) (*struct{ Body Collection[DeploymentItem] }, error) {
			snap, err := s.eng.Current(ctx)
			if err != nil {
				return nil, engineError(err, "testbed")
			}
			if _, err := findSite(ctx, snap.Testbed, in.Site); err != nil {
				return nil, err
			}
			p := caller(ctx)
			q := in.DeploymentListQuery
			f := store.DeploymentFilter{Site: in.Site, State: q.State, Owner: q.User, Environment: q.Environment, Reservation: q.Reservation, Offset: q.Offset, Limit: q.Limit}
			if !p.User.Admin {
				if q.User != "" && q.User != p.User.Name {
					return nil, huma.Error403Forbidden("you may list only your own deployments")
				}
				f.Owner = p.User.Name
			}
			ds, total, err := s.eng.Store.ListDeployments(ctx, f)
			if err != nil {
				return nil, storeError(err, "deployments")
			}
			items := make([]DeploymentItem, len(ds))
			for i, d := range ds {
				items[i] = deploymentItem(ctx, d)
			}
			v := url.Values{}
			for k, val := range map[string]string{"state": q.State, "user": q.User, "environment": q.Environment, "reservation": q.Reservation} {
				if val != "" {
					v.Set(k, val)
				}
			}
			c := storePage(ctx, items, total, q.Paging, "/sites/"+in.Site+"/deployments", "/sites/"+in.Site, v.Encode())
			return &struct{ Body Collection[DeploymentItem] }{c}, nil
		})

	huma.Register(api, op("get-deployment", http.MethodGet, "/v1/sites/{site}/deployments/{id}", "Get a deployment with every node's result, step, reason and timings", "deployments"),
		func(ctx context.Context, in *DeploymentPath) (*struct{ Body DeploymentItem }, error) {
			d, err := s.ownDeployment(ctx, in.Site, in.ID)
			if err != nil {
				return nil, err
			}
			return &struct{ Body DeploymentItem }{deploymentItem(ctx, d)}, nil
		})

	retry := op("retry-deployment", http.MethodPost, "/v1/sites/{site}/deployments/{id}/retry", "Redeploy the KO nodes of a finished deployment", "deployments")
	retry.DefaultStatus = http.StatusAccepted
	retry.Description = "Starts a new run of the deployment on its nodes that are not OK; the OK nodes are left alone. " +
		"The deployment must have ended and its reservation must still run."
	huma.Register(api, retry, func(ctx context.Context, in *DeploymentPath) (*struct {
		Location string `header:"Location"`
		Body     DeploymentItem
	}, error) {
		if _, err := s.ownDeployment(ctx, in.Site, in.ID); err != nil {
			return nil, err
		}
		d, err := s.eng.Deployments.Retry(ctx, in.ID)
		if err != nil {
			return nil, engineError(err, "deployment")
		}
		return &struct {
			Location string `header:"Location"`
			Body     DeploymentItem
		}{base(ctx) + "/sites/" + d.Site + "/deployments/" + d.ID, deploymentItem(ctx, d)}, nil
	})

	cancel := op("delete-deployment", http.MethodDelete, "/v1/sites/{site}/deployments/{id}", "Cancel a deployment; nodes without a result become KO", "deployments")
	cancel.DefaultStatus = http.StatusAccepted
	huma.Register(api, cancel, func(ctx context.Context, in *DeploymentPath) (*struct {
		Location string `header:"Location"`
	}, error) {
		if _, err := s.ownDeployment(ctx, in.Site, in.ID); err != nil {
			return nil, err
		}
		if err := s.eng.Deployments.Cancel(ctx, in.ID); err != nil {
			return nil, engineError(err, "deployment")
		}
		return &struct {
			Location string `header:"Location"`
		}{base(ctx) + "/sites/" + in.Site + "/deployments/" + in.ID}, nil
	})

	events := op("deployment-events", http.MethodGet, "/v1/deployments/events", "Stream deployment and node state changes (Server-Sent Events)", "deployments")
	events.Description = "Streams a `state` event when a deployment changes state and a `node` event when one of its nodes moves to another " +
		"step or state, oldest first, for the deployments you may see (every one for an administrator). Every replica serves the same " +
		"stream: the store is the bus. The stream opens with a `ready` event, so that a client knows it is connected before anything changes. An event's id is the instant of the change in microseconds since the UNIX epoch; reconnect with " +
		"`after` set to the last id you read to go on. Changes show about two seconds late (so that none committed late is missed), " +
		"and several changes of a node between two polls show as its latest."
	sse.Register(api, events, map[string]any{"ready": DeploymentStreamReady{}, "state": DeploymentEvent{}, "node": DeploymentNodeEvent{}}, func(ctx context.Context, in *struct {
		After      int64  `query:"after" minimum:"0" doc:"Only changes after this event id (resume a stream); 0: every deployment as it stands, then its changes"`
		Site       string `query:"site" maxLength:"64" doc:"Only the deployments of this site"`
		Deployment string `query:"deployment" maxLength:"64" doc:"Only this deployment"`
	}, send sse.Sender) {
		p := caller(ctx)
		f := store.DeploymentChangeFilter{After: time.UnixMicro(in.After).UTC(), Site: in.Site, Deployment: in.Deployment, Limit: 500}
		if !p.User.Admin {
			f.Owner = p.User.Name
		}
		// Nothing goes out, headers included, before a first message: say
		// the stream is open.
		if send(sse.Message{Data: DeploymentStreamReady{After: in.After}}) != nil {
			return
		}
		tick := time.NewTicker(500 * time.Millisecond) // the store is the bus: every replica sees every change
		defer tick.Stop()
		for {
			// A change is stamped just before its transaction commits: the
			// stream stays deploymentEventsLag behind, so that one stamped
			// earlier but committed later than another is not skipped.
			f.Until = time.Now().Add(-deploymentEventsLag)
			changes, err := s.eng.Store.DeploymentChanges(ctx, f)
			if err != nil {
				return
			}
			for _, c := range changes {
				f.After = c.At
				var data any = DeploymentEvent{Deployment: c.Deployment, Site: c.Site, State: c.State, Reason: c.Reason, Run: c.Run, At: c.At}
				if c.Node != "" {
					data = DeploymentNodeEvent{Deployment: c.Deployment, Site: c.Site, Node: c.Node, State: c.State, Step: c.Step,
						Reason: c.Reason, Run: c.Run, At: c.At}
				}
				if send(sse.Message{ID: int(c.At.UnixMicro()), Data: data}) != nil {
					return
				}
			}
			if len(changes) >= f.Limit {
				continue // more are waiting
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}

// deploymentEventsLag is how far behind the clock /v1/deployments/events
// reads the store: longer than a transaction takes to commit after it
// stamped its rows.
const deploymentEventsLag = 2 * time.Second

// DeploymentStreamReady is the "ready" message that opens
// /v1/deployments/events.
type DeploymentStreamReady struct {
	After int64 `json:"after" doc:"The stream gives the changes after this id"`
}

// DeploymentEvent is a "state" message of /v1/deployments/events: a
// deployment as it stands after a change of its state.
type DeploymentEvent struct {
	Deployment string    `json:"deployment"`
	Site       string    `json:"site"`
	State      string    `json:"state" enum:"waiting,processing,terminated,canceled,error"`
	Reason     string    `json:"reason,omitempty"`
	Run        int       `json:"run"`
	At         time.Time `json:"at"`
}

// DeploymentNodeEvent is a "node" message of /v1/deployments/events: a node
// of a deployment as it stands after it moved to another step or state.
type DeploymentNodeEvent struct {
	Deployment string    `json:"deployment"`
	Site       string    `json:"site"`
	Node       string    `json:"node"`
	State      string    `json:"state" enum:"pending,processing,ok,ko"`
	Step       string    `json:"step,omitempty" enum:"prepare,write,verify,boot,check,"`
	Reason     string    `json:"reason,omitempty"`
	Run        int       `json:"run"`
	At         time.Time `json:"at"`
}
