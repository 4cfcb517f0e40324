package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/campaigns"
	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/engine/inventory"
)

// campaignPollInterval is how often `campaign run --wait` asks for news.
var campaignPollInterval = time.Second

// campaignUnreachableFor is how long --wait keeps polling an API it cannot
// reach: long enough for `gridflow dev` to be restarted.
var campaignUnreachableFor = 2 * time.Minute

func campaignCommand() *cli.Command {
	return &cli.Command{
		Name:  "campaign",
		Usage: "check campaign files locally, and run and follow them through the REST API",
		Subcommands: []*cli.Command{
			{Name: "validate", Usage: "check a campaign file against a testbed, without a server",
				ArgsUsage: "FILE [-var NAME=VALUE ...] [-var-file FILE ...] [--testbed FILE]",
				Description: "Checks the syntax, the variables, the references and types, and that every reservation\n" +
					"can be satisfied by the testbed (the built-in one unless --testbed). Variables come from\n" +
					"GRIDFLOW_VAR_<name>, then -var-file, then -var.",
				Flags:  localFlags(),
				Action: campaignValidate},
			{Name: "plan", Usage: "show the step graph of a campaign and what each step will do",
				ArgsUsage: "FILE [-var NAME=VALUE ...] [-var-file FILE ...] [--testbed FILE]",
				Flags:     localFlags(),
				Action:    campaignPlan},
			{Name: "run", Usage: "submit a campaign to the API; --wait follows it to its end",
				ArgsUsage: "FILE [-var NAME=VALUE ...] [--sid S] [--name N] [--wait]",
				Flags: append([]cli.Flag{
					varFlag(),
					&cli.StringFlag{Name: "sid", Usage: "submission id: submitting again with the same sid returns the same campaign"},
					&cli.StringFlag{Name: "name", Usage: "a name to find the campaign by"},
					&cli.BoolFlag{Name: "wait", Usage: "follow the campaign until it ends; the exit status is 0 only if it succeeded"},
				}, clientFlags...),
				Action: campaignRun},
			{Name: "status", Usage: "show a campaign, its steps and its outputs", ArgsUsage: "ID",
				Flags: clientFlags, Action: campaignStatus},
			{Name: "list", Usage: "list your campaigns (all of them for an administrator)",
				Flags:  append([]cli.Flag{&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many, newest first (1 to 1000)"}}, clientFlags...),
				Action: campaignList},
			{Name: "cancel", Usage: "cancel a campaign: it stops and releases what it reserved", ArgsUsage: "ID",
				Flags: clientFlags, Action: campaignCancel},
			{Name: "logs", Usage: "show the output of the commands a campaign ran, per node", ArgsUsage: "ID",
				Flags: clientFlags, Action: campaignLogs},
		},
	}
}

func fmtCommand() *cli.Command {
	return &cli.Command{
		Name:      "fmt",
		Usage:     "rewrite campaign files in canonical layout",
		ArgsUsage: "FILE|DIR ... [--check]",
		Description: "Rewrites each file in place (a directory stands for its *.hcl files) and names the\n" +
			"files it changed. With --check nothing is written: the files that are not formatted are\n" +
			"named and the exit status is 1. A file with syntax errors is reported and left as it is.",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "check", Usage: "only list the files that would change; exit 1 if any"}},
		Action: runFmt,
	}
}

// listFlag is a repeatable flag whose values are kept as written: unlike
// cli.StringSliceFlag it does not split on commas, which -var 'sites=["a", "b"]'
// needs.
type listFlag []string

func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) String() string     { return strings.Join(*l, " ") }

func varFlag() cli.Flag {
	return &cli.GenericFlag{Name: "var", Value: &listFlag{}, Usage: "set a variable: -var NAME=VALUE (repeatable)"}
}

// localFlags are the flags of the verbs that load a campaign locally. The
// variables have no GRIDFLOW_* twin of their own: GRIDFLOW_VAR_<name> sets a
// variable directly.
func localFlags() []cli.Flag {
	return []cli.Flag{
		varFlag(),
		&cli.GenericFlag{Name: "var-file", Value: &listFlag{}, Usage: "read variables from an HCL (or .json) file of NAME = VALUE lines (repeatable)"},
		stringFlag("testbed", "", "HCL testbed description to check reservations against (default: the built-in testbed)"),
	}
}

