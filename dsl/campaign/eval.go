package campaign

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// check is the last phase: every step instance and every output is
// evaluated with the outputs of steps standing in as unknown values of their
// types, which type-checks them and checks every value known before the run.
func (l *loader) check() hcl.Diagnostics {
	ctx := l.c.validationContext()
	var diags hcl.Diagnostics
	budget := maxCheckedInstances
	for _, st := range l.c.Steps {
		diags = append(diags, l.checkInstances(st, ctx, &budget)...)
	}
	for _, o := range l.c.Outputs {
		_, ds := o.Expr.Value(ctx)
		diags = append(diags, ds...)
	}
	return diags
}

func (l *loader) checkInstances(st *Step, ctx *hcl.EvalContext, budget *int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch {
	case !st.Expanded():
		spec, ds := decodeStep(st, ctx, l.in.Inventory)
		st.StaticInstances = []Instance{{Address: st.Address, Spec: spec}}
		return ds
	case st.expandable && len(st.StaticInstances) > 0 && len(st.StaticInstances) <= *budget:
		*budget -= len(st.StaticInstances)
		seen := map[string]bool{}
		for i := range st.StaticInstances {
			inst := &st.StaticInstances[i]
			spec, ds := decodeStep(st, st.instanceContext(ctx, *inst), l.in.Inventory)
			inst.Spec = spec
			for _, d := range ds {
				k := fmt.Sprintf("%s|%s|%v", d.Summary, d.Detail, d.Subject)
				if seen[k] {
					continue
				}
				seen[k] = true
				d.Detail += fmt.Sprintf(" (in %s)", inst.Address)
				diags = append(diags, d)
			}
		}
		return diags
	case !st.expandable && st.Expanded():
		// Expanded at run time: check that count or for_each has the right
		// type, then the body once, for an instance yet unknown.
		expr := st.Count
		if expr == nil {
			expr = st.ForEach
		}
		v, ds := expr.Value(ctx)
		diags = append(diags, ds...)
		if !ds.HasErrors() && v.IsWhollyKnown() {
			_, ds = st.expand(v, expr.Range())
			diags = append(diags, ds...)
		} else if !ds.HasErrors() {
			diags = append(diags, st.checkExpansionType(v, expr.Range())...)
		}
	}
	spec, ds := decodeStep(st, st.instanceContext(ctx, Instance{}), l.in.Inventory)
	if !st.expandable {
		st.template = spec
	}
	for i := range st.StaticInstances {
		st.StaticInstances[i].Spec = spec
	}
	return append(diags, ds...)
}

// checkExpansionType checks the type of an unknown count or for_each value.
func (st *Step) checkExpansionType(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	ty := v.Type()
	if ty == cty.DynamicPseudoType {
		return nil
	}
	ok := true
	if st.Count != nil {
		_, err := convert.Convert(cty.UnknownVal(ty), cty.Number)
		ok = err == nil
	} else {
		ok = ty.IsMapType() || ty.IsObjectType() || ty.IsSetType()
	}
	if ok {
		return nil
	}
	what := "count is a number of instances, as in count = length(reservation.exp.nodes)"
	if st.ForEach != nil {
		what = "for_each takes a map or a set of strings, as in for_each = toset(reservation.exp.nodes)"
	}
	return hcl.Diagnostics{errorf(rng, rangePtr(st.DeclRange), "Invalid "+st.metaName(),
		"%s; this value is %s.", what, friendlyType(ty))}
}

// instanceContext adds count.index or each.key/each.value for one instance.
// A zero Instance stands for an instance not known yet.
func (st *Step) instanceContext(parent *hcl.EvalContext, inst Instance) *hcl.EvalContext {
	if !st.Expanded() {
		return parent
	}
	ctx := parent.NewChild()
	if st.Count != nil {
		idx := inst.Key
		if idx == cty.NilVal {
			idx = cty.UnknownVal(cty.Number)
		}
		ctx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": idx})}
		return ctx
	}
	key, val := inst.Key, inst.Each
	if key == cty.NilVal {
		key, val = cty.UnknownVal(cty.String), cty.DynamicVal
	}
	ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": key, "value": val})}
	return ctx
}

