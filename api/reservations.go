package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine"
	"github.com/gridflow/gridflow/engine/resv"
	"github.com/gridflow/gridflow/engine/store"
)

// Properties filter the nodes of a reservation.
type Properties struct {
	MinCores  int    `json:"min_cores,omitempty" minimum:"0" doc:"At least this many cores"`
	MinMemory string `json:"min_memory,omitempty" maxLength:"20" doc:"At least this much memory" example:"64GiB"`
	MinGPUs   int    `json:"min_gpus,omitempty" minimum:"0" doc:"At least this many GPUs"`
	GPUModel  string `json:"gpu_model,omitempty" maxLength:"100" doc:"GPU model (case-insensitive substring)"`
}

// ResourceGroup asks for nodes on one cluster (or anywhere on the site).
type ResourceGroup struct {
	Nodes      int         `json:"nodes" minimum:"1" maximum:"100000" example:"2"`
	Cluster    string      `json:"cluster,omitempty" maxLength:"64" example:"paravance"`
	Properties *Properties `json:"properties,omitempty"`
}

// NewReservation is the body of POST /v1/sites/{site}/reservations.
type NewReservation struct {
	Nodes      int             `json:"nodes,omitempty" minimum:"0" maximum:"100000" doc:"How many nodes (or use resources for several groups)" example:"2"`
	Cluster    string          `json:"cluster,omitempty" maxLength:"64" doc:"Only nodes of this cluster"`
	Properties *Properties     `json:"properties,omitempty"`
	Resources  []ResourceGroup `json:"resources,omitempty" maxItems:"100" doc:"Several groups, e.g. 2 nodes on one cluster and 1 on another"`
	Walltime   string          `json:"walltime" maxLength:"20" doc:"\"2h\", \"01:30:00\" or seconds" example:"1h"`
	Queue      string          `json:"queue,omitempty" enum:"default,besteffort,admin" default:"default"`
	Types      []string        `json:"types,omitempty" maxItems:"4" doc:"deploy: the nodes may be redeployed" example:"[\"deploy\"]"`
	Start      string          `json:"start,omitempty" maxLength:"40" doc:"Advance reservation: RFC 3339 or UNIX seconds; empty starts as soon as possible"`
	Name       string          `json:"name,omitempty" maxLength:"100"`
	Project    string          `json:"project,omitempty" maxLength:"64" doc:"One of your projects"`
}

// EventItem is one state change.
type EventItem struct {
	At      time.Time `json:"at"`
	State   string    `json:"state"`
	Message string    `json:"message,omitempty"`
}

// ReservationItem is a reservation as the API shows it.
type ReservationItem struct {
	itemMedia
	UID       string      `json:"uid" example:"r3f2a9c01b7d4e5a6"`
	Type      string      `json:"type" example:"reservation"`
	Site      string      `json:"site"`
	Name      string      `json:"name,omitempty"`
	Owner     string      `json:"owner"`
	Project   string      `json:"project,omitempty"`
	Queue     string      `json:"queue"`
	Types     []string    `json:"types"`
	State     string      `json:"state" enum:"waiting,launching,running,terminated,error,canceled"`
	Reason    string      `json:"reason,omitempty"`
	Nodes     []string    `json:"nodes"`
	Walltime  int64       `json:"walltime" doc:"Seconds"`
	StartAt   time.Time   `json:"start_at" doc:"Scheduled or actual start"`
	EndAt     time.Time   `json:"end_at" doc:"Scheduled or actual end"`
	CreatedAt time.Time   `json:"created_at"`
	Events    []EventItem `json:"events,omitempty"`
	Links     []Link      `json:"links"`
}