func listValues(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(*listFlag); ok && l != nil {
		return *l
	}
	return nil
}

// errHelpShown stops an action after positional found -h among its arguments.
var errHelpShown = errors.New("help shown")

// positional returns the arguments of a command that are not flags, and
// applies the flags written after them: the flag package stops at the first
// argument, but the documented usage is `gridflow campaign run FILE -var n=4`.
func positional(c *cli.Context) ([]string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if name == "h" || name == "help" {
			_ = cli.ShowSubcommandHelp(c)
			return nil, errHelpShown
		}
		f := lookupFlag(c.Command.Flags, name)
		if f == nil {
			return nil, fmt.Errorf("flag provided but not defined: -%s (see gridflow %s -h)", name, c.Command.FullName())
		}
		if _, isBool := f.(*cli.BoolFlag); isBool && !hasValue {
			value, hasValue = "true", true
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag needs an argument: -%s", name)
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return nil, fmt.Errorf("invalid value %q for flag -%s: %w", value, name, err)
		}
	}
	return pos, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// oneFile returns the single file argument of a local verb.
func oneFile(c *cli.Context, what string) (string, error) {
	args, err := positional(c)
	if err != nil {
		return "", err
	}
	switch len(args) {
	case 0:
		return "", fmt.Errorf("give the %s: gridflow %s %s", what, c.Command.FullName(), c.Command.ArgsUsage)
	case 1:
		return args[0], nil
	}
	return "", fmt.Errorf("give one %s, not %d arguments (flags go before or after it: -var NAME=VALUE)", what, len(args))
}

// parseVars turns -var NAME=VALUE arguments into a map; the last one wins.
func parseVars(list []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("-var %q: write -var NAME=VALUE, as in -var nodes=4", kv)
		}
		vars[k] = v
	}
	return vars, nil
}

// loadCampaign loads the campaign of a local verb, with the inventory of the
// testbed, and prints its diagnostics. The campaign is nil on errors.
func loadCampaign(c *cli.Context) (*campaign.Campaign, string, error) {
	file, err := oneFile(c, "campaign file")
	if err != nil {
		return nil, "", err
	}
	vars, err := parseVars(listValues(c, "var"))
	if err != nil {
		return nil, "", err
	}
	tb, err := localTestbed(c)
	if err != nil {
		return nil, "", err
	}
	p := campaign.NewParser()
	camp, diags := p.Load(campaign.Input{
		Filename:  file,
		Vars:      vars,
		VarFiles:  listValues(c, "var-file"),
		Env:       os.Environ(),
		Inventory: inventory.New(tb),
	})
	if len(diags) > 0 {
		fmt.Fprint(c.App.ErrWriter, campaign.FormatDiagnostics(p.Files(), diags))
	}
	if diags.HasErrors() {
		return nil, file, fmt.Errorf("%s: %s", file, countOf(len(diags.Errs()), "error"))
	}
	return camp, file, nil
}

// localTestbed parses --testbed, or the built-in testbed.
func localTestbed(c *cli.Context) (*testbed.Testbed, error) {
	p := testbed.NewParser()
	var (
		tb    *testbed.Testbed
		diags hcl.Diagnostics
		name  string
	)
	if name = c.String("testbed"); name != "" {
		tb, diags = p.ParseFile(name)
	} else {
		var src []byte
		src, name = campaigns.BuiltinTestbed()
		tb, diags = p.Parse(src, name)
	}
	if diags.HasErrors() {
		fmt.Fprint(c.App.ErrWriter, testbed.FormatDiagnostics(p.Files(), diags))
		return nil, fmt.Errorf("the testbed %s has errors: fix it, or leave --testbed out for the built-in testbed", name)
	}
	return tb, nil
}

func campaignValidate(c *cli.Context) error {
	camp, file, err := loadCampaign(c)
	if err != nil {
		return helpShown(err)
	}
	fmt.Fprintf(c.App.Writer, "%s: %s, valid\n", file, countOf(len(camp.Steps), "step"))
	return nil
}

