package campaign

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/gridflow/gridflow/dsl/funcs"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Parser loads campaigns and keeps every file it read, so that diagnostics
// can be rendered with their source lines (see FormatDiagnostics).
type Parser struct {
	hp *hclparse.Parser
}

// NewParser returns a Parser with no files.
func NewParser() *Parser { return &Parser{hp: hclparse.NewParser()} }

// Files returns the files read so far by name: the campaign, var files and
// the pseudo-files that hold -var and environment values.
func (p *Parser) Files() map[string]*hcl.File { return p.hp.Files() }

// Load parses and validates a campaign with a new Parser. Use a Parser of
// your own to render the diagnostics with their source.
func Load(in Input) (*Campaign, hcl.Diagnostics) { return NewParser().Load(in) }

// internalErrorSummary marks the diagnostic that stands for a bug of this
// package; the fuzz test fails when it sees one.
const internalErrorSummary = "Internal error in the campaign parser"

// Load parses and validates a campaign. The campaign is nil when the
// diagnostics have errors; warnings may come with a valid campaign.
func (p *Parser) Load(in Input) (c *Campaign, diags hcl.Diagnostics) {
	defer func() {
		// Campaigns arrive through the API: a bug here must cost one
		// request, not the server. The fuzz test hunts for these.
		if r := recover(); r != nil {
			c = nil
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  internalErrorSummary,
				Detail:   fmt.Sprintf("Please report this with the campaign file: %v\n%s", r, debug.Stack()),
				Subject:  &hcl.Range{Filename: in.Filename, Start: hcl.InitialPos, End: hcl.InitialPos},
			})
		}
	}()
	l := &loader{p: p, in: in}
	c, diags = l.load()
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// loader holds the state of one Load.
type loader struct {
	p  *Parser
	in Input
	c  *Campaign

	variableBlocks []*hcl.Block
	localsBlocks   []*hcl.Block
	stepBlocks     []*hcl.Block
	outputBlocks   []*hcl.Block
	localAttrs     map[string]*hcl.Attribute
	staticCtx      *hcl.EvalContext // see static
	sortedAddrs    []string         // see stepAddrs
}

func (l *loader) load() (*Campaign, hcl.Diagnostics) {
	filename := l.in.Filename
	if filename == "" {
		filename = "campaign.hcl"
	}
	src := l.in.Source
	if src == nil {
		b, err := os.ReadFile(filename)
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read campaign file",
				Detail:   fmt.Sprintf("%v. Check the path, or pass the campaign's text as the source.", err),
				Subject:  &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos},
			}}
		}
		src = b
	}
	l.c = &Campaign{
		Filename:  filename,
		Variables: map[string]*Variable{},
		Locals:    map[string]cty.Value{},
		byAddr:    map[string]*Step{},
		contents:  map[hcl.Body]*hcl.BodyContent{},
		funcs:     funcs.Functions(),
	}

	// Phase 1: syntax.
	file, diags := l.parse(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	l.c.files = l.p.Files()

	// Phase 2: top-level blocks.
	diags = append(diags, l.topLevel(file)...)
	if diags.HasErrors() {
		return nil, diags
	}
	// Phase 3: variables and their values.
	diags = append(diags, l.variables()...)
	if diags.HasErrors() {
		return nil, diags
	}
	// Phase 4: locals.
	diags = append(diags, l.locals()...)
	if diags.HasErrors() {
		return nil, diags
	}
	// Phase 5: steps and outputs, their arguments and references.
	diags = append(diags, l.steps()...)
	diags = append(diags, l.outputs()...)
	if diags.HasErrors() {
		return nil, diags
	}
	// Phase 6: the dependency graph.
	diags = append(diags, l.graph()...)
	if diags.HasErrors() {
		return nil, diags
	}
	// Phase 7: types, values and the testbed.
	diags = append(diags, l.check()...)
	return l.c, dedupe(diags)
}

// parse checks the bounds and parses one HCL file into the parser's file set.
func (l *loader) parse(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	diags, starts := prescanBlocks(src, filename, true)
	if diags.HasErrors() {
		// Register the text anyway, so the diagnostic shows its line.
		l.p.hp.AddFile(filename, &hcl.File{Bytes: src, Body: hcl.EmptyBody()})
		return nil, diags
	}
	if l.p.hp.Files()[filename] != nil {
		// Already read by this Parser: hclparse answers from its cache.
		return l.p.hp.ParseHCL(src, filename)
	}
	// What hclparse.ParseHCL does, with parseConfig for hclsyntax.ParseConfig.
	file, diags := parseConfig(src, filename, starts)
	l.p.hp.AddFile(filename, file)
	return file, diags
}

// topLevel sorts the blocks of the file by type and rejects bad names and duplicates.
func (l *loader) topLevel(file *hcl.File) hcl.Diagnostics {
	content, diags := file.Body.Content(rootSchema)
	if len(content.Blocks) > MaxBlocks {
		b := content.Blocks[MaxBlocks]
		return append(diags, errorf(b.DefRange, nil, "Too many blocks",
			"This campaign has %d blocks, more than the %d a campaign may have. Generate repeated steps with count or for_each, or split the campaign.",
			len(content.Blocks), MaxBlocks))
	}
	seen := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if len(b.Labels) == 1 {
			if !hclsyntax.ValidIdentifier(b.Labels[0]) {
				diags = append(diags, errorf(b.LabelRanges[0], rangePtr(b.DefRange), "Invalid name",
					"%q is not a valid %s name: a name starts with a letter and has only letters, digits, underscores and dashes.%s",
					b.Labels[0], b.Type, refHint(b.Type)))
				continue
			}
			key := b.Type + "." + b.Labels[0]
			if prev, dup := seen[key]; dup {
				diags = append(diags, errorf(b.LabelRanges[0], rangePtr(b.DefRange), "Duplicate "+b.Type+" name",
					"A %s named %q is already declared at %s. Names of %s blocks must be unique; rename one of them.",
					b.Type, b.Labels[0], at(prev.DefRange), b.Type))
				continue
			}
			seen[key] = b
		}
		switch b.Type {
		case "variable":
			l.variableBlocks = append(l.variableBlocks, b)
		case "locals":
			l.localsBlocks = append(l.localsBlocks, b)
		case "output":
			l.outputBlocks = append(l.outputBlocks, b)
		default:
			l.stepBlocks = append(l.stepBlocks, b)
		}
	}
	return diags
}

// refHint says how blocks of a type are referred to in expressions.
func refHint(blockType string) string {
	switch blockType {
	case "variable":
		return " Expressions refer to it as var.<name>."
	case "output":
		return ""
	}
	return " Expressions refer to it as " + blockType + ".<name>."
}
