package campaign

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// locals evaluates the local values in dependency order. Locals are known
// before the campaign starts: they may use variables, other locals and
// functions, but not the outputs of steps.
func (l *loader) locals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.localAttrs = map[string]*hcl.Attribute{}
	for _, b := range l.localsBlocks {
		attrs, ds := b.Body.JustAttributes()
		for _, d := range ds {
			if d.Summary == "Unexpected \"locals\" block" || strings.HasPrefix(d.Summary, "Unexpected") {
				d.Detail = "A locals block holds only name = value lines; blocks are not allowed in it."
			}
		}
		diags = append(diags, ds...)
		for name, a := range attrs {
			if prev := l.localAttrs[name]; prev != nil {
				diags = append(diags, errorf(a.NameRange, nil, "Duplicate local value",
					"local.%s is already defined at %s. Each local value is defined once; rename one of them.", name, at(prev.NameRange)))
				continue
			}
			l.localAttrs[name] = a
		}
	}
	if diags.HasErrors() {
		return diags
	}
	names := sortedKeys(l.localAttrs)
	sort.SliceStable(names, func(i, j int) bool {
		a, b := l.localAttrs[names[i]].Range, l.localAttrs[names[j]].Range
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	deps := make([][]int, len(names))
	depRange := make([]map[int]hcl.Range, len(names))
	for i, name := range names {
		refs, ds := l.checkRefs(l.localAttrs[name].Expr, refScope{where: "a local value"}, rangePtr(l.localAttrs[name].Range))
		diags = append(diags, ds...)
		depRange[i] = map[int]hcl.Range{}
		for _, r := range refs {
			if r.root != "local" {
				continue
			}
			j := index[r.name]
			if _, dup := depRange[i][j]; !dup {
				depRange[i][j] = r.rng
				deps[i] = append(deps[i], j)
			}
		}
	}
	if diags.HasErrors() {
		return diags
	}
	order, cyclic := topoOrder(len(names), deps)
	for _, c := range cycles(deps, cyclic) {
		path := make([]string, 0, len(c)+1)
		for _, i := range c {
			path = append(path, "local."+names[i])
		}
		path = append(path, path[0])
		next := c[0]
		if len(c) > 1 {
			next = c[1]
		}
		diags = append(diags, errorf(depRange[c[0]][next], rangePtr(l.localAttrs[names[c[0]]].Range), "Cycle in local values",
			"%s: each of these local values needs the next one to be computed first. Break the cycle by computing one of them from variables only.",
			strings.Join(path, " → ")))
	}
	if diags.HasErrors() {
		return diags
	}
	vals := make([]cty.Value, len(names))
	for _, i := range order {
		own := map[string]cty.Value{}
		for _, j := range deps[i] {
			own[names[j]] = vals[j]
		}
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": l.c.varsVal, "local": cty.ObjectVal(own)},
			Functions: l.c.funcs,
		}
		v, ds := l.localAttrs[names[i]].Expr.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			// Later locals would report the same error again through this one.
			return diags
		}
		vals[i] = v
		l.c.Locals[names[i]] = v
	}
	l.c.localsVal = cty.ObjectVal(l.c.Locals)
	return diags
}

// static is the loader's staticContext, built once the locals are known:
// the checks of every step evaluate in it, and none of them changes it.
func (l *loader) static() *hcl.EvalContext {
	if l.staticCtx == nil {
		l.staticCtx = l.c.staticContext()
	}
	return l.staticCtx
}

// staticContext evaluates expressions known before the campaign starts.
func (c *Campaign) staticContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": c.varsVal, "local": c.localsVal},
		Functions: c.funcs,
	}
}
