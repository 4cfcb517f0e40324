// Package campaign is the front end of the campaign language: it reads a
// campaign file written in HCL, checks it, and returns a typed model that the
// engine runs as a workflow. It knows nothing of Temporal, SQL or HTTP.
//
// Loading goes in phases, each stopping at its first errors so that a user
// sees the real mistake rather than a cascade of consequences:
//
//  1. syntax (after a cheap pre-scan that bounds size and nesting),
//  2. top-level blocks: unknown blocks, names, duplicates, block count,
//  3. variables: declarations, then values from -var, var files and the
//     environment, then their validation rules,
//  4. locals, in dependency order,
//  5. steps and outputs: arguments, meta-arguments and references,
//  6. the dependency graph: cycles, then a topological order,
//  7. type checking of every step and output with the outputs of the steps
//     they depend on standing in as unknown values of the right type, plus
//     the testbed checks of the Inventory, if one is given.
//
// Values that exist only at run time (the nodes a reservation got, the exit
// code of a command) are unknown during validation. The model keeps each
// step's hcl.Body so the engine evaluates it later with the real values:
//
//	ctx := c.EvalContext(outputsSoFar)   // map of "reservation.exp" → recorded outputs
//	insts, diags := step.Expand(ctx)     // count / for_each instances
//	spec, diags := step.Decode(ctx, insts[i])
//	... run the instance, record its outputs ...
//	outputsSoFar[step.Address] = step.OutputValue(insts, results)
package campaign

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Kind is the kind of a step, the first word of its block.
type Kind string

// The step kinds, in the order a campaign usually uses them.
const (
	KindReservation Kind = "reservation"
	KindDeployment  Kind = "deployment"
	KindTransfer    Kind = "transfer"
	KindContainer   Kind = "container"
	KindRun         Kind = "run"
	KindJob         Kind = "job"
)

// Kinds lists every step kind.
var Kinds = []Kind{KindReservation, KindDeployment, KindTransfer, KindContainer, KindRun, KindJob}

func (k Kind) valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Campaign is a loaded and validated campaign.
type Campaign struct {
	// Filename is the name the campaign was loaded under.
	Filename string
	// Variables are the declared input variables with their resolved values.
	Variables map[string]*Variable
	// Locals are the values of the local values, all known.
	Locals map[string]cty.Value
	// Steps are sorted topologically: every step comes after the steps it
	// depends on; among independent steps, declaration order is kept.
	Steps []*Step
	// Outputs are in declaration order.
	Outputs []*Output

	byAddr    map[string]*Step
	funcs     map[string]function.Function
	varsVal   cty.Value
	localsVal cty.Value
	files     map[string]*hcl.File
	// contents caches the structural decoding of step bodies: it is filled
	// by Load and only read afterwards, so Decode may run concurrently.
	contents map[hcl.Body]*hcl.BodyContent
}

// content decodes a body against its schema, from the cache when Load has
// already done it.
func (c *Campaign) content(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	if bc, ok := c.contents[body]; ok {
		return bc, nil
	}
	return body.Content(schema)
}

// Step returns the step with the given address ("run.bench"), or nil.
func (c *Campaign) Step(addr string) *Step { return c.byAddr[addr] }

// Variable is a declared input variable.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint (cty.DynamicPseudoType for "any").
	Type cty.Type
	// Default is the default value, or cty.NilVal when the variable is required.
	Default cty.Value
	// Value is the value in force after -var, var files and environment.
	Value cty.Value
	// Source tells where Value came from: "default", "env", a var file name or "-var".
	Source    string
	DeclRange hcl.Range
}

// Step is one step of a campaign: a reservation, deployment, transfer,
// container or run block.
type Step struct {
	Kind    Kind
	Name    string
	Address string // "reservation.exp"
	// DependsOn lists the addresses of the steps this one waits for: those it
	// references and those named in depends_on, in declaration order.
	DependsOn []string
	// Level is the step's depth in the dependency graph: 0 for steps that
	// depend on nothing, otherwise one more than the deepest dependency.
	Level int
	// Count and ForEach are the expressions of the meta-arguments, or nil.
	Count   hcl.Expression
	ForEach hcl.Expression
	// OnFailure says what to do when the step fails.
	OnFailure FailurePolicy
	// Timeout bounds the step's run time; zero means the engine's default.
	Timeout time.Duration
	// Body is the whole block body, for evaluation at run time (see Decode).
	Body      hcl.Body
	DeclRange hcl.Range

	// StaticInstances are the instances as far as they are known before the
	// campaign runs, with their Spec decoded with unknown step outputs. It is
	// nil when count or for_each depend on the outputs of other steps.
	StaticInstances []Instance

	campaign   *Campaign
	block      *hcl.Block
	refs       []reference
	depRanges  map[string]hcl.Range
	expandable bool // count or for_each is known before the campaign starts
	template   Spec // for a step expanded at run time: any instance, as far as known
	index      int  // declaration index
}

// Expanded reports whether the step has count or for_each.
func (s *Step) Expanded() bool { return s.Count != nil || s.ForEach != nil }

// FailureAction is what happens once a step has failed for good.
type FailureAction string

const (
	// Abort stops the campaign and releases what it holds (the default).
	Abort FailureAction = "abort"
	// Continue records the failure and lets the steps that depend on this one run.
	Continue FailureAction = "continue"
)

// FailurePolicy is a step's on_failure.
type FailurePolicy struct {
	// Retry, if set, runs the step again before giving up.
	Retry *RetryPolicy
	// Then is applied once the step has failed and its retries, if any, are used up.
	Then FailureAction
}

// RetryPolicy is the retry { attempts, backoff } form of on_failure.
type RetryPolicy struct {
	// Attempts counts every run of the step, the first one included.
	Attempts int
	// Backoff is the wait before the second attempt; it doubles after each failure.
	Backoff time.Duration
}

// Output is an output block: a value computed when the campaign ends.
type Output struct {
	Name        string
	Description string
	Expr        hcl.Expression
	// DependsOn lists the steps whose outputs the value reads.
	DependsOn []string
	DeclRange hcl.Range
}

// Value evaluates the output in a context from Campaign.EvalContext.
func (o *Output) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	return o.Expr.Value(ctx)
}

// Instance is one instance of a step: the step itself when it has neither
// count nor for_each, otherwise one element of the expansion.
type Instance struct {
	// Address is "run.bench" for a single step, "run.bench[2]" for count and
	// `reservation.site["lyon"]` for for_each.
	Address string
	// Key is cty.NilVal for a single step, the number index for count and the
	// string key for for_each.
	Key cty.Value
	// Each is each.value for for_each instances (the key itself for a set).
	Each cty.Value
	// Spec is filled in StaticInstances; Decode computes it at run time.
	Spec Spec
}
