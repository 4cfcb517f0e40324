package campaign

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// varDecl is a variable while it is being loaded.
type varDecl struct {
	v           *Variable
	defaults    *typeexpr.Defaults
	validations []validation
	valueRange  hcl.Range // where the value in force was written
	given       bool      // a value was given, good or bad
}

type validation struct {
	condition, message hcl.Expression
	block              hcl.Range
}

// variables decodes the variable blocks, resolves their values and runs
// their validation rules.
func (l *loader) variables() hcl.Diagnostics {
	var diags hcl.Diagnostics
	decls := map[string]*varDecl{}
	var order []string
	for _, b := range l.variableBlocks {
		// Declared first, so that validation rules can name them all.
		l.c.Variables[b.Labels[0]] = &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	}
	for _, b := range l.variableBlocks {
		d, ds := l.decodeVariable(b)
		diags = append(diags, ds...)
		decls[d.v.Name] = d
		order = append(order, d.v.Name)
	}
	if diags.HasErrors() {
		return diags
	}
	// Bad values and missing values are reported together: both are fixed
	// on the same command line.
	diags = append(diags, l.inputValues(decls)...)
	vals := map[string]cty.Value{}
	for _, name := range order {
		d := decls[name]
		if d.v.Value == cty.NilVal && !d.given {
			diags = append(diags, errorf(d.v.DeclRange, nil, "No value for required variable",
				"var.%s has no default and no value was given. Set it with -var %s=<value>, in a var file, or with the environment variable %s%s; or give the variable a default.",
				name, name, EnvPrefix, name))
			continue
		}
		if d.v.Value != cty.NilVal {
			vals[name] = d.v.Value
		}
	}
	if diags.HasErrors() {
		return diags
	}
	for _, name := range order {
		diags = append(diags, l.validateVariable(decls[name])...)
	}
	l.c.varsVal = cty.ObjectVal(vals)
	return diags
}

func (l *loader) decodeVariable(b *hcl.Block) (*varDecl, hcl.Diagnostics) {
	d := &varDecl{v: l.c.Variables[b.Labels[0]]}
	content, diags := b.Body.Content(variableSchema)
	if a := content.Attributes["description"]; a != nil {
		val, ds := a.Expr.Value(nil)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			if s, err := convert.Convert(val, cty.String); err != nil || s.IsNull() {
				diags = append(diags, errorf(a.Expr.Range(), rangePtr(a.Range), "Invalid description",
					"A description is a string, as in description = \"Number of nodes per site\"."))
			} else {
				d.v.Description = s.AsString()
			}
		}
	}
	if a := content.Attributes["type"]; a != nil {
		ty, defaults, ds := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, ds...)
		d.v.Type, d.defaults = ty, defaults
	}
	if a := content.Attributes["default"]; a != nil {
		val, ds := a.Expr.Value(nil)
		for _, x := range ds {
			if x.Summary == "Variables not allowed" || x.Summary == "Function calls not allowed" {
				x.Detail = "A default must be a literal value: it is read before variables, locals and functions exist. Compute derived values in a locals block."
			}
		}
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			conv, err := d.convert(val)
			if err != nil {
				diags = append(diags, errorf(a.Expr.Range(), rangePtr(a.Range), "Invalid default value for variable",
					"The default of var.%s does not match its type %s: %s.", d.v.Name, typeexpr.TypeString(d.v.Type), err))
			} else {
				d.v.Default, d.v.Value, d.v.Source, d.valueRange = conv, conv, "default", a.Expr.Range()
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, ds := vb.Body.Content(validationSchema)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		sc := refScope{where: "a validation rule", selfVar: d.v.Name}
		for _, name := range []string{"condition", "error_message"} {
			_, ds := l.checkRefs(vc.Attributes[name].Expr, sc, rangePtr(vb.DefRange))
			diags = append(diags, ds...)
		}
		d.validations = append(d.validations, validation{
			condition: vc.Attributes["condition"].Expr,
			message:   vc.Attributes["error_message"].Expr,
			block:     vb.DefRange,
		})
	}
	return d, diags
}

func (d *varDecl) convert(val cty.Value) (cty.Value, error) {
	if d.defaults != nil {
		val = d.defaults.Apply(val)
	}
	return convert.Convert(val, d.v.Type)
}