// validationContext stands every step's outputs in as unknown values. The
// outputs of a step expanded with a known count or for_each become a list or
// map of the right length, so that run.bench[7] on a count of 3 is caught.
func (c *Campaign) validationContext() *hcl.EvalContext {
	shaped := 0
	return c.context(func(st *Step) cty.Value {
		obj := OutputType(st.Kind)
		if !st.Expanded() {
			return cty.UnknownVal(obj)
		}
		if !st.expandable || shaped+len(st.StaticInstances) > maxShapedInstances {
			return unknownCollection(st)
		}
		shaped += len(st.StaticInstances)
		if st.Count != nil {
			if len(st.StaticInstances) == 0 {
				return cty.ListValEmpty(obj)
			}
			elems := make([]cty.Value, len(st.StaticInstances))
			for i := range elems {
				elems[i] = cty.UnknownVal(obj)
			}
			return cty.ListVal(elems)
		}
		if len(st.StaticInstances) == 0 {
			return cty.MapValEmpty(obj)
		}
		elems := make(map[string]cty.Value, len(st.StaticInstances))
		for _, inst := range st.StaticInstances {
			elems[inst.Key.AsString()] = cty.UnknownVal(obj)
		}
		return cty.MapVal(elems)
	})
}

func unknownCollection(st *Step) cty.Value {
	obj := OutputType(st.Kind)
	if st.Count != nil {
		return cty.UnknownVal(cty.List(obj))
	}
	return cty.UnknownVal(cty.Map(obj))
}

func (c *Campaign) context(stepValue func(*Step) cty.Value) *hcl.EvalContext {
	byKind := map[Kind]map[string]cty.Value{}
	for _, st := range c.Steps {
		if byKind[st.Kind] == nil {
			byKind[st.Kind] = map[string]cty.Value{}
		}
		byKind[st.Kind][st.Name] = stepValue(st)
	}
	ctx := c.staticContext()
	for _, k := range Kinds {
		ctx.Variables[string(k)] = cty.ObjectVal(byKind[k])
	}
	return ctx
}

// EvalContext returns the context in which the engine evaluates step bodies
// (through Expand and Decode) and outputs at run time. outputs maps step
// addresses ("reservation.exp") to what they recorded: an object of
// OutputType(kind) for a single step, or the value of Step.OutputValue for
// an expanded one. Steps not in outputs are unknown; a Spec decoded from
// them lists the arguments that read them in Pending.
func (c *Campaign) EvalContext(outputs map[string]cty.Value) *hcl.EvalContext {
	return c.context(func(st *Step) cty.Value {
		if v, ok := outputs[st.Address]; ok && v != cty.NilVal {
			return v
		}
		if st.Expanded() {
			return unknownCollection(st)
		}
		return cty.UnknownVal(OutputType(st.Kind))
	})
}

// Expand evaluates count or for_each in ctx and returns the step's
// instances: one for a step with neither.
func (st *Step) Expand(ctx *hcl.EvalContext) ([]Instance, hcl.Diagnostics) {
	if !st.Expanded() {
		return []Instance{{Address: st.Address}}, nil
	}
	expr := st.Count
	if expr == nil {
		expr = st.ForEach
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	return st.expand(v, expr.Range())
}

// Decode evaluates the step's arguments for one instance returned by Expand.
// The Spec is one of *ReservationSpec, *DeploymentSpec, *TransferSpec,
// *ContainerSpec and *RunSpec.
func (st *Step) Decode(ctx *hcl.EvalContext, inst Instance) (Spec, hcl.Diagnostics) {
	return decodeStep(st, st.instanceContext(ctx, inst), nil)
}

// OutputValue assembles what the instances of a step recorded (outs[i] for
// insts[i], each an object of OutputType) into the value other expressions
// see: the object itself for a single step, a list for count, a map by key
// for for_each.
func (st *Step) OutputValue(insts []Instance, outs []cty.Value) (cty.Value, error) {
	if len(insts) != len(outs) {
		return cty.NilVal, fmt.Errorf("%s: %d instances but %d outputs", st.Address, len(insts), len(outs))
	}
	obj := OutputType(st.Kind)
	conv := make([]cty.Value, len(outs))
	for i, o := range outs {
		v, err := convert.Convert(o, obj)
		if err != nil {
			return cty.NilVal, fmt.Errorf("outputs of %s: %w", insts[i].Address, err)
		}
		conv[i] = v
	}
	switch {
	case !st.Expanded():
		if len(conv) != 1 {
			return cty.NilVal, fmt.Errorf("%s is a single step but has %d outputs", st.Address, len(conv))
		}
		return conv[0], nil
	case st.Count != nil:
		if len(conv) == 0 {
			return cty.ListValEmpty(obj), nil
		}
		return cty.ListVal(conv), nil
	}
	if len(conv) == 0 {
		return cty.MapValEmpty(obj), nil
	}
	m := make(map[string]cty.Value, len(conv))
	for i, inst := range insts {
		if inst.Key == cty.NilVal || inst.Key.Type() != cty.String {
			return cty.NilVal, fmt.Errorf("%s: instance %d has no for_each key", st.Address, i)
		}
		m[inst.Key.AsString()] = conv[i]
	}
	return cty.MapVal(m), nil
}
