package campaign

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// steps registers every step, then checks its arguments, meta-arguments and
// references. Values are not evaluated yet, except the meta-arguments that
// must be known before the campaign starts.
func (l *loader) steps() hcl.Diagnostics {
	var diags hcl.Diagnostics
	contents := make([]*hcl.BodyContent, len(l.stepBlocks))
	// Sized once: a thousand steps would otherwise grow these maps ten times.
	l.c.byAddr = make(map[string]*Step, len(l.stepBlocks))
	l.c.contents = make(map[hcl.Body]*hcl.BodyContent, 2*len(l.stepBlocks))
	l.c.Steps = make([]*Step, 0, len(l.stepBlocks))
	for i, b := range l.stepBlocks {
		kind := Kind(b.Type)
		content, ds := b.Body.Content(stepSpecs[kind].schema)
		diags = append(diags, ds...)
		l.c.contents[b.Body] = content
		contents[i] = content
		st := &Step{
			Kind:      kind,
			Name:      b.Labels[0],
			Address:   b.Type + "." + b.Labels[0],
			Body:      b.Body,
			DeclRange: b.DefRange,
			OnFailure: FailurePolicy{Then: Abort},
			campaign:  l.c,
			block:     b,
			index:     i,
			depRanges: map[string]hcl.Range{},
		}
		if a := content.Attributes["count"]; a != nil {
			st.Count = a.Expr
		}
		if a := content.Attributes["for_each"]; a != nil {
			st.ForEach = a.Expr
		}
		l.c.byAddr[st.Address] = st
		l.c.Steps = append(l.c.Steps, st) // declaration order until graph() sorts them
	}
	for i, st := range l.c.Steps {
		diags = append(diags, l.checkStep(st, contents[i])...)
	}
	return diags
}

func (l *loader) checkStep(st *Step, content *hcl.BodyContent) hcl.Diagnostics {
	spec := stepSpecs[st.Kind]
	ctxRange := rangePtr(st.DeclRange)
	diags := missingArgs(spec, content, st.block)

	// Nested blocks: their own required arguments, and how many may appear.
	var walk func(spec *blockSpec, content *hcl.BodyContent)
	scope := refScope{where: "this step", steps: true, count: st.Count != nil, each: st.ForEach != nil, self: st.Address}
	var refs []reference
	walk = func(spec *blockSpec, content *hcl.BodyContent) {
		for _, name := range sortedAttrNames(content.Attributes) {
			if isMeta(name) && spec == stepSpecs[st.Kind] {
				continue
			}
			rs, ds := l.checkRefs(content.Attributes[name].Expr, scope, ctxRange)
			refs = append(refs, rs...)
			diags = append(diags, ds...)
		}
		seen := map[string]*hcl.Block{}
		for _, blk := range content.Blocks {
			if blk.Type == "on_failure" && spec == stepSpecs[st.Kind] {
				continue
			}
			var child *blockSpec
			for _, c := range spec.blocks {
				if c.name == blk.Type {
					child = c
				}
			}
			if prev := seen[blk.Type]; prev != nil && !child.many {
				diags = append(diags, errorf(blk.DefRange, ctxRange, "Duplicate "+blk.Type+" block",
					"%s may have only one %s block; the first one is at %s. Merge them.", blockWhat(string(st.Kind)), blk.Type, at(prev.DefRange)))
				continue
			}
			seen[blk.Type] = blk
			c, ds := blk.Body.Content(child.schema)
			diags = append(diags, ds...)
			l.c.contents[blk.Body] = c
			diags = append(diags, missingArgs(child, c, blk)...)
			walk(child, c)
		}
	}
	walk(spec, content)
	st.refs = refs
	for _, r := range refs {
		st.addDep(r.addr, r.rng)
	}

	diags = append(diags, l.metaArgs(st, content)...)
	return diags
}

func isMeta(name string) bool {
	switch name {
	case "depends_on", "count", "for_each", "on_failure", "timeout":
		return true
	}
	return false
}

