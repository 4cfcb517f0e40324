package campaign

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// rootSchema is the top level of a campaign file.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "reservation", LabelNames: []string{"name"}},
		{Type: "deployment", LabelNames: []string{"name"}},
		{Type: "transfer", LabelNames: []string{"name"}},
		{Type: "container", LabelNames: []string{"name"}},
		{Type: "run", LabelNames: []string{"name"}},
		{Type: "job", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}, {Name: "description"}},
}

// attrSpec describes one argument of a step (or of a block inside one).
// Required arguments are checked by hand, not by hcl, so the diagnostic can
// show an example.
type attrSpec struct {
	name     string
	ty       cty.Type // cty.DynamicPseudoType when the decoder checks the shape itself
	required bool
	example  string
}

// blockSpec describes a step kind or a nested block.
type blockSpec struct {
	name   string
	attrs  []attrSpec
	blocks []*blockSpec
	many   bool // may appear several times inside its parent
	schema *hcl.BodySchema
}

func (b *blockSpec) attr(name string) *attrSpec {
	for i := range b.attrs {
		if b.attrs[i].name == name {
			return &b.attrs[i]
		}
	}
	return nil
}

func (b *blockSpec) buildSchema(meta bool) *blockSpec {
	s := &hcl.BodySchema{}
	for _, a := range b.attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.name})
	}
	for _, c := range b.blocks {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: c.name})
		c.buildSchema(false)
	}
	if meta {
		for _, m := range []string{"depends_on", "count", "for_each", "on_failure", "timeout"} {
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: m})
		}
		// on_failure is an attribute ("abort", "continue") or a block (retry).
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "on_failure"})
	}
	b.schema = s
	return b
}

var (
	listOfString = cty.List(cty.String)
	mapOfString  = cty.Map(cty.String)
	anyType      = cty.DynamicPseudoType
)

var onFailureSpec = (&blockSpec{name: "on_failure", attrs: []attrSpec{
	{name: "then", ty: cty.String, example: `then = "continue"`},
}, blocks: []*blockSpec{retrySpec}}).buildSchema(false)

var retrySpec = &blockSpec{name: "retry", attrs: []attrSpec{
	{name: "attempts", ty: cty.Number, required: true, example: "attempts = 3"},
	{name: "backoff", ty: anyType, example: `backoff = "30s"`},
}}

