package campaign

import (
	"fmt"
	"math/big"
	"time"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder evaluates the arguments of one step instance. The same code runs
// during validation, where other steps' outputs are unknown, and at run time.
type decoder struct {
	ctx   *hcl.EvalContext
	files map[string]*hcl.File
	inv   Inventory // nil at run time and when the caller gave none
	c     *Campaign
	diags hcl.Diagnostics
	pend  *pending
}

// decodeStep decodes one instance of st in ctx, in which count and each are already set.
func decodeStep(st *Step, ctx *hcl.EvalContext, inv Inventory) (Spec, hcl.Diagnostics) {
	spec := stepSpecs[st.Kind]
	content, diags := st.campaign.content(st.Body, spec.schema)
	if diags.HasErrors() {
		return nil, diags
	}
	d := &decoder{ctx: ctx, files: st.campaign.files, inv: inv, c: st.campaign}
	b := &body{d: d, spec: spec, content: content, block: st.block}
	var out Spec
	switch st.Kind {
	case KindReservation:
		out = d.reservation(b)
	case KindDeployment:
		out = d.deployment(b)
	case KindTransfer:
		out = d.transfer(b)
	case KindContainer:
		out = d.container(b)
	case KindRun:
		out = d.run(b)
	case KindJob:
		out = d.job(b)
	}
	return out, append(diags, d.diags...)
}

// body is one block being decoded.
type body struct {
	d       *decoder
	spec    *blockSpec
	content *hcl.BodyContent
	block   *hcl.Block
	prefix  string // "files[0]." for nested blocks, for pending names
}

func (b *body) context() *hcl.Range {
	if b.block == nil {
		return nil
	}
	r := b.block.DefRange
	return &r
}

func (b *body) errorf(subject hcl.Range, summary, format string, args ...any) {
	b.d.diags = append(b.d.diags, errorf(subject, b.context(), summary, format, args...))
}

// nested returns the decoders of the nested blocks of a type.
func (b *body) nested(typ string) []*body {
	var spec *blockSpec
	for _, s := range b.spec.blocks {
		if s.name == typ {
			spec = s
		}
	}
	var out []*body
	for _, blk := range b.content.Blocks {
		if blk.Type != typ {
			continue
		}
		c, diags := b.d.c.content(blk.Body, spec.schema)
		b.d.diags = append(b.d.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		prefix := b.prefix + typ + "."
		if spec.many {
			prefix = fmt.Sprintf("%s%s[%d].", b.prefix, typ, len(out))
		}
		out = append(out, &body{d: b.d, spec: spec, content: c, block: blk, prefix: prefix})
	}
	return out
}

// value evaluates an argument and converts it to its declared type. It
// returns ok only for a wholly known, non-null value without errors; an
// unknown value is recorded as pending.
func (b *body) value(name string) (cty.Value, *hcl.Attribute, bool) {
	a := b.content.Attributes[name]
	if a == nil {
		return cty.NilVal, nil, false
	}
	spec := b.spec.attr(name)
	v, diags := a.Expr.Value(b.d.ctx)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, a, false
	}
	if spec.ty != cty.DynamicPseudoType {
		conv, err := convert.Convert(v, spec.ty)
		if err != nil {
			b.errorf(a.Expr.Range(), "Incorrect value type",
				"%s must be %s: %s. For example: %s", name, typeName(spec.ty), err, spec.example)
			return cty.NilVal, a, false
		}
		v = conv
	}
	if !v.IsWhollyKnown() {
		if b.d.pend == nil {
			b.d.pend = &pending{}
		}
		b.d.pend.args = append(b.d.pend.args, PendingArg{Name: b.prefix + name, Expr: b.d.source(a.Expr.Range())})
		return v, a, false
	}
	if v.IsNull() {
		if spec.required {
			b.errorf(a.Expr.Range(), "Missing value", "%s must not be null. For example: %s", name, spec.example)
		}
		return v, a, false
	}
	return v, a, true
}

func typeName(ty cty.Type) string {
	switch ty {
	case cty.String:
		return "a string"
	case cty.Number:
		return "a number"
	case cty.Bool:
		return "true or false"
	}
	return "of type " + typeexpr.TypeString(ty)
}

// source returns the text of an expression, for pending arguments.
func (d *decoder) source(r hcl.Range) string {
	if f := d.files[r.Filename]; f != nil && r.End.Byte <= len(f.Bytes) && r.Start.Byte <= r.End.Byte {
		return oneLine(string(f.Bytes[r.Start.Byte:r.End.Byte]), 80)
	}
	return "?"
}

func (b *body) str(name string) (string, *hcl.Attribute, bool) {
	v, a, ok := b.value(name)
	if !ok {
		return "", a, false
	}
	return v.AsString(), a, true
}

func (b *body) boolean(name string, def bool) bool {
	v, _, ok := b.value(name)
	if !ok {
		return def
	}
	return v.True()
}

// whole reads a whole number in [min, max].
func (b *body) whole(name string, def, min, max int) int {
	v, a, ok := b.value(name)
	if !ok {
		return def
	}
	n, err := wholeNumber(v, min, max)
	if err != "" {
		b.errorf(a.Expr.Range(), "Invalid "+name, "%s %s. For example: %s", name, err, b.spec.attr(name).example)
		return def
	}
	return n
}

// wholeNumber checks a known number; the error says what is wrong with it.
func wholeNumber(v cty.Value, min, max int) (int, string) {
	if v.IsNull() {
		return 0, "must not be null"
	}
	if v.Type() != cty.Number {
		return 0, "must be a number"
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Sprintf("must be a whole number, not %s", bf.Text('f', -1))
	}
	if bf.Cmp(big.NewFloat(float64(min))) < 0 || bf.Cmp(big.NewFloat(float64(max))) > 0 {
		return 0, fmt.Sprintf("must be between %d and %d, not %s", min, max, bf.Text('f', -1))
	}
	n, _ := bf.Int64()
	return int(n), ""
}

func (b *body) strList(name string) []string {
	v, _, ok := b.value(name)
	if !ok {
		return nil
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			b.errorf(b.content.Attributes[name].Expr.Range(), "Null element in "+name, "%s must not contain null values.", name)
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

func (b *body) strMap(name string) (map[string]string, *hcl.Attribute) {
	v, a, ok := b.value(name)
	if !ok {
		return nil, a
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			b.errorf(a.Expr.Range(), "Null value in "+name, "The value of %q in %s is null; give it a string.", k.AsString(), name)
			continue
		}
		out[k.AsString()] = e.AsString()
	}
	return out, a
}

// duration reads a duration written "2h", "01:30:00" or as a number of seconds.
func (b *body) duration(name string, def time.Duration) time.Duration {
	v, a, ok := b.value(name)
	if !ok {
		return def
	}
	d, err := durationValue(v)
	if err != "" {
		b.errorf(a.Expr.Range(), "Invalid duration", "%s %s. For example: %s", name, err, b.spec.attr(name).example)
		return def
	}
	return d
}

func durationValue(v cty.Value) (time.Duration, string) {
	if v.IsNull() {
		return 0, "must not be null"
	}
	switch v.Type() {
	case cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f <= 0 || f > float64(100*365*24*3600) {
			return 0, "must be a positive number of seconds, at most a century"
		}
		return time.Duration(f * float64(time.Second)), ""
	case cty.String:
		d, err := units.ParseDuration(v.AsString())
		if err != nil {
			return 0, "is not a duration: " + err.Error()
		}
		if d <= 0 {
			return 0, "must be longer than zero"
		}
		return d, ""
	}
	return 0, "must be a duration such as \"2h\", \"90m\", \"01:30:00\" or a number of seconds"
}

// missingArgs reports required arguments that are absent; it runs in the
// structural phase, before any value is evaluated.
func missingArgs(spec *blockSpec, content *hcl.BodyContent, blk *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range spec.attrs {
		if a.required && content.Attributes[a.name] == nil {
			diags = append(diags, errorf(blk.DefRange, rangePtr(blk.DefRange), fmt.Sprintf("Missing required argument %q", a.name),
				"%s needs the argument %s, for example: %s", blockWhat(blk.Type), a.name, a.example))
		}
	}
	return diags
}

// blockWhat names a block in a message: "A run block", "An init block".
func blockWhat(blockType string) string {
	return capitalize(article(blockType)) + " " + blockType + " block"
}

// finish attaches the pending arguments to a spec.
func (d *decoder) finish() pending {
	if d.pend == nil {
		return pending{}
	}
	return *d.pend
}