func sortedAttrNames(attrs hcl.Attributes) []string {
	names := sortedKeys(attrs)
	sort.SliceStable(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
	return names
}

func (st *Step) addDep(addr string, rng hcl.Range) {
	if addr == "" {
		return
	}
	if _, dup := st.depRanges[addr]; !dup {
		st.depRanges[addr] = rng
	}
}

// metaArgs checks depends_on, count, for_each, on_failure and timeout.
func (l *loader) metaArgs(st *Step, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctxRange := rangePtr(st.DeclRange)
	static := l.static()
	attrs := content.Attributes

	if a := attrs["depends_on"]; a != nil {
		exprs, ds := hcl.ExprList(a.Expr)
		if ds.HasErrors() {
			diags = append(diags, errorf(a.Expr.Range(), ctxRange, "Invalid depends_on",
				"depends_on is a list of steps, as in depends_on = [run.setup, transfer.dataset]."))
		}
		for _, e := range exprs {
			t, ds := hcl.AbsTraversalForExpr(e)
			if ds.HasErrors() || len(t) != 2 || !Kind(t.RootName()).valid() {
				diags = append(diags, errorf(e.Range(), ctxRange, "Invalid depends_on entry",
					"Each entry of depends_on names a whole step, as in run.setup: no outputs, no indexes, no quotes."))
				continue
			}
			ref, ds := l.checkStepRef(t, reference{root: t.RootName(), rng: t.SourceRange()}, refScope{where: "depends_on", steps: true, self: st.Address}, ctxRange)
			diags = append(diags, ds...)
			if !ds.HasErrors() {
				st.addDep(ref.addr, ref.rng)
			}
		}
	}

	if st.Count != nil && st.ForEach != nil {
		diags = append(diags, errorf(attrs["for_each"].NameRange, ctxRange, "Both count and for_each",
			"A step is repeated either count times or once per element of for_each, not both. Keep one of them."))
		return diags
	}
	for _, name := range []string{"count", "for_each"} {
		a := attrs[name]
		if a == nil {
			continue
		}
		refs, ds := l.checkRefs(a.Expr, refScope{where: name, steps: true, self: st.Address}, ctxRange)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		for _, r := range refs {
			st.addDep(r.addr, r.rng)
		}
		if len(stepDeps(refs)) > 0 {
			continue // expanded at run time, once the steps it reads have finished
		}
		val, ds := a.Expr.Value(static)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		insts, ds := st.expand(val, a.Expr.Range())
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			st.StaticInstances = insts
			st.expandable = true
		}
	}

	onAttr := attrs["on_failure"]
	var onBlocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "on_failure" {
			onBlocks = append(onBlocks, b)
		}
	}
	switch {
	case onAttr != nil && len(onBlocks) > 0:
		diags = append(diags, errorf(onBlocks[0].DefRange, ctxRange, "Duplicate on_failure",
			"on_failure is set twice, as an argument and as a block. Keep the block and put the action in it: on_failure { retry { ... } then = %q }.", "continue"))
	case len(onBlocks) > 1:
		diags = append(diags, errorf(onBlocks[1].DefRange, ctxRange, "Duplicate on_failure",
			"A step has one on_failure block; the first one is at %s.", at(onBlocks[0].DefRange)))
	case onAttr != nil:
		if _, ds := l.checkRefs(onAttr.Expr, refScope{where: "the on_failure argument", static: true}, ctxRange); ds.HasErrors() {
			diags = append(diags, ds...)
			break
		}
		act, ds := failureAction(onAttr.Expr, static, ctxRange)
		diags = append(diags, ds...)
		st.OnFailure.Then = act
	case len(onBlocks) == 1:
		p, ds := l.failurePolicy(onBlocks[0], static)
		diags = append(diags, ds...)
		st.OnFailure = p
	}

	if a := attrs["timeout"]; a != nil {
		if _, ds := l.checkRefs(a.Expr, refScope{where: "the timeout argument", static: true}, ctxRange); ds.HasErrors() {
			return append(diags, ds...)
		}
		v, ds := a.Expr.Value(static)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			d, msg := durationValue(v)
			if msg != "" || v.IsNull() {
				diags = append(diags, errorf(a.Expr.Range(), ctxRange, "Invalid duration",
					"timeout %s. For example: timeout = \"30m\".", msg))
			}
			st.Timeout = d
		}
	}
	return diags
}

