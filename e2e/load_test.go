//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load across two `gridflow server` replicas, one killed in the middle of it.
const (
	loadReservations  = 1000
	loadCampaigns     = 50
	loadAgentRuns     = 4          // of the campaigns, those that run a command on an agent node (one each)
	loadKillCampaigns = 4          // of the campaigns, those sent to the victim alone as it is killed
	loadSimNodes      = 400        // the reservations' cluster: 2.5 reservations per node, so they queue
	loadSimcNodes     = 100        // the simulated campaigns' cluster: 2 nodes each, all at once
	loadWorkers       = 64         // concurrent clients
	agentSleep        = "sleep 60" // the agent campaigns' command: running when the replica dies
	// loadKillWindow is how long after the kill 5xx answers are counted as
	// the kill's (the surviving replica may wait on locks or connections
	// the dead one held).
	loadKillWindow = 10 * time.Second
	// loadWithin bounds the submission of the whole load.
	loadWithin = 4 * time.Minute
)

// loadSample is one HTTP exchange (or the failure to have one).
type loadSample struct {
	op      string // "reservation" or "campaign"
	replica int
	start   time.Time
	latency time.Duration
	code    int // 0: no answer (err)
	err     error
}

// balancer spreads requests over replicas round-robin, as a load balancer
// would: a replica that does not answer (connection refused or reset) is
// taken out and the request goes to the next one. A POST whose replica
// died before answering may have been applied: retrying it elsewhere is
// what a client does, and the test counts those requests as ambiguous.
type balancer struct {
	bases []string
	token string
	hc    *http.Client
	next  atomic.Uint64
	down  []atomic.Bool

	mu      sync.Mutex
	samples []loadSample
}

func newBalancer(bases []string, token string) *balancer {
	return &balancer{bases: bases, token: token, down: make([]atomic.Bool, len(bases)),
		hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: loadWorkers}}}
}

// do sends the request to the next live replica, and to the others in turn
// while none answers. It returns the answer and how many replicas failed
// to answer before it.
func (b *balancer) do(op, method, path string, body, out any) (code int, raw []byte, retried int, err error) {
	first := int(b.next.Add(1) % uint64(len(b.bases)))
	for k := range len(b.bases) {
		i := (first + k) % len(b.bases)
		if b.down[i].Load() {
			continue
		}
		t0 := time.Now()
		code, raw, err = replicaCall(b.hc, b.bases[i], b.token, method, path, body, out)
		s := loadSample{op: op, replica: i, start: t0, latency: time.Since(t0), code: code, err: err}
		b.mu.Lock()
		b.samples = append(b.samples, s)
		b.mu.Unlock()
		if err != nil && code == 0 {
			b.down[i].Store(true) // no answer: the balancer takes the replica out
			retried++
			continue
		}
		return code, raw, retried, err
	}
	return 0, nil, retried, errors.Join(errors.New("no replica answers"), err)
}

// loadStats sums samples up: rate, latency percentiles, status codes, and
// the 5xx inside and outside the kill window.
type loadStats struct {
	requests, answered, transportErrs int
	rate                              float64
	p50, p99, max                     time.Duration
	codes                             map[int]int
	fivexxInside, fivexxOutside       int
	outsideExamples                   []string
}