// stepSpecs are the arguments of each step kind; the meta-arguments are added
// to every schema.
var stepSpecs = map[Kind]*blockSpec{
	KindReservation: (&blockSpec{name: "reservation", attrs: []attrSpec{
		{name: "site", ty: cty.String, required: true, example: `site = "rennes"`},
		{name: "nodes", ty: anyType, required: true, example: `nodes = 2   # or nodes = { paravance = 2, parasilo = 1 }`},
		{name: "cluster", ty: cty.String, example: `cluster = "paravance"`},
		{name: "properties", ty: anyType, example: `properties = { gpu_count = 1 }`},
		{name: "walltime", ty: anyType, example: `walltime = "2h"`},
		{name: "queue", ty: cty.String, example: `queue = "default"`},
		{name: "types", ty: listOfString, example: `types = ["deploy"]`},
		{name: "start", ty: cty.String, example: `start = "2030-01-15T20:00:00Z"`},
	}}).buildSchema(true),

	KindDeployment: (&blockSpec{name: "deployment", attrs: []attrSpec{
		{name: "environment", ty: cty.String, required: true, example: `environment = "debian12-min@2024.1"`},
		{name: "nodes", ty: listOfString, required: true, example: `nodes = reservation.exp.nodes`},
		{name: "force", ty: cty.Bool, example: `force = true`},
	}, blocks: []*blockSpec{
		{name: "timeouts", attrs: []attrSpec{
			{name: "prepare", ty: anyType, example: `prepare = "5m"`},
			{name: "write", ty: anyType, example: `write = "20m"`},
			{name: "verify", ty: anyType, example: `verify = "5m"`},
			{name: "boot", ty: anyType, example: `boot = "10m"`},
		}},
	}}).buildSchema(true),

	KindTransfer: (&blockSpec{name: "transfer", attrs: []attrSpec{
		{name: "verify_checksum", ty: cty.Bool, example: `verify_checksum = true`},
		{name: "overwrite", ty: cty.Bool, example: `overwrite = true`},
		{name: "retry", ty: cty.Number, example: `retry = 3`},
		{name: "retry_delay", ty: anyType, example: `retry_delay = "30s"`},
		{name: "priority", ty: cty.Number, example: `priority = 3`},
	}, blocks: []*blockSpec{
		{name: "files", many: true, attrs: []attrSpec{
			{name: "source", ty: cty.String, example: `source = "http://data.example.org/set.tar"`},
			{name: "sources", ty: listOfString, example: `sources = ["http://a/set.tar", "http://b/set.tar"]`},
			{name: "destination", ty: cty.String, required: true, example: `destination = "node://${reservation.exp.nodes[0]}/tmp/set.tar"`},
			{name: "checksum", ty: cty.String, example: `checksum = "sha256"   # or "sha256:<hex digest>"`},
			{name: "lfn", ty: cty.String, example: `lfn = "/alice/exp/results.tar"   # register the copy in the file catalogue`},
		}},
	}}).buildSchema(true),

	KindContainer: (&blockSpec{name: "container", attrs: []attrSpec{
		{name: "node", ty: cty.String, required: true, example: `node = reservation.exp.nodes[0]`},
		{name: "image", ty: cty.String, required: true, example: `image = "redis:7"`},
		{name: "env", ty: mapOfString, example: `env = { MODE = "bench" }`},
		{name: "ports", ty: cty.Map(cty.Number), example: `ports = { "8080" = 80 }   # host port = container port`},
	}, blocks: []*blockSpec{
		{name: "init", many: true, attrs: []attrSpec{
			{name: "command", ty: cty.String, required: true, example: `command = "/usr/sbin/sshd"`},
			{name: "args", ty: listOfString, example: `args = ["-D"]`},
			{name: "env", ty: mapOfString, example: `env = { LANG = "C" }`},
			{name: "dir", ty: cty.String, example: `dir = "/"`},
		}},
	}}).buildSchema(true),

	KindRun: (&blockSpec{name: "run", attrs: []attrSpec{
		{name: "command", ty: cty.String, required: true, example: `command = "hostname"`},
		{name: "args", ty: listOfString, example: `args = ["-c", "3"]`},
		{name: "env", ty: mapOfString, example: `env = { OMP_NUM_THREADS = "8" }`},
		{name: "nodes", ty: listOfString, example: `nodes = reservation.exp.nodes`},
		{name: "container", ty: cty.String, example: `container = container.db.id`},
		{name: "dir", ty: cty.String, example: `dir = "/tmp"`},
	}}).buildSchema(true),

	KindJob: (&blockSpec{name: "job", attrs: []attrSpec{
		{name: "executable", ty: cty.String, required: true, example: `executable = "/bin/echo"   # or a file of the sandbox: "run.sh"`},
		{name: "arguments", ty: cty.String, example: `arguments = "-n 4 input.dat"`},
		{name: "sites", ty: listOfString, example: `sites = ["rennes", "lyon"]`},
		{name: "cores", ty: cty.Number, example: `cores = 4`},
		{name: "memory", ty: cty.String, example: `memory = "8GiB"`},
		{name: "cputime", ty: anyType, example: `cputime = "2h"`},
		{name: "env", ty: mapOfString, example: `env = { OMP_NUM_THREADS = "4" }`},
		{name: "files", ty: mapOfString, example: `files = { "run.sh" = "#!/bin/sh\necho hi > result.txt" }`},
		{name: "output_sandbox", ty: listOfString, example: `output_sandbox = ["result.txt"]`},
		{name: "job_name", ty: cty.String, example: `job_name = "bench-4"`},
	}}).buildSchema(true),
}

// outputAttrs are the outputs each kind of step records, the attributes of
// reservation.exp, run.bench[0] and so on.
var outputAttrs = map[Kind]map[string]cty.Type{
	KindReservation: {
		"id":    cty.String,
		"site":  cty.String,
		"nodes": listOfString,
	},
	KindDeployment: {
		"id":          cty.String,
		"environment": cty.String,
		"nodes":       listOfString,
		"ok_nodes":    listOfString,
		"ko_nodes":    listOfString,
	},
	KindTransfer: {
		"id":    cty.String,
		"state": cty.String,
		"bytes": cty.Number,
		"files": cty.List(cty.Object(map[string]cty.Type{
			"source": cty.String, "destination": cty.String, "state": cty.String, "checksum": cty.String,
		})),
	},
	KindContainer: {
		"id":    cty.String,
		"node":  cty.String,
		"image": cty.String,
	},
	KindJob: {
		"id":             cty.String,
		"status":         cty.String,
		"exit_code":      cty.Number,
		"stdout":         cty.String,
		"stderr":         cty.String,
		"site":           cty.String,
		"node":           cty.String,
		"output_sandbox": cty.String,
	},
	KindRun: {
		"stdout":    cty.String,
		"stderr":    cty.String,
		"exit_code": cty.Number,
		"results": cty.Map(cty.Object(map[string]cty.Type{
			"stdout": cty.String, "stderr": cty.String, "exit_code": cty.Number,
		})),
	},
}

// OutputType is the object type of the outputs a step of the given kind
// records, the value the engine passes to EvalContext for a single instance.
func OutputType(k Kind) cty.Type {
	if t, ok := outputTypes[k]; ok {
		return t
	}
	return cty.Object(outputAttrs[k])
}

// outputTypes are the output types built once: validation asks for one per
// step, and building an object type copies its attributes.
var outputTypes = func() map[Kind]cty.Type {
	m := make(map[Kind]cty.Type, len(outputAttrs))
	for k, attrs := range outputAttrs {
		m[k] = cty.Object(attrs)
	}
	return m
}()
