package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/gridflow/gridflow/engine/store"
)

// PairItem is the status of a pair of storage elements, as FTS3 shows it,
// with the optimizer's current values.
type PairItem struct {
	SourceSE      string    `json:"source_se"`
	DestSE        string    `json:"dest_se"`
	Active        int       `json:"active" doc:"Files being copied now"`
	MaxActive     int       `json:"max_active" doc:"The optimizer's limit of files copied at once"`
	EMA           float64   `json:"ema" doc:"Smoothed throughput, bytes per second"`
	Submitted     int       `json:"submitted" doc:"Files waiting for a slot"`
	Finished      int       `json:"finished" doc:"Files finished in the last hour"`
	Failed        int       `json:"failed" doc:"Files failed in the last hour"`
	AvgThroughput *float64  `json:"avg_throughput" doc:"Mean throughput of the files finished in the last hour, bytes per second (null: none)"`
	SuccessRatio  *float64  `json:"success_ratio" doc:"Finished over ended files in the last hour (null: none)"`
	UpdatedAt     time.Time `json:"updated_at" doc:"The optimizer's last decision"`
}

// OptimizerDecision is one entry of the optimizer evolution.
type OptimizerDecision struct {
	SourceSE       string    `json:"source_se"`
	DestSE         string    `json:"dest_se"`
	Datetime       time.Time `json:"datetime"`
	Active         int       `json:"active" doc:"The limit decided"`
	EMA            float64   `json:"ema"`
	Throughput     float64   `json:"throughput" doc:"Bytes per second over the window"`
	Success        float64   `json:"success" doc:"Ratio of the window's files that finished"`
	ActualActive   int       `json:"actual_active"`
	Diff           int       `json:"diff" doc:"active minus actual_active"`
	QueueSize      int       `json:"queue_size"`
	FilesizeAvg    float64   `json:"filesize_avg"`
	FilesizeStddev float64   `json:"filesize_stddev"`
	Rationale      string    `json:"rationale"`
	Manual         bool      `json:"manual" doc:"Set by an administrator"`
}

// PairQuery selects pairs; empty matches any.
type PairQuery struct {
	SourceSE string `query:"source_se" maxLength:"1024" doc:"Source storage, as file://localhost, http://host:port or node://NODE"`
	DestSE   string `query:"dest_se" maxLength:"1024" doc:"Destination storage"`
}

// OptimizerValues is the body of POST /v1/optimizer.
type OptimizerValues struct {
	SourceSE  string  `json:"source_se" minLength:"1" maxLength:"1024"`
	DestSE    string  `json:"dest_se" minLength:"1" maxLength:"1024"`
	Active    int     `json:"active" minimum:"1" maximum:"1000" doc:"Files copied at once on the pair"`
	EMA       float64 `json:"ema,omitempty" minimum:"0" doc:"Smoothed throughput to start from, bytes per second"`
	Nostreams int     `json:"nostreams,omitempty" minimum:"0" doc:"Accepted for FTS3 clients; streams are not tuned here"`
	Rationale string  `json:"rationale" minLength:"1" maxLength:"1000" doc:"Why, kept in the evolution"`
}

func pairItem(p store.PairStatus) PairItem {
	return PairItem{SourceSE: p.SourceSE, DestSE: p.DestSE, Active: p.Active, MaxActive: p.MaxActive, EMA: p.EMA, Submitted: p.Submitted,
		Finished: p.Finished, Failed: p.Failed, AvgThroughput: p.AvgThroughput, SuccessRatio: p.SuccessRatio, UpdatedAt: p.UpdatedAt}
}