func failureAction(expr hcl.Expression, ctx *hcl.EvalContext, context *hcl.Range) (FailureAction, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return Abort, diags
	}
	s, err := convert.Convert(v, cty.String)
	if err == nil && !s.IsNull() {
		switch FailureAction(s.AsString()) {
		case Abort, Continue:
			return FailureAction(s.AsString()), nil
		}
		if s.AsString() == "retry" {
			return Abort, hcl.Diagnostics{errorf(expr.Range(), context, "Invalid on_failure",
				"Retries are written as a block:\n  on_failure {\n    retry {\n      attempts = 3\n      backoff  = \"30s\"\n    }\n    then = \"abort\"   # or \"continue\", once the attempts are used up\n  }")}
		}
	}
	return Abort, hcl.Diagnostics{errorf(expr.Range(), context, "Invalid on_failure",
		"on_failure is \"abort\" (stop the campaign and release what it holds), \"continue\" (let the steps that depend on this one run anyway) or an on_failure { retry { attempts = 3 } } block.")}
}

func (l *loader) failurePolicy(blk *hcl.Block, static *hcl.EvalContext) (FailurePolicy, hcl.Diagnostics) {
	p := FailurePolicy{Then: Abort}
	content, diags := blk.Body.Content(onFailureSpec.schema)
	if diags.HasErrors() {
		return p, diags
	}
	ctxRange := rangePtr(blk.DefRange)
	for _, a := range content.Attributes {
		if _, ds := l.checkRefs(a.Expr, refScope{where: "the on_failure argument", static: true}, ctxRange); ds.HasErrors() {
			return p, append(diags, ds...)
		}
	}
	if a := content.Attributes["then"]; a != nil {
		act, ds := failureAction(a.Expr, static, ctxRange)
		diags = append(diags, ds...)
		p.Then = act
	}
	for i, rb := range content.Blocks {
		if i > 0 {
			diags = append(diags, errorf(rb.DefRange, ctxRange, "Duplicate retry block", "on_failure has one retry block; the first one is at %s.", at(content.Blocks[0].DefRange)))
			break
		}
		rc, ds := rb.Body.Content(retrySpec.schema)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		diags = append(diags, missingArgs(retrySpec, rc, rb)...)
		for _, a := range rc.Attributes {
			if _, ds := l.checkRefs(a.Expr, refScope{where: "a retry block", static: true}, ctxRange); ds.HasErrors() {
				return p, append(diags, ds...)
			}
		}
		d := &decoder{ctx: static, files: l.c.files, c: l.c}
		b := &body{d: d, spec: retrySpec, content: rc, block: rb}
		r := &RetryPolicy{
			Attempts: b.whole("attempts", 1, 1, 100),
			Backoff:  b.duration("backoff", defaultBackoff),
		}
		diags = append(diags, d.diags...)
		p.Retry = r
	}
	return p, diags
}

// defaultBackoff is the wait before a step's second attempt.
const defaultBackoff = 10e9 // 10s