func reservationItem(ctx context.Context, r store.Reservation, events []store.ReservationEvent) ReservationItem {
	p := "/sites/" + r.Site + "/reservations/" + r.ID
	it := ReservationItem{UID: r.ID, Type: "reservation", Site: r.Site, Name: r.Name, Owner: r.Owner, Project: r.Project,
		Queue: r.Queue, Types: nonNilStrings(r.Types), State: r.State, Reason: r.Reason, Nodes: nonNilStrings(r.Nodes),
		Walltime: int64(r.Walltime / time.Second), StartAt: r.StartAt, EndAt: r.EndAt, CreatedAt: r.CreatedAt,
		Links: []Link{
			link(ctx, "self", p, ItemType),
			link(ctx, "parent", "/sites/"+r.Site+"/reservations", CollectionType),
			link(ctx, "site", "/sites/"+r.Site, ItemType),
			link(ctx, "walltime", p+"/walltime", ItemType),
		}}
	for _, e := range events {
		it.Events = append(it.Events, EventItem{At: e.At, State: e.State, Message: e.Message})
	}
	if len(r.Nodes) > 0 {
		it.Links = append(it.Links, link(ctx, "nodes", "/nodes?reservation="+r.ID, CollectionType))
	}
	return it
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// engineError maps engine errors to problems.
func engineError(err error, what string) error {
	var re *resv.RequestError
	switch {
	case errors.As(err, &re):
		return huma.NewError(re.Status, re.Msg)
	case errors.Is(err, engine.ErrNoTestbed):
		return huma.Error503ServiceUnavailable(err.Error())
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	}
	return huma.Error503ServiceUnavailable("cannot complete the request now, retry: " + err.Error())
}

func parseStart(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("start must be RFC 3339 (2026-11-24T10:00:00Z) or UNIX seconds, got %q", v)
	}
	return t, nil
}

func filterOf(cluster string, p *Properties) (resv.NodeFilter, error) {
	f := resv.NodeFilter{Cluster: cluster}
	if p != nil {
		f.MinCores, f.MinGPUs, f.GPUModel = p.MinCores, p.MinGPUs, p.GPUModel
		if p.MinMemory != "" {
			m, err := units.ParseSize(p.MinMemory)
			if err != nil {
				return f, err
			}
			f.MinMemory = m
		}
	}
	return f, nil
}

type ReservationPath struct {
	SitePath
	ID string `path:"id" maxLength:"64" doc:"Reservation id"`
}

// ReservationListQuery filters reservation lists.
type ReservationListQuery struct {
	Paging
	State string `query:"state" enum:"waiting,launching,running,terminated,error,canceled," doc:"Only in this state"`
	User  string `query:"user" maxLength:"64" doc:"Only this owner's (administrators; others always see their own)"`
	Name  string `query:"name" maxLength:"100"`
	Queue string `query:"queue" enum:"default,besteffort,admin,"`
	From  string `query:"from" maxLength:"40" doc:"Only reservations that end after this time (RFC 3339 or UNIX seconds)"`
	To    string `query:"to" maxLength:"40" doc:"Only reservations that start before this time"`
}

func (s *Server) listReservations(ctx context.Context, site string, q ReservationListQuery, path, parent string) (*struct {
	Body Collection[ReservationItem]
}, error) {
	p := caller(ctx)
	f := store.ReservationFilter{Site: site, State: q.State, Name: q.Name, Queue: q.Queue, Owner: q.User, Offset: q.Offset, Limit: q.Limit}
	if !p.User.Admin {
		if q.User != "" && q.User != p.User.Name {
			return nil, huma.Error403Forbidden("you may list only your own reservations")
		}
		f.Owner = p.User.Name
	}
	var err error
	if f.From, err = parseStart(q.From, time.Now()); err != nil {
		return nil, huma.Error400BadRequest("from: " + err.Error())
	}
	if f.To, err = parseStart(q.To, time.Now()); err != nil {
		return nil, huma.Error400BadRequest("to: " + err.Error())
	}
	rs, total, err := s.eng.Store.ListReservations(ctx, f)
	if err != nil {
		return nil, storeError(err, "reservations")
	}
	items := make([]ReservationItem, len(rs))
	for i, r := range rs {
		items[i] = reservationItem(ctx, r, nil)
	}
	c := storePage(ctx, items, total, q.Paging, path, parent, "")
	return &struct{ Body Collection[ReservationItem] }{c}, nil
}

// ownReservation loads a reservation the caller may see (its owner or an admin).
func (s *Server) ownReservation(ctx context.Context, site, id string) (store.Reservation, error) {
	r, err := s.eng.Store.GetReservation(ctx, id)
	if err != nil || (site != "" && r.Site != site) {
		return r, huma.Error404NotFound("no reservation " + quote(id) + " at site " + quote(site))
	}
	if p := caller(ctx); !p.User.Admin && p.User.Name != r.Owner {
		return r, huma.Error403Forbidden("reservation " + id + " belongs to " + r.Owner)
	}
	return r, nil
}