func campaignPlan(c *cli.Context) error {
	camp, _, err := loadCampaign(c)
	if err != nil {
		return helpShown(err)
	}
	fmt.Fprint(c.App.Writer, camp.Plan().String())
	return nil
}

// helpShown turns errHelpShown into success.
func helpShown(err error) error {
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func countOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// The campaign as the REST API shows it. Every field is optional, so that a
// client keeps working with a server that adds or leaves out some.
type campaignItem struct {
	UID       string         `json:"uid"`
	Name      string         `json:"name"`
	Owner     string         `json:"owner"`
	State     string         `json:"state"`
	Reason    string         `json:"reason"`
	Filename  string         `json:"filename"`
	Variables map[string]any `json:"variables"`
	Created   apiTime        `json:"created_at"`
	Started   apiTime        `json:"started_at"`
	Ended     apiTime        `json:"ended_at"`
	Steps     []campaignStep `json:"steps"`
	// Outputs is kept raw: an unexpected shape is shown rather than
	// failing the whole answer.
	Outputs json.RawMessage `json:"outputs"`
}

type campaignStep struct {
	Address  string  `json:"address"`
	Kind     string  `json:"kind"`
	State    string  `json:"state"`
	Attempts int     `json:"attempts"`
	Started  apiTime `json:"started_at"`
	Ended    apiTime `json:"ended_at"`
	Error    string  `json:"error"`
	Outputs  any     `json:"outputs"`
}

// apiTime is an RFC 3339 time that may be null, empty or absent.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil || s == "" {
		return nil
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v
	}
	return nil
}

// campaignDone reports whether a campaign state is final.
func campaignDone(state string) bool {
	return state == "succeeded" || state == "failed" || state == "canceled"
}

func campaignPath(id string) string { return "/v1/campaigns/" + url.PathEscape(id) }

func campaignID(c *cli.Context) (string, error) {
	args, err := positional(c)
	if err != nil {
		return "", err
	}
	if len(args) != 1 {
		return "", fmt.Errorf("give the campaign id: gridflow %s ID (gridflow campaign list shows them)", c.Command.FullName())
	}
	return args[0], nil
}

func getCampaign(c *cli.Context, id string) (campaignItem, error) {
	var item campaignItem
	err := call(c, "GET", campaignPath(id), "", nil, &item)
	return item, err
}

func campaignRun(c *cli.Context) error {
	file, err := oneFile(c, "campaign file")
	if err != nil {
		return helpShown(err)
	}
	vars, err := parseVars(listValues(c, "var"))
	if err != nil {
		return err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read the campaign: %w", err)
	}
	// The server does not see our environment: send the GRIDFLOW_VAR_* values
	// of the variables the campaign declares, below -var as when run locally.
	for name, v := range envVars(src, file, os.Environ()) {
		if _, set := vars[name]; !set {
			vars[name] = v
		}
	}
	body := map[string]any{"source": string(src), "filename": file, "variables": vars}
	if s := c.String("sid"); s != "" {
		body["sid"] = s
	}
	if n := c.String("name"); n != "" {
		body["name"] = n
	}
	var item campaignItem
	if err := call(c, "POST", "/v1/campaigns", "application/json", jsonBody(body), &item); err != nil {
		return err
	}
	if item.UID == "" {
		return errors.New("the API accepted the campaign but returned no id: check gridflow campaign list")
	}
	fmt.Fprintln(c.App.Writer, item.UID)
	if !c.Bool("wait") {
		return nil
	}
	return waitCampaign(c, item)
}

// envVars returns the values that GRIDFLOW_VAR_<name> environment variables
// give to the variables a campaign declares. Others are left out: the server
// would take them for -var values of undeclared variables, an error.
func envVars(src []byte, filename string, environ []string) map[string]string {
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil // the server reports the syntax errors
	}
	content, _, _ := file.Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}},
	})
	declared := map[string]bool{}
	for _, b := range content.Blocks {
		declared[b.Labels[0]] = true
	}
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if name, isVar := strings.CutPrefix(k, campaign.EnvPrefix); ok && isVar && declared[name] {
			out[name] = v
		}
	}
	return out
}