// inputValues applies, lowest precedence first: the environment, the var
// files in order, then -var.
func (l *loader) inputValues(decls map[string]*varDecl) hcl.Diagnostics {
	var diags hcl.Diagnostics
	set := func(d *varDecl, val cty.Value, rng hcl.Range, source string) {
		d.given = true
		conv, err := d.convert(val)
		if err != nil {
			diags = append(diags, errorf(rng, nil, "Invalid value for variable",
				"The value given for var.%s (from %s) does not match its type %s: %s.",
				d.v.Name, source, typeexpr.TypeString(d.v.Type), err))
			return
		}
		d.v.Value, d.v.Source, d.valueRange = conv, source, rng
	}

	env := append([]string(nil), l.in.Env...)
	sort.Strings(env)
	for _, kv := range env {
		k, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		d := decls[strings.TrimPrefix(k, EnvPrefix)]
		if d == nil {
			continue // the environment is shared with other programs
		}
		val, rng, ds := l.rawValue(d, raw, "<env "+k+">")
		d.given = true
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			set(d, val, rng, "the environment variable "+k)
		}
	}

	for _, path := range l.in.VarFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, errorf(hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}, nil,
				"Cannot read var file", "%v. Check the path given to -var-file.", err))
			continue
		}
		var file *hcl.File
		var ds hcl.Diagnostics
		if pd := prescan(src, path); pd.HasErrors() {
			diags = append(diags, pd...)
			continue
		}
		if strings.HasSuffix(path, ".json") {
			file, ds = l.p.hp.ParseJSON(src, path)
		} else {
			file, ds = l.p.hp.ParseHCL(src, path)
		}
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		attrs, ds := file.Body.JustAttributes()
		diags = append(diags, ds...)
		names := sortedKeys(attrs)
		sort.SliceStable(names, func(i, j int) bool {
			return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte
		})
		for _, name := range names {
			a := attrs[name]
			d := decls[name]
			if d == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Value for undeclared variable",
					Detail: fmt.Sprintf("The campaign declares no variable %q, so this value is ignored.%s Var files may be shared between campaigns, so this is only a warning.",
						name, didYouMean(name, sortedKeys(decls))),
					Subject: rangePtr(a.NameRange),
				})
				continue
			}
			val, ds := a.Expr.Value(nil)
			d.given = true
			diags = append(diags, ds...)
			if !ds.HasErrors() {
				set(d, val, a.Expr.Range(), path)
			}
		}
	}

	for _, name := range sortedKeys(l.in.Vars) {
		raw := l.in.Vars[name]
		d := decls[name]
		if d == nil {
			file := "<-var " + name + ">"
			src := []byte(name + "=" + raw)
			l.p.hp.AddFile(file, &hcl.File{Bytes: src, Body: hcl.EmptyBody()})
			diags = append(diags, errorf(hcl.Range{Filename: file, Start: hcl.InitialPos, End: endPos(src[:len(name)])}, nil,
				"Value for undeclared variable",
				"-var sets %q, but the campaign declares no such variable.%s Declare it with a variable %q block, or remove the -var.",
				name, didYouMean(name, sortedKeys(decls)), name))
			continue
		}
		val, rng, ds := l.rawValue(d, raw, "<-var "+name+">")
		d.given = true
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			set(d, val, rng, "-var")
		}
	}
	return diags
}

// rawValue interprets a value from -var or the environment. The text is kept
// as a pseudo-file so that diagnostics can show it.
func (l *loader) rawValue(d *varDecl, raw, file string) (cty.Value, hcl.Range, hcl.Diagnostics) {
	src := []byte(raw)
	l.p.hp.AddFile(file, &hcl.File{Bytes: src, Body: hcl.EmptyBody()})
	rng := hcl.Range{Filename: file, Start: hcl.InitialPos, End: endPos(src)}
	if ty := d.v.Type; ty.IsPrimitiveType() {
		return cty.StringVal(raw), rng, nil // convert turns "4" into 4 and "true" into true
	}
	if diags := prescan(src, file); diags.HasErrors() {
		return cty.NilVal, rng, diags
	}
	expr, diags := hclsyntax.ParseExpression(src, file, hcl.InitialPos)
	if !diags.HasErrors() {
		var val cty.Value
		val, diags = expr.Value(nil)
		if !diags.HasErrors() {
			return val, rng, nil
		}
	}
	if d.v.Type == cty.DynamicPseudoType {
		return cty.StringVal(raw), rng, nil // "any": a bare word is a string
	}
	for _, x := range diags {
		x.Detail += fmt.Sprintf(" A value for var.%s, of type %s, is written as an HCL expression, as in -var '%s=%s'.",
			d.v.Name, typeexpr.TypeString(d.v.Type), d.v.Name, exampleFor(d.v.Type))
	}
	return cty.NilVal, rng, diags
}

func exampleFor(ty cty.Type) string {
	switch {
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType():
		return `["a", "b"]`
	case ty.IsMapType(), ty.IsObjectType():
		return `{ a = 1 }`
	}
	return `"text"`
}

func endPos(src []byte) hcl.Pos {
	p := hcl.Pos{Line: 1, Column: 1, Byte: len(src)}
	for _, c := range string(src) {
		if c == '\n' {
			p.Line++
			p.Column = 1
		} else {
			p.Column++
		}
	}
	return p
}

// validateVariable runs the validation blocks of one variable.
func (l *loader) validateVariable(d *varDecl) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{d.v.Name: d.v.Value})},
		Functions: l.c.funcs,
	}
	for _, v := range d.validations {
		ok, ds := v.condition.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		ok, err := convert.Convert(ok, cty.Bool)
		if err != nil || ok.IsNull() || !ok.IsKnown() {
			diags = append(diags, errorf(v.condition.Range(), rangePtr(v.block), "Invalid validation condition",
				"A condition must be true or false, as in condition = var.nodes > 0."))
			continue
		}
		if ok.True() {
			continue
		}
		msg, ds := v.message.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		msg, err = convert.Convert(msg, cty.String)
		if err != nil || msg.IsNull() || !msg.IsKnown() {
			diags = append(diags, errorf(v.message.Range(), rangePtr(v.block), "Invalid error message",
				"error_message must be a string that says what a good value is."))
			continue
		}
		diags = append(diags, errorf(d.valueRange, nil, "Invalid value for variable",
			"%s\n\nThis was checked by the validation rule of var.%s at %s.", msg.AsString(), d.v.Name, at(v.block)))
	}
	return diags
}