func (s *Server) registerOptimizer(api huma.API) {
	huma.Register(api, op("get-optimizer", http.MethodGet, "/v1/optimizer", "Pairs of storage: their status and the optimizer's current values", "transfers"),
		func(ctx context.Context, in *struct {
			PairQuery
			Paging
		}) (*struct{ Body Collection[PairItem] }, error) {
			ps, err := s.eng.Store.PairStatuses(ctx, in.SourceSE, in.DestSE, time.Hour)
			if err != nil {
				return nil, storeError(err, "pairs")
			}
			items := make([]PairItem, len(ps))
			for i, p := range ps {
				items[i] = pairItem(p)
			}
			return &struct{ Body Collection[PairItem] }{page(ctx, items, in.Paging, "/optimizer", "", "")}, nil
		})

	huma.Register(api, op("get-optimizer-evolution", http.MethodGet, "/v1/optimizer/evolution", "The optimizer's decisions on pairs, newest first, with their rationale", "transfers"),
		func(ctx context.Context, in *struct {
			PairQuery
			Paging
		}) (*struct{ Body Collection[OptimizerDecision] }, error) {
			rs, total, err := s.eng.Store.OptimizerEvolution(ctx, in.SourceSE, in.DestSE, in.Offset, in.Limit)
			if err != nil {
				return nil, storeError(err, "optimizer evolution")
			}
			items := make([]OptimizerDecision, len(rs))
			for i, r := range rs {
				items[i] = OptimizerDecision{SourceSE: r.SourceSE, DestSE: r.DestSE, Datetime: r.At, Active: r.Active, EMA: r.EMA, Throughput: r.Throughput,
					Success: r.Success, ActualActive: r.ActualActive, Diff: r.Active - r.ActualActive, QueueSize: r.QueueSize,
					FilesizeAvg: r.FileSizeAvg, FilesizeStddev: r.FileSizeStddev, Rationale: r.Rationale, Manual: r.Manual}
			}
			return &struct{ Body Collection[OptimizerDecision] }{storePage(ctx, items, total, in.Paging, "/optimizer/evolution", "/optimizer", "")}, nil
		})

	huma.Register(api, op("set-optimizer", http.MethodPost, "/v1/optimizer", "Set a pair's optimizer values (administrators)", "transfers"),
		func(ctx context.Context, in *struct{ Body OptimizerValues }) (*struct{ Body PairItem }, error) {
			if err := requireAdmin(ctx, "set the optimizer"); err != nil {
				return nil, err
			}
			b := in.Body
			err := s.eng.Store.SetOptimizerValues(ctx, store.OptimizerRecord{SourceSE: b.SourceSE, DestSE: b.DestSE, Active: b.Active, EMA: b.EMA,
				Rationale: b.Rationale + " (set by " + caller(ctx).User.Name + ")"})
			if err != nil {
				return nil, storeError(err, "optimizer")
			}
			ps, err := s.eng.Store.PairStatuses(ctx, b.SourceSE, b.DestSE, time.Hour)
			if err != nil || len(ps) == 0 {
				return nil, storeError(err, "pair")
			}
			return &struct{ Body PairItem }{pairItem(ps[0])}, nil
		})
}

// StorageBan is the body of POST /v1/bans/storage.
type StorageBan struct {
	Storage string `json:"storage" minLength:"1" maxLength:"1024" doc:"The storage: a URL of it (file:///…, http://host:port/…, node://NODE/…) or its name" example:"node://paravance-3"`
	Status  string `json:"status,omitempty" enum:"CANCEL,WAIT,cancel,wait" doc:"CANCEL (default): queued files are canceled and new ones refused; WAIT: queued files are held until the unban"`
	Message string `json:"message,omitempty" maxLength:"1000"`
}

// UserBan is the body of POST /v1/bans/users.
type UserBan struct {
	UserDN  string `json:"user_dn" minLength:"1" maxLength:"64" doc:"The user's name"`
	Message string `json:"message,omitempty" maxLength:"1000"`
}

// BanItem is a ban in force.
type BanItem struct {
	Kind     string    `json:"kind" enum:"storage,user"`
	Subject  string    `json:"subject"`
	Status   string    `json:"status"`
	Message  string    `json:"message,omitempty"`
	BannedBy string    `json:"banned_by"`
	Since    time.Time `json:"since"`
	Affected int       `json:"affected_files,omitempty" doc:"Queued files the ban canceled or held (on creation)"`
}