// waitCampaign polls a campaign until it ends, printing its changes.
func waitCampaign(c *cli.Context, item campaignItem) error {
	w := c.App.Writer
	id := item.UID
	seen := map[string]string{} // step address → state and attempt printed
	lastState := ""
	var unreachableSince time.Time
	for {
		for _, s := range item.Steps {
			// A retry shows as a new attempt of a running step.
			key := fmt.Sprintf("%s/%d", s.State, s.Attempts)
			if seen[s.Address] == key {
				continue
			}
			seen[s.Address] = key
			line := fmt.Sprintf("%s  %-32s %s", clock(), s.Address, s.State)
			if s.Attempts > 1 {
				line += fmt.Sprintf(" (attempt %d)", s.Attempts)
			}
			if s.Error != "" && s.State != "succeeded" {
				line += ": " + s.Error
			}
			fmt.Fprintln(w, line)
		}
		if item.State != lastState && item.State != "" {
			fmt.Fprintf(w, "%s  campaign %s %s\n", clock(), id, item.State)
			lastState = item.State
		}
		if campaignDone(item.State) {
			break
		}
		select {
		case <-c.Context.Done():
			return c.Context.Err()
		case <-time.After(campaignPollInterval):
		}
		next, err := getCampaign(c, id)
		var unreachable *url.Error
		switch {
		case errors.As(err, &unreachable):
			// The engine may be restarting; the campaign goes on without us.
			if unreachableSince.IsZero() {
				unreachableSince = time.Now()
				fmt.Fprintf(c.App.ErrWriter, "%s  cannot reach the API, retrying: %v\n", clock(), err)
			}
			if time.Since(unreachableSince) > campaignUnreachableFor {
				return fmt.Errorf("%w; the campaign %s goes on: follow it with gridflow campaign status %s", err, id, id)
			}
			continue
		case err != nil:
			return err
		}
		unreachableSince = time.Time{}
		item = next
	}
	printOutputs(w, item.Outputs)
	if item.State != "succeeded" {
		msg := fmt.Sprintf("campaign %s %s", id, item.State)
		if item.Reason != "" {
			msg += ": " + item.Reason
		}
		return errors.New(msg + " (gridflow campaign status " + id + " shows every step)")
	}
	return nil
}

func clock() string { return time.Now().Format("15:04:05") }

func campaignStatus(c *cli.Context) error {
	id, err := campaignID(c)
	if err != nil {
		return helpShown(err)
	}
	item, err := getCampaign(c, id)
	if err != nil {
		return err
	}
	printStatus(c.App.Writer, item, time.Now())
	return nil
}

func printStatus(w io.Writer, item campaignItem, now time.Time) {
	title := "Campaign " + item.UID
	if item.Name != "" {
		title += " (" + item.Name + ")"
	}
	fmt.Fprintf(w, "%s: %s\n", title, item.State)
	if item.Reason != "" {
		fmt.Fprintf(w, "  reason   %s\n", item.Reason)
	}
	if item.Owner != "" {
		fmt.Fprintf(w, "  owner    %s\n", item.Owner)
	}
	if item.Filename != "" {
		fmt.Fprintf(w, "  file     %s\n", item.Filename)
	}
	if len(item.Variables) > 0 {
		names := make([]string, 0, len(item.Variables))
		for n := range item.Variables {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			names[i] = fmt.Sprintf("%s=%v", n, item.Variables[n])
		}
		fmt.Fprintf(w, "  vars     %s\n", strings.Join(names, " "))
	}
	for _, t := range []struct {
		label string
		at    apiTime
	}{{"created", item.Created}, {"started", item.Started}, {"ended", item.Ended}} {
		if !t.at.IsZero() {
			fmt.Fprintf(w, "  %-8s %s\n", t.label, t.at.Local().Format(time.RFC3339))
		}
	}
	if len(item.Steps) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tKIND\tSTATE\tATTEMPTS\tDURATION\tERROR")
		for _, s := range item.Steps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Address, s.Kind, s.State, s.Attempts,
				stepDuration(s, now), oneLineText(s.Error, 100))
		}
		tw.Flush()
	}
	printOutputs(w, item.Outputs)
}