// expand turns the value of count or for_each into instances.
func (st *Step) expand(val cty.Value, rng hcl.Range) ([]Instance, hcl.Diagnostics) {
	ctxRange := rangePtr(st.DeclRange)
	bad := func(format string, args ...any) ([]Instance, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{errorf(rng, ctxRange, "Invalid "+st.metaName(), format, args...)}
	}
	if !val.IsWhollyKnown() {
		return bad("The %s of %s depends on values that are not known yet; the steps it reads must finish first.", st.metaName(), st.Address)
	}
	if val.IsNull() {
		return bad("%s must not be null.", st.metaName())
	}
	if st.Count != nil {
		n, err := convert.Convert(val, cty.Number)
		if err != nil {
			return bad("count is a number of instances, as in count = 3 or count = length(var.sizes); this value is %s.", friendlyType(val.Type()))
		}
		c, msg := wholeNumber(n, 0, MaxInstances)
		if msg != "" {
			return bad("count %s.", msg)
		}
		insts := make([]Instance, c)
		for i := range insts {
			insts[i] = Instance{Address: fmt.Sprintf("%s[%d]", st.Address, i), Key: cty.NumberIntVal(int64(i))}
		}
		return insts, nil
	}
	ty := val.Type()
	switch {
	case ty.IsMapType() || ty.IsObjectType():
	case ty.IsSetType():
		if !ty.ElementType().Equals(cty.String) {
			if conv, err := convert.Convert(val, cty.Set(cty.String)); err == nil {
				val, ty = conv, conv.Type()
			} else {
				return bad("for_each over a set needs a set of strings; this one is %s.", friendlyType(ty))
			}
		}
	case ty.IsListType() || ty.IsTupleType():
		return bad("for_each takes a map or a set of strings, whose keys name the instances. Convert this list with toset(...), or build a map.")
	default:
		return bad("for_each takes a map or a set of strings; this value is %s.", friendlyType(ty))
	}
	if n := val.LengthInt(); n > MaxInstances {
		return bad("for_each has %d elements, more than the %d instances a step may have.", n, MaxInstances)
	}
	var insts []Instance
	for it := val.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if ty.IsSetType() {
			if k.IsNull() {
				return bad("The set given to for_each contains null; every element must be a string.")
			}
			v = k
		}
		key := k.AsString()
		insts = append(insts, Instance{Address: fmt.Sprintf("%s[%q]", st.Address, key), Key: cty.StringVal(key), Each: v})
	}
	return insts, nil
}

func (st *Step) metaName() string {
	if st.Count != nil {
		return "count"
	}
	return "for_each"
}

func friendlyType(ty cty.Type) string {
	return strings.TrimPrefix(typeName(ty), "of type ")
}

// outputs checks the output blocks and their references.
func (l *loader) outputs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range l.outputBlocks {
		content, ds := b.Body.Content(outputSchema)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		o := &Output{Name: b.Labels[0], Expr: content.Attributes["value"].Expr, DeclRange: b.DefRange}
		if a := content.Attributes["description"]; a != nil {
			v, ds := a.Expr.Value(nil)
			diags = append(diags, ds...)
			if s, err := convert.Convert(v, cty.String); !ds.HasErrors() && (err != nil || s.IsNull()) {
				diags = append(diags, errorf(a.Expr.Range(), rangePtr(b.DefRange), "Invalid description", "A description is a string."))
			} else if !ds.HasErrors() {
				o.Description = s.AsString()
			}
		}
		refs, ds := l.checkRefs(o.Expr, refScope{where: "an output", steps: true}, rangePtr(b.DefRange))
		diags = append(diags, ds...)
		o.DependsOn = stepDeps(refs)
		l.c.Outputs = append(l.c.Outputs, o)
	}
	return diags
}

// graph sorts the steps topologically and reports dependency cycles.
func (l *loader) graph() hcl.Diagnostics {
	steps := l.c.Steps
	deps := make([][]int, len(steps))
	for i, st := range steps {
		for addr := range st.depRanges {
			deps[i] = append(deps[i], l.c.byAddr[addr].index)
		}
		sort.Ints(deps[i])
		st.DependsOn = make([]string, len(deps[i]))
		for j, d := range deps[i] {
			st.DependsOn[j] = steps[d].Address
		}
	}
	order, cyclic := topoOrder(len(steps), deps)
	var diags hcl.Diagnostics
	for _, c := range cycles(deps, cyclic) {
		path := make([]string, 0, len(c)+1)
		for _, i := range c {
			path = append(path, steps[i].Address)
		}
		path = append(path, path[0])
		first, next := steps[c[0]], steps[c[0]]
		if len(c) > 1 {
			next = steps[c[1]]
		}
		diags = append(diags, errorf(first.depRanges[next.Address], rangePtr(first.DeclRange), "Dependency cycle",
			"%s: each of these steps waits for the next one, so none of them can start. Remove one of the references or depends_on entries that close the loop.",
			strings.Join(path, " → ")))
	}
	if diags.HasErrors() {
		return diags
	}
	sorted := make([]*Step, len(order))
	for i, idx := range order {
		st := steps[idx]
		for _, d := range deps[idx] {
			st.Level = max(st.Level, steps[d].Level+1)
		}
		sorted[i] = st
	}
	l.c.Steps = sorted
	return nil
}