func (s *Server) registerBans(api huma.API) {
	huma.Register(api, op("list-bans", http.MethodGet, "/v1/bans", "Storage and user bans in force (administrators)", "transfers"),
		func(ctx context.Context, in *struct{ Paging }) (*struct{ Body Collection[BanItem] }, error) {
			if err := requireAdmin(ctx, "list bans"); err != nil {
				return nil, err
			}
			bans, err := s.eng.Store.ListBans(ctx, "")
			if err != nil {
				return nil, storeError(err, "bans")
			}
			items := make([]BanItem, len(bans))
			for i, b := range bans {
				items[i] = BanItem{Kind: b.Kind, Subject: b.Subject, Status: b.Mode, Message: b.Message, BannedBy: b.By, Since: b.CreatedAt}
			}
			return &struct{ Body Collection[BanItem] }{page(ctx, items, in.Paging, "/bans", "", "")}, nil
		})

	huma.Register(api, op("ban-storage", http.MethodPost, "/v1/bans/storage", "Ban a storage (administrators)", "transfers"),
		func(ctx context.Context, in *struct{ Body StorageBan }) (*struct{ Body BanItem }, error) {
			if err := requireAdmin(ctx, "ban a storage"); err != nil {
				return nil, err
			}
			b := store.Ban{Kind: store.BanStorage, Subject: in.Body.Storage, Mode: in.Body.Status, Message: in.Body.Message, By: caller(ctx).User.Name}
			b, n, err := s.eng.Transfers.Ban(ctx, b)
			if err != nil {
				return nil, transferError(err)
			}
			return banItem(b, n), nil
		})

	huma.Register(api, op("unban-storage", http.MethodDelete, "/v1/bans/storage", "Lift a storage ban (administrators); held files resume", "transfers"),
		func(ctx context.Context, in *struct {
			Storage string `query:"storage" required:"true" maxLength:"1024"`
		}) (*struct{}, error) {
			if err := requireAdmin(ctx, "unban a storage"); err != nil {
				return nil, err
			}
			if _, err := s.eng.Transfers.Unban(ctx, store.BanStorage, in.Storage); err != nil {
				return nil, storeError(err, "ban of "+quote(in.Storage))
			}
			return nil, nil
		})

	huma.Register(api, op("ban-user", http.MethodPost, "/v1/bans/users", "Ban a user from transfers (administrators): their queued files are canceled", "transfers"),
		func(ctx context.Context, in *struct{ Body UserBan }) (*struct{ Body BanItem }, error) {
			if err := requireAdmin(ctx, "ban a user"); err != nil {
				return nil, err
			}
			if _, err := s.eng.Store.GetUser(ctx, in.Body.UserDN); err != nil {
				return nil, storeError(err, "user "+quote(in.Body.UserDN))
			}
			b, n, err := s.eng.Transfers.Ban(ctx, store.Ban{Kind: store.BanUser, Subject: in.Body.UserDN, Message: in.Body.Message, By: caller(ctx).User.Name})
			if err != nil {
				return nil, transferError(err)
			}
			return banItem(b, n), nil
		})

	huma.Register(api, op("unban-user", http.MethodDelete, "/v1/bans/users", "Lift a user ban (administrators)", "transfers"),
		func(ctx context.Context, in *struct {
			UserDN string `query:"user_dn" required:"true" maxLength:"64"`
		}) (*struct{}, error) {
			if err := requireAdmin(ctx, "unban a user"); err != nil {
				return nil, err
			}
			if _, err := s.eng.Transfers.Unban(ctx, store.BanUser, in.UserDN); err != nil {
				return nil, storeError(err, "ban of "+quote(in.UserDN))
			}
			return nil, nil
		})
}

func banItem(b store.Ban, affected int) *struct{ Body BanItem } {
	return &struct{ Body BanItem }{BanItem{Kind: b.Kind, Subject: b.Subject, Status: b.Mode, Message: b.Message, BannedBy: b.By, Since: time.Now().UTC(), Affected: affected}}
}