// stepDuration is how long a step ran, or has been running ("12s…").
func stepDuration(s campaignStep, now time.Time) string {
	switch {
	case s.Started.IsZero():
		return "-"
	case s.Ended.IsZero():
		return roundDuration(now.Sub(s.Started.Time)) + "…"
	}
	return roundDuration(s.Ended.Sub(s.Started.Time))
}

func roundDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func oneLineText(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit-1]) + "…"
	}
	return s
}

// printOutputs prints a campaign's outputs as NAME = JSON, sorted by name.
func printOutputs(w io.Writer, raw json.RawMessage) {
	var outputs map[string]any
	if err := json.Unmarshal(raw, &outputs); err != nil {
		if s := strings.TrimSpace(string(raw)); s != "" && s != "null" {
			fmt.Fprintf(w, "\nOutputs\n  %s\n", s)
		}
		return
	}
	if len(outputs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nOutputs")
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := json.MarshalIndent(outputs[n], "  ", "  ")
		if err != nil {
			b = []byte(fmt.Sprint(outputs[n]))
		}
		fmt.Fprintf(w, "  %s = %s\n", n, b)
	}
}

func campaignList(c *cli.Context) error {
	if _, err := positional(c); err != nil {
		return helpShown(err)
	}
	var out struct {
		Items []campaignItem `json:"items"`
		Total int            `json:"total"`
	}
	if err := call(c, "GET", fmt.Sprintf("/v1/campaigns?limit=%d", c.Int("limit")), "", nil, &out); err != nil {
		return err
	}
	w := c.App.Writer
	if len(out.Items) == 0 {
		fmt.Fprintln(w, "no campaigns")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tSTATE\tCREATED")
	for _, it := range out.Items {
		created := "-"
		if !it.Created.IsZero() {
			created = it.Created.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.UID, it.Name, it.Owner, it.State, created)
	}
	tw.Flush()
	if out.Total > len(out.Items) {
		fmt.Fprintf(w, "(%d of %d; --limit shows more)\n", len(out.Items), out.Total)
	}
	return nil
}

func campaignCancel(c *cli.Context) error {
	id, err := campaignID(c)
	if err != nil {
		return helpShown(err)
	}
	if err := call(c, "DELETE", campaignPath(id), "", nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: cancel requested; it releases what it reserved (gridflow campaign status %s)\n", id, id)
	return nil
}

func campaignLogs(c *cli.Context) error {
	id, err := campaignID(c)
	if err != nil {
		return helpShown(err)
	}
	item, err := getCampaign(c, id)
	if err != nil {
		return err
	}
	w := c.App.Writer
	found := false
	for _, s := range item.Steps {
		for _, out := range runOutputs(s.Address, s.Outputs) {
			found = true
			printRunOutput(w, out)
		}
	}
	if !found {
		fmt.Fprintf(w, "campaign %s (%s) has no command output yet\n", id, item.State)
	}
	return nil
}

// runOutput is what one command printed on one node.
type runOutput struct {
	Instance, Node string
	ExitCode       any
	Stdout, Stderr string
}

// runOutputs finds the outputs of run steps in a step's outputs: an object
// with results (per node) or stdout/stderr; the engine's list of instances,
// [{"Address": "run.x[0]", "Output": {…}}]; or a list (count) or map
// (for_each) of such objects.
func runOutputs(addr string, v any) []runOutput {
	if inst, out, ok := instanceOutput(v); ok {
		return runOutputs(inst, out)
	}
	switch v := v.(type) {
	case map[string]any:
		if results, ok := v["results"].(map[string]any); ok && len(results) > 0 {
			nodes := make([]string, 0, len(results))
			for n := range results {
				nodes = append(nodes, n)
			}
			sort.Strings(nodes)
			var out []runOutput
			for _, n := range nodes {
				r, _ := results[n].(map[string]any)
				out = append(out, runOutput{Instance: addr, Node: n, ExitCode: r["exit_code"], Stdout: outputText(r["stdout"]), Stderr: outputText(r["stderr"])})
			}
			return out
		}
		_, hasOut := v["stdout"]
		_, hasErr := v["stderr"]
		if hasOut || hasErr {
			return []runOutput{{Instance: addr, ExitCode: v["exit_code"], Stdout: outputText(v["stdout"]), Stderr: outputText(v["stderr"])}}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []runOutput
		for _, k := range keys {
			if _, isObj := v[k].(map[string]any); isObj {
				out = append(out, runOutputs(fmt.Sprintf("%s[%q]", addr, k), v[k])...)
			}
		}
		return out
	case []any:
		var out []runOutput
		for i, e := range v {
			out = append(out, runOutputs(fmt.Sprintf("%s[%d]", addr, i), e)...)
		}
		return out
	}
	return nil
}

// instanceOutput recognises one recorded instance, {"Address", "Output"}.
func instanceOutput(v any) (addr string, out any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 2 {
		return "", nil, false
	}
	for _, k := range []string{"Address", "address"} {
		if a, isStr := m[k].(string); isStr && a != "" {
			addr = a
		}
	}
	for _, k := range []string{"Output", "output"} {
		if o, has := m[k]; has {
			out, ok = o, addr != ""
		}
	}
	return addr, out, ok
}

func outputText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func printRunOutput(w io.Writer, o runOutput) {
	head := "==> " + o.Instance
	if o.Node != "" {
		head += " on " + o.Node
	}
	if o.ExitCode != nil {
		head += fmt.Sprintf(" (exit %v)", o.ExitCode)
	}
	fmt.Fprintln(w, head)
	for _, part := range []struct{ name, text string }{{"stdout", o.Stdout}, {"stderr", o.Stderr}} {
		if part.text == "" {
			continue
		}
		fmt.Fprintf(w, "--- %s\n%s", part.name, part.text)
		if !strings.HasSuffix(part.text, "\n") {
			fmt.Fprintln(w)
		}
	}
}

func runFmt(c *cli.Context) error {
	args, err := positional(c)
	if err != nil {
		return helpShown(err)
	}
	if len(args) == 0 {
		return errors.New("give the files to format: gridflow fmt FILE... (or a directory)")
	}
	files, err := fmtFiles(args)
	if err != nil {
		return err
	}
	check := c.Bool("check")
	var changed, broken []string
	for _, f := range files {
		did, err := fmtFile(f, check)
		switch {
		case err != nil:
			fmt.Fprintln(c.App.ErrWriter, err)
			broken = append(broken, f)
		case did:
			fmt.Fprintln(c.App.Writer, f)
			changed = append(changed, f)
		}
	}
	switch {
	case len(broken) > 0:
		return fmt.Errorf("%s left as it was: fix the errors above", countOf(len(broken), "file"))
	case check && len(changed) > 0:
		return fmt.Errorf("%s not formatted: run gridflow fmt on them", countOf(len(changed), "file"))
	}
	return nil
}

// fmtFiles expands directories into their *.hcl files.
func fmtFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.hcl"))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	return files, nil
}

// fmtFile formats one file, or with check only says whether it would
// change. A file with syntax errors is reported in the error.
func fmtFile(name string, check bool) (bool, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return false, err
	}
	p := hclparse.NewParser()
	if _, diags := p.ParseHCL(src, name); diags.HasErrors() {
		return false, errors.New(strings.TrimRight(campaign.FormatDiagnostics(p.Files(), diags), "\n"))
	}
	out := campaign.Format(src)
	if string(out) == string(src) {
		return false, nil
	}
	if check {
		return true, nil
	}
	return true, writeAtomic(name, out)
}

// writeAtomic replaces a file's content through a temporary file renamed
// over it, so that a crash leaves either the old or the new file, never half
// of one. The file keeps its mode; a symbolic link keeps pointing at it.
func writeAtomic(name string, data []byte) (err error) {
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return err
	}
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("rewrite %s: %w", name, err)
	}
	return nil
}