func (s *Server) registerReservations(api huma.API) {
	create := op("create-reservation", http.MethodPost, "/v1/sites/{site}/reservations", "Reserve nodes (OAR-like job)", "reservations")
	create.DefaultStatus = http.StatusCreated
	create.Description = "Asks for `nodes` (optionally on one `cluster` with `properties`) or several `resources` groups, for `walltime`. " +
		"Without `start` the reservation starts as soon as the nodes are free; with it, exactly then (advance reservation). " +
		"Answers 201 with the placement: the nodes and the scheduled start and end."
	huma.Register(api, create, func(ctx context.Context, in *struct {
		SitePath
		Body NewReservation
	}) (*created[ReservationItem], error) {
		p := caller(ctx)
		b := in.Body
		wall, err := units.ParseDuration(b.Walltime)
		if err != nil || wall <= 0 {
			return nil, huma.Error422UnprocessableEntity("walltime: write \"2h\", \"01:30:00\" or a number of seconds greater than 0")
		}
		start, err := parseStart(b.Start, time.Now())
		if err != nil {
			return nil, huma.Error422UnprocessableEntity(err.Error())
		}
		if b.Queue == "" {
			b.Queue = "default"
		}
		if b.Queue == "admin" && !p.User.Admin {
			return nil, huma.Error403Forbidden("only administrators may use the admin queue")
		}
		for _, t := range b.Types {
			if t != "deploy" && t != "besteffort" {
				return nil, huma.Error422UnprocessableEntity("unknown type " + quote(t) + ": use deploy (and the besteffort queue for besteffort)")
			}
		}
		if b.Project != "" && !p.User.Admin && !slices.Contains(p.User.Projects, b.Project) {
			return nil, huma.Error403Forbidden("you are not a member of project " + quote(b.Project))
		}
		req := resv.ReservationRequest{Site: in.Site, Owner: p.User.Name, Project: b.Project, Name: b.Name, Queue: b.Queue,
			Types: b.Types, Walltime: wall, Start: start}
		switch {
		case b.Nodes > 0 && len(b.Resources) > 0:
			return nil, huma.Error422UnprocessableEntity("give either nodes (with cluster and properties) or resources, not both")
		case b.Nodes > 0:
			f, err := filterOf(b.Cluster, b.Properties)
			if err != nil {
				return nil, huma.Error422UnprocessableEntity("properties.min_memory: " + err.Error())
			}
			req.Groups = []resv.NodeGroup{{Count: b.Nodes, Filter: f}}
		case len(b.Resources) > 0:
			for i, g := range b.Resources {
				f, err := filterOf(g.Cluster, g.Properties)
				if err != nil {
					return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("resources[%d].properties.min_memory: %v", i, err))
				}
				req.Groups = append(req.Groups, resv.NodeGroup{Count: g.Nodes, Filter: f})
			}
		default:
			return nil, huma.Error422UnprocessableEntity("ask for at least one node: nodes = N, or resources")
		}
		r, err := s.eng.Reservations.Submit(ctx, req)
		if err != nil {
			return nil, engineError(err, "reservation")
		}
		return &created[ReservationItem]{Location: base(ctx) + "/sites/" + r.Site + "/reservations/" + r.ID, Body: reservationItem(ctx, r, nil)}, nil
	})

	huma.Register(api, op("list-site-reservations", http.MethodGet, "/v1/sites/{site}/reservations", "List the reservations of a site", "reservations"),
		func(ctx context.Context, in *struct {
			SitePath
			ReservationListQuery
		}) (*struct{ Body Collection[ReservationItem] }, error) {
			snap, err := s.eng.Current(ctx)
			if err != nil {
				return nil, engineError(err, "testbed")
			}
			if _, err := findSite(ctx, snap.Testbed, in.Site); err != nil {
				return nil, err
			}
			return s.listReservations(ctx, in.Site, in.ReservationListQuery, "/sites/"+in.Site+"/reservations", "/sites/"+in.Site)
		})
	huma.Register(api, op("list-reservations", http.MethodGet, "/v1/reservations", "List reservations on every site", "reservations"),
		func(ctx context.Context, in *struct{ ReservationListQuery }) (*struct{ Body Collection[ReservationItem] }, error) {
			return s.listReservations(ctx, "", in.ReservationListQuery, "/reservations", "")
		})
	huma.Register(api, op("get-reservation", http.MethodGet, "/v1/sites/{site}/reservations/{id}", "Get a reservation with its nodes and events", "reservations"),
		func(ctx context.Context, in *ReservationPath) (*struct{ Body ReservationItem }, error) {
			r, err := s.ownReservation(ctx, in.Site, in.ID)
			if err != nil {
				return nil, err
			}
			evs, err := s.eng.Store.ReservationEvents(ctx, r.ID, 0, 1000)
			if err != nil {
				return nil, storeError(err, "events")
			}
			return &struct{ Body ReservationItem }{reservationItem(ctx, r, evs)}, nil
		})
	del := op("delete-reservation", http.MethodDelete, "/v1/sites/{site}/reservations/{id}", "Cancel or end a reservation; its nodes are released", "reservations")
	del.DefaultStatus = http.StatusAccepted
	huma.Register(api, del, func(ctx context.Context, in *ReservationPath) (*struct {
		Location string `header:"Location"`
	}, error) {
		if _, err := s.ownReservation(ctx, in.Site, in.ID); err != nil {
			return nil, err
		}
		if err := s.eng.Reservations.Cancel(ctx, in.ID); err != nil {
			return nil, engineError(err, "reservation")
		}
		return &struct {
			Location string `header:"Location"`
		}{base(ctx) + "/sites/" + in.Site + "/reservations/" + in.ID}, nil
	})
	wall := op("set-reservation-walltime", http.MethodPost, "/v1/sites/{site}/reservations/{id}/walltime", "Extend or shorten a reservation", "reservations")
	wall.DefaultStatus = http.StatusAccepted
	huma.Register(api, wall, func(ctx context.Context, in *struct {
		ReservationPath
		Body struct {
			Walltime string `json:"walltime" maxLength:"20" doc:"The new total walltime, e.g. 3h" example:"3h"`
		}
	}) (*struct{ Body ReservationItem }, error) {
		if _, err := s.ownReservation(ctx, in.Site, in.ID); err != nil {
			return nil, err
		}
		d, err := units.ParseDuration(in.Body.Walltime)
		if err != nil || d <= 0 {
			return nil, huma.Error422UnprocessableEntity("walltime: write \"3h\", \"03:00:00\" or a number of seconds greater than 0")
		}
		r, err := s.eng.Reservations.SetWalltime(ctx, in.ID, d)
		if err != nil {
			return nil, engineError(err, "reservation")
		}
		return &struct{ Body ReservationItem }{reservationItem(ctx, r, nil)}, nil
	})

	events := op("reservation-events", http.MethodGet, "/v1/reservations/events", "Stream reservation state changes (Server-Sent Events)", "reservations")
	sse.Register(api, events, map[string]any{"state": ReservationEvent{}}, func(ctx context.Context, in *struct {
		After int64 `query:"after" minimum:"0" doc:"Only events after this sequence number (resume a stream)"`
	}, send sse.Sender) {
		p := caller(ctx)
		after := in.After
		tick := time.NewTicker(500 * time.Millisecond) // the store is the bus: every replica sees every event
		defer tick.Stop()
		for {
			evs, err := s.eng.Store.ReservationEvents(ctx, "", after, 500)
			if err != nil {
				return
			}
			for _, e := range evs {
				after = e.Seq
				if !p.User.Admin {
					r, err := s.eng.Store.GetReservation(ctx, e.ReservationID)
					if err != nil || r.Owner != p.User.Name {
						continue
					}
				}
				if send(sse.Message{ID: int(e.Seq), Data: ReservationEvent{Reservation: e.ReservationID, State: e.State, Message: e.Message, At: e.At}}) != nil {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}

// ReservationEvent is one SSE message of /v1/reservations/events.
type ReservationEvent struct {
	Reservation string    `json:"reservation"`
	State       string    `json:"state"`
	Message     string    `json:"message,omitempty"`
	At          time.Time `json:"at"`
}