func summarize(samples []loadSample, wall time.Duration, killAt time.Time) loadStats {
	st := loadStats{requests: len(samples), codes: map[int]int{}, rate: float64(len(samples)) / wall.Seconds()}
	var lat []time.Duration
	for _, s := range samples {
		if s.code == 0 {
			st.transportErrs++
			continue
		}
		st.answered++
		st.codes[s.code]++
		lat = append(lat, s.latency)
		if s.code >= 500 {
			end := s.start.Add(s.latency)
			if !killAt.IsZero() && end.After(killAt) && s.start.Before(killAt.Add(loadKillWindow)) {
				st.fivexxInside++
			} else {
				st.fivexxOutside++
				if len(st.outsideExamples) < 5 {
					st.outsideExamples = append(st.outsideExamples, fmt.Sprintf("%s on replica %d at %s: %d", s.op, s.replica, s.start.Format(time.StampMilli), s.code))
				}
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		st.p50, st.p99, st.max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return st
}

func simCampaign(sid string) string {
	return fmt.Sprintf(`
reservation "r" {
  site     = "e2e"
  cluster  = "simc"
  nodes    = 2
  walltime = "10m"
}

run "work" {
  nodes   = reservation.r.nodes
  command = "sleep 3 && echo %s"
}

output "said" {
  value = run.work.stdout
}
`, sid)
}

func agentCampaign(sid string) string {
	return fmt.Sprintf(`
reservation "r" {
  site     = "e2e"
  cluster  = "lab"
  nodes    = 1
  walltime = "10m"
}

run "work" {
  nodes   = reservation.r.nodes
  command = "%s && echo %s on $(hostname)"
}

output "said" {
  value = { for node, r in run.work.results : node => trimspace(r.stdout) }
}
`, agentSleep, sid)
}

// TestServerReplicasKilledUnderLoad: two `gridflow server` replicas share one
// PostgreSQL and one Temporal server. 1,000 reservations (1 node of a
// 400-node simulated cluster each, 15-25 s walltimes, so that they queue)
// and 50 campaigns (46 on simulated nodes, 4 running a 60 s command on the
// agent containers) are submitted by 64 concurrent clients spread over both
// replicas, the agent campaigns first. Once the agents run their commands and
// 40% of the load is in, one replica is killed (SIGKILL); the balancer takes it out and the rest of
// the load goes to the other. Then: every campaign succeeds with every step
// run once (each agent ran its command exactly once, to its end), every
// reservation reaches a final state, no node was ever held by two
// reservations at once, no request is lost, and no 5xx was answered outside
// the kill window.
func TestServerReplicasKilledUnderLoad(t *testing.T) {
	t.Parallel()
	rs := startReplicaSet(t, 2, loadSimNodes, loadSimcNodes)
	token := rs.tb.adminToken
	bases := []string{rs.replicas[0].base, rs.replicas[1].base}
	lb := newBalancer(bases, token)

	type job struct {
		op, name, path string
		body           map[string]any
	}
	var jobs []job
	for i := range loadReservations {
		name := fmt.Sprintf("load-%04d", i)
		jobs = append(jobs, job{op: "reservation", name: name, path: "/v1/sites/" + site + "/reservations",
			body: map[string]any{"nodes": 1, "cluster": "sim", "walltime": fmt.Sprint(15 + 5*(i%3)), "name": name}})
	}
	// The agent campaigns go first: the rest of the load starts once their
	// commands run, so that the replica dies while they do.
	var agentJobs, withCampaigns []job
	spread := loadCampaigns - loadAgentRuns - loadKillCampaigns
	campaignAt := loadReservations / spread
	ci := 0
	for i, j := range jobs {
		if i%campaignAt == 0 && ci < spread {
			sid := fmt.Sprintf("load-c-%02d", loadAgentRuns+ci)
			withCampaigns = append(withCampaigns, job{op: "campaign", name: sid, path: "/v1/campaigns",
				body: map[string]any{"source": simCampaign(sid), "filename": sid + ".hcl", "sid": sid}})
			ci++
		}
		withCampaigns = append(withCampaigns, j)
	}
	for ci := range loadAgentRuns {
		sid := fmt.Sprintf("load-c-%02d", ci)
		agentJobs = append(agentJobs, job{op: "campaign", name: sid, path: "/v1/campaigns",
			body: map[string]any{"source": agentCampaign(sid), "filename": sid + ".hcl", "sid": sid}})
	}
	jobs = append(agentJobs, withCampaigns...)
	// The last campaigns are sent to the victim alone just before it dies,
	// so that some are recorded by it and cut short; then resubmitted with
	// the same sid, as a client does after an error.
	feedN := len(jobs)
	for k := range loadKillCampaigns {
		sid := fmt.Sprintf("load-c-%02d", loadCampaigns-loadKillCampaigns+k)
		jobs = append(jobs, job{op: "campaign", name: sid, path: "/v1/campaigns",
			body: map[string]any{"source": simCampaign(sid), "filename": sid + ".hcl", "sid": sid}})
	}

	type outcome struct {
		code    int
		uid     string
		retried int
		err     error
		raw     string
	}
	outcomes := make([]outcome, len(jobs))
	var done atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var item struct {
					UID string `json:"uid"`
				}
				code, raw, retried, err := lb.do(jobs[i].op, "POST", jobs[i].path, jobs[i].body, &item)
				outcomes[i] = outcome{code: code, uid: item.UID, retried: retried, err: err}
				if code >= 300 || err != nil {
					outcomes[i].raw = short(string(raw), 300)
				}
				done.Add(1)
			}
		}()
	}
	gate := make(chan struct{})
	var start time.Time
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		for i := range feedN {
			if i == loadAgentRuns {
				<-gate
			}
			if i > loadAgentRuns && time.Since(start) > loadWithin {
				return
			}
			work <- i
		}
	}()
	agentRunning := func() (int, error) {
		running := 0
		for _, n := range rs.tb.nodes {
			ps, err := rs.tb.agentProcesses(n)
			if err != nil {
				return 0, err
			}
			for _, p := range ps {
				if p.State == "running" && strings.Contains(strings.Join(p.Args, " "), agentSleep) {
					running++
				}
			}
		}
		return running, nil
	}
	eventually(t, "the agent campaigns' commands running", 2*time.Minute, 250*time.Millisecond, func() (bool, string) {
		running, err := agentRunning()
		if err != nil {
			return false, err.Error()
		}
		return running == loadAgentRuns, fmt.Sprintf("%d of %d running", running, loadAgentRuns)
	})
	start = time.Now()
	close(gate)

	// The kill: 40% into the load.
	victim := rs.replicas[0]
	agentNodes := rs.tb.nodes
	eventually(t, "40% of the load submitted", loadWithin, 20*time.Millisecond, func() (bool, string) {
		return done.Load() >= int64(len(jobs)*4/10), fmt.Sprintf("%d of %d", done.Load(), len(jobs))
	})
	doneAtKill := done.Load()
	runningAtKill, _ := agentRunning()
	var kwg sync.WaitGroup
	for i := feedN; i < len(jobs); i++ {
		kwg.Add(1)
		go func() {
			defer kwg.Done()
			defer done.Add(1)
			var item struct {
				UID string `json:"uid"`
			}
			t0 := time.Now()
			code, raw, err := replicaCall(lb.hc, victim.base, token, "POST", jobs[i].path, jobs[i].body, &item)
			lb.mu.Lock()
			lb.samples = append(lb.samples, loadSample{op: "campaign", replica: 0, start: t0, latency: time.Since(t0), code: code, err: err})
			lb.mu.Unlock()
			retried := 0
			if err != nil && code == 0 {
				// No answer: the client sends it again, to whichever replica answers.
				var n int
				code, raw, n, err = lb.do("campaign", "POST", jobs[i].path, jobs[i].body, &item)
				retried = 1 + n
			}
			outcomes[i] = outcome{code: code, uid: item.UID, retried: retried, err: err}
			if code >= 300 || err != nil {
				outcomes[i].raw = short(string(raw), 300)
			}
		}()
	}
	// Kill once the victim has recorded one of them: its workflow start
	// (a Temporal call of a second or more under this load) is then likely
	// under way.
	killSet := map[string]bool{}
	for i := feedN; i < len(jobs); i++ {
		killSet[jobs[i].name+".hcl"] = true
	}
	recorded := func() int {
		var list struct {
			Items []campaign `json:"items"`
		}
		n := 0
		if code, _, err := replicaCall(httpClient, rs.replicas[1].base, token, "GET", "/v1/campaigns?limit=1000", nil, &list); err == nil && code == 200 {
			for _, c := range list.Items {
				if killSet[c.Filename] {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); recorded() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	recordedAtKill := recorded()
	rs.kill(victim)
	killAt := time.Now()
	t.Logf("killed %s (SIGKILL) after %d of %d requests, %s into the load, while %d of %d agent commands ran and %d of the %d campaigns sent to it alone were recorded",
		victim.name, doneAtKill, len(jobs), killAt.Sub(start).Round(time.Millisecond), runningAtKill, loadAgentRuns, recordedAtKill, loadKillCampaigns)
	if runningAtKill == 0 {
		t.Errorf("no agent command was running at the kill: the test did not kill a replica mid-step")
	}

	<-feedDone
	close(work)
	wg.Wait()
	kwg.Wait()
	wall := time.Since(start)
	if wall > loadWithin {
		t.Fatalf("the load was not submitted within %s: %d of %d requests in %s", loadWithin, done.Load(), len(jobs), wall.Round(time.Second))
	}

	lb.mu.Lock()
	var loadSamples []loadSample
	for _, smp := range lb.samples {
		if !smp.start.Before(start) {
			loadSamples = append(loadSamples, smp)
		}
	}
	stats := summarize(loadSamples, wall, killAt)
	lb.mu.Unlock()
	ambiguous := map[string]bool{}
	retriedBy := map[string]int{} // op -> requests retried on the survivor
	failed := 0
	uids := map[string]string{} // job name -> uid
	for i, o := range outcomes {
		j := jobs[i]
		if o.retried > 0 {
			ambiguous[j.name] = true
			retriedBy[j.op]++
		}
		want := 201
		if j.op == "campaign" && o.retried > 0 {
			want = 200 // a sid already used by a campaign the dead replica created
		}
		if o.err != nil || (o.code != 201 && o.code != want) {
			failed++
			if failed <= 10 {
				t.Errorf("%s %s: %d %v %s", j.op, j.name, o.code, o.err, o.raw)
			}
			continue
		}
		uids[j.name] = o.uid
	}
	t.Logf("LOAD: %d requests (%d reservations, %d campaigns) over 2 replicas in %s: %.1f requests/s, p50 %s, p99 %s, max %s; codes %v; %d without answer from the killed replica (retried on the other); 5xx: %d in the %s after the kill, %d outside",
		stats.requests, loadReservations, loadCampaigns, wall.Round(time.Millisecond), stats.rate,
		stats.p50.Round(time.Millisecond), stats.p99.Round(time.Millisecond), stats.max.Round(time.Millisecond),
		stats.codes, stats.transportErrs, stats.fivexxInside, loadKillWindow, stats.fivexxOutside)
	record(t, sectionLoad, fmt.Sprintf("%d reservations + %d campaigns, %d clients, 2 server replicas, one killed", loadReservations, loadCampaigns, loadWorkers),
		"%d requests in %s: %.1f/s, p50 %s, p99 %s; 5xx %d outside the kill window, %d inside; %d unanswered by the killed replica, retried (Temporal: one engine container's, on SQLite)",
		stats.requests, wall.Round(time.Second), stats.rate, stats.p50.Round(time.Millisecond), stats.p99.Round(time.Millisecond),
		stats.fivexxOutside, stats.fivexxInside, stats.transportErrs)
	if stats.fivexxOutside > 0 {
		t.Errorf("%d 5xx answers outside the kill window: %v", stats.fivexxOutside, stats.outsideExamples)
	}
	if failed > 0 {
		t.Errorf("%d of %d submissions failed", failed, len(jobs))
	}
	submitted := 0
	for name := range uids {
		if strings.HasPrefix(name, "load-c-") {
			submitted++
		}
	}

	// Every campaign ends, and succeeds: the kill of a replica is not a
	// failure of the campaign.
	survivor := rs.replicas[1]
	finals := map[string]campaign{}
	eventually(t, "every campaign final", 6*time.Minute, time.Second, func() (bool, string) {
		states := map[string]int{}
		var stuck []string
		for name, uid := range uids {
			if !strings.HasPrefix(name, "load-c-") {
				continue
			}
			if c, ok := finals[name]; ok {
				states[c.State]++
				continue
			}
			var c campaign
			code, raw, err := replicaCall(httpClient, survivor.base, token, "GET", "/v1/campaigns/"+uid, nil, &c)
			if err != nil || code != 200 {
				return false, fmt.Sprintf("campaign %s: %d %v %s", name, code, err, short(string(raw), 200))
			}
			states[c.State]++
			if finalCampaign[c.State] {
				finals[name] = c
			} else if len(stuck) < 5 {
				stuck = append(stuck, name+": "+c.String())
			}
		}
		return len(finals) == submitted, fmt.Sprintf("%v; not final: %s", states, strings.Join(stuck, "; "))
	})
	t.Logf("every campaign final %s after the load", time.Since(start.Add(wall)).Round(time.Second))
	var clist struct {
		Total int `json:"total"`
	}
	if code, raw, err := replicaCall(httpClient, survivor.base, token, "GET", "/v1/campaigns?limit=1", nil, &clist); err != nil || code != 200 {
		t.Fatalf("list campaigns: %d %v %s", code, err, short(string(raw), 200))
	}
	if clist.Total != len(finals) {
		t.Errorf("%d campaigns recorded for %d submitted: a resubmission with the same sid made a second one", clist.Total, len(finals))
	}
	campaignStates := map[string]int{}
	for name, c := range finals {
		campaignStates[c.State]++
		if c.State != "succeeded" {
			t.Errorf("campaign %s: want succeeded: %s", name, c)
		}
		for _, s := range c.Steps {
			if s.Attempts != 1 {
				t.Errorf("campaign %s: step %s shows %d attempts, want 1", name, s.Address, s.Attempts)
			}
		}
	}
	// The agents ran each agent campaign's command exactly once, to its end.
	perSID := map[string][]agentProcess{}
	for _, n := range agentNodes {
		ps, err := rs.tb.agentProcesses(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			line := strings.Join(p.Args, " ")
			for ci := range loadAgentRuns {
				if sid := fmt.Sprintf("load-c-%02d", ci); strings.Contains(line, sid) {
					perSID[sid] = append(perSID[sid], p)
				}
			}
		}
	}
	for ci := range loadAgentRuns {
		sid := fmt.Sprintf("load-c-%02d", ci)
		ps := perSID[sid]
		if len(ps) != 1 {
			t.Errorf("campaign %s's command ran %d times on the agents, want once: %v", sid, len(ps), ps)
			continue
		}
		if p := ps[0]; p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 0 {
			t.Errorf("campaign %s's command did not run to its end: %v", sid, p)
		}
	}

	// Every reservation ends (at its walltime, or released by its
	// campaign), and none overlaps another on a node.
	var all []reservation
	eventually(t, "every reservation final", 5*time.Minute, 2*time.Second, func() (bool, string) {
		all = allReservations(t, survivor.base, token)
		states := map[string]int{}
		for _, r := range all {
			states[r.State]++
		}
		return states["waiting"]+states["launching"]+states["running"] == 0, fmt.Sprint(states)
	})
	t.Logf("every reservation final %s after the load", time.Since(start.Add(wall)).Round(time.Second))
	resStates := map[string]int{}
	byName := map[string]int{}
	for _, r := range all {
		resStates[r.State]++
		if strings.HasPrefix(r.Name, "load-") {
			byName[r.Name]++
			if r.State != "terminated" {
				t.Errorf("reservation %s (%s) ended %s (%s), want terminated at its walltime", r.UID, r.Name, r.State, r.Reason)
			}
		}
	}
	dups := 0
	for name, n := range byName {
		if n > 1 {
			dups += n - 1
			if !ambiguous[name] {
				t.Errorf("%d reservations named %s, but its request was answered once", n, name)
			}
		}
	}
	if len(byName) != loadReservations {
		t.Errorf("%d distinct load reservations, want %d", len(byName), loadReservations)
	}
	pairs, nodesUsed, examples := overlappingPairs(all)
	for _, e := range examples {
		t.Errorf("overlap: %s", e)
	}
	t.Logf("%d reservations %v on %d nodes, %d overlapping pairs; %d campaigns %v; %d requests retried after the kill, %d duplicate reservations from them",
		len(all), resStates, nodesUsed, pairs, len(finals), campaignStates, len(ambiguous), dups)

	record(t, sectionFault, "gridflow server replica killed (SIGKILL) under load",
		"%s killed after %d of %d requests, during %d agent commands and %d campaign submissions it had recorded; campaigns %v, every step 1 attempt; agent commands ran once each",
		victim.name, doneAtKill, len(jobs), runningAtKill, recordedAtKill, campaignStates)
	record(t, sectionInvariant, "no node held by two reservations at once (2 replicas)",
		"%d reservations %v on %d nodes, %d overlapping pairs", len(all), resStates, nodesUsed, pairs)
	record(t, sectionInvariant, "every campaign final, matching what happened", "%d campaigns %v", len(finals), campaignStates)
	record(t, sectionInvariant, "no request lost across the kill", "%d submissions, %d retried on the survivor %v, %d duplicate reservations (all from retried POSTs, all ended); campaigns deduplicated by sid",
		len(jobs), len(ambiguous), retriedBy, dups)

	// The killed replica comes back (as its orchestrator would restart it)
	// with nothing of its own to recover: it serves the same state at once.
	rs.restart(victim)
	var fromSurvivor, fromRestarted struct {
		Total int `json:"total"`
	}
	for _, x := range []struct {
		base string
		out  any
	}{{survivor.base, &fromSurvivor}, {victim.base, &fromRestarted}} {
		if code, raw, err := replicaCall(httpClient, x.base, token, "GET", "/v1/reservations?limit=1", nil, x.out); err != nil || code != 200 {
			t.Fatalf("list reservations at %s: %d %v %s", x.base, code, err, short(string(raw), 200))
		}
	}
	if fromRestarted.Total != fromSurvivor.Total || fromSurvivor.Total != len(all) {
		t.Errorf("after its restart %s lists %d reservations, %s %d, want %d", victim.name, fromRestarted.Total, survivor.name, fromSurvivor.Total, len(all))
	}
	record(t, sectionFault, "killed replica restarted", "%s serves again, the same %d reservations as %s", victim.name, fromRestarted.Total, survivor.name)
}
