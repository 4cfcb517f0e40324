package testbed

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gridflow/gridflow/dsl/units"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// examples shows, in Details, how each argument is written.
var examples = map[string]string{
	"name":         `name = "Rennes"`,
	"description":  `description = "Nodes with 10G Ethernet"`,
	"location":     `location = "Rennes, France"`,
	"latitude":     `latitude = 48.1147`,
	"longitude":    `longitude = -1.6794`,
	"model":        `model = "Dell PowerEdge R630"`,
	"queues":       `queues = ["default", "besteffort"]`,
	"boot_time":    `boot_time = "90s"`,
	"deploy_time":  `deploy_time = "4m"`,
	"copy_rate":    `copy_rate = "10Gbps"`,
	"failure_rate": `failure_rate = 0.01`,
	"seed":         `seed = 7`,
	"agents":       `agents = { "node-1" = "127.0.0.2:7070" }`,
	"count":        `count = 72`,
	"first":        `first = 1`,
	"cores":        `cores = 16`,
	"cpu_model":    `cpu_model = "Intel Xeon E5-2630 v3"`,
	"memory":       `memory = "128GiB"`,
	"disk":         `disk = "600GB"`,
	"network":      `network = "10Gbps"`,
	"gpu.count":    `count = 2`,
	"gpu.model":    `model = "NVIDIA Tesla V100"`,
}

// example returns the example sentence for an argument of the block being
// decoded.
func (d *decoder) example(name string) string {
	e, ok := examples[d.scope+"."+name]
	if !ok {
		e, ok = examples[name]
	}
	if ok {
		return " For example: " + e + "."
	}
	return ""
}

// decoder accumulates the diagnostics of one parse.
type decoder struct {
	diags hcl.Diagnostics
	scope string // block type whose arguments have their own examples ("gpu")
}

// sortFrom orders the diagnostics from index i on by position, so that a
// phase reports top to bottom whatever order its checks ran in.
func (d *decoder) sortFrom(i int) {
	tail := d.diags[i:]
	sort.SliceStable(tail, func(a, b int) bool {
		sa, sb := tail[a].Subject, tail[b].Subject
		if sa == nil || sb == nil {
			return sa != nil
		}
		if sa.Filename != sb.Filename {
			return sa.Filename < sb.Filename
		}
		return sa.Start.Byte < sb.Start.Byte
	})
}

func (d *decoder) errorf(subject hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject.Ptr(),
	})
}

func (d *decoder) warnf(subject hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject.Ptr(),
	})
}

// invalid reports a bad value of attr, pointing at its expression.
func (d *decoder) invalid(attr *hcl.Attribute, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", attr.Name),
		Detail:   fmt.Sprintf(detail, args...) + d.example(attr.Name),
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.Range.Ptr(),
	})
}

// eval evaluates an expression with no variables and no functions, refusing
// the dynamic constructs whose cost grows faster than the source (for
// expressions over literal lists can multiply).
func (d *decoder) eval(expr hcl.Expression) (cty.Value, bool) {
	if !d.static(expr) {
		return cty.NilVal, false
	}
	v, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown value",
			Detail:   "The value cannot be known when the testbed is read: write it literally.",
			Subject:  expr.Range().Ptr(),
		})
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

// static reports, and refuses, the dynamic constructs in expr.
func (d *decoder) static(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return true
	}
	var dyn hcl.Diagnostics
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if len(dyn) > 0 {
			return nil
		}
		switch n := n.(type) {
		case *hclsyntax.LiteralValueExpr:
			// Formatting a number, for a template, a string argument or a
			// message, costs time linear in its exponent: 1e999999999 would
			// take minutes. Bounded literals and MaxOperators bound every
			// number an expression can compute.
			if v := n.Val; v.Type() == cty.Number && v.IsKnown() && !v.IsNull() && !saneNumber(v.AsBigFloat()) {
				dyn = append(dyn, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Number out of range",
					Detail:   "Numbers in a testbed file lie between 1e-38 and 1e38 in magnitude, or are 0; check this one for a typo.",
					Subject:  n.Range().Ptr(),
				})
			}
		case *hclsyntax.ForExpr, *hclsyntax.SplatExpr:
			dyn = append(dyn, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dynamic expression not allowed",
				Detail:   "A testbed file describes fixed hardware: write the value literally. For and splat expressions are not available here; use a nodes block with count and a name pattern to declare many nodes.",
				Subject:  n.Range().Ptr(),
			})
		}
		return nil
	})
	d.diags = append(d.diags, dyn...)
	return len(dyn) == 0
}

// maxNumberExp bounds the binary exponent of number literals (2^128 ≈ 3.4e38).
const maxNumberExp = 128

func saneNumber(f *big.Float) bool {
	if f.IsInf() {
		return false
	}
	if f.Sign() == 0 {
		return true
	}
	e := f.MantExp(nil)
	return e >= -maxNumberExp && e <= maxNumberExp
}

// numText formats f for a message without the cost of expanding a huge
// exponent into digits.
func numText(f *big.Float) string {
	if f.IsInf() || f.MantExp(nil) > 4*maxNumberExp {
		return "a number too large to write here"
	}
	if f.Sign() != 0 && f.MantExp(nil) < -4*maxNumberExp {
		return "a number too small to write here"
	}
	return f.Text('g', 10)
}

// value evaluates attr and refuses null, which is never meaningful here.
func (d *decoder) value(attr *hcl.Attribute) (cty.Value, bool) {
	v, ok := d.eval(attr.Expr)
	if !ok {
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.invalid(attr, "The argument %q cannot be null: set a value, or remove the argument to use its default.", attr.Name)
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) str(attr *hcl.Attribute) (string, bool) {
	v, ok := d.value(attr)
	if !ok {
		return "", false
	}
	return d.asString(attr.Name, attr.Expr.Range(), attr.Range, v)
}

func (d *decoder) asString(name string, subject, context hcl.Range, v cty.Value) (string, bool) {
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for %q", name),
			Detail:   fmt.Sprintf("A string is required, not %s.%s", v.Type().FriendlyName(), d.example(name)),
			Subject:  subject.Ptr(),
			Context:  context.Ptr(),
		})
		return "", false
	}
	return s.AsString(), true
}

// number evaluates attr as a number; it returns the exact value for range
// checks and whole-number tests.
func (d *decoder) number(attr *hcl.Attribute) (*big.Float, bool) {
	v, ok := d.value(attr)
	if !ok {
		return nil, false
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		d.invalid(attr, "A number is required, not %s.", v.Type().FriendlyName())
		return nil, false
	}
	return n.AsBigFloat(), true
}

// integer evaluates attr as a whole number in [lo, hi]; what is the noun used
// in the detail ("count", "number of cores").
func (d *decoder) integer(attr *hcl.Attribute, lo, hi int64, what string) (int64, bool) {
	f, ok := d.number(attr)
	if !ok {
		return 0, false
	}
	if !f.IsInt() {
		d.invalid(attr, "The %s must be a whole number, not %s.", what, numText(f))
		return 0, false
	}
	i, acc := f.Int64()
	if acc != big.Exact || i < lo || i > hi {
		d.invalid(attr, "The %s must be between %d and %d, not %s.", what, lo, hi, numText(f))
		return 0, false
	}
	return i, true
}

// float evaluates attr as a number in [lo, hi].
func (d *decoder) float(attr *hcl.Attribute, lo, hi float64, what string) (float64, bool) {
	f, ok := d.number(attr)
	if !ok {
		return 0, false
	}
	x, _ := f.Float64()
	if math.IsInf(x, 0) || math.IsNaN(x) || x < lo || x > hi {
		d.invalid(attr, "The %s must be between %g and %g, not %s.", what, lo, hi, numText(f))
		return 0, false
	}
	return x, true
}

func (d *decoder) size(attr *hcl.Attribute) (int64, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	n, err := units.ParseSize(s)
	if err == nil && n < 0 {
		err = fmt.Errorf("size %q is too large", s)
	}
	if err != nil {
		d.unitError(attr, "size", err)
		return 0, false
	}
	return n, true
}

func (d *decoder) rate(attr *hcl.Attribute) (int64, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	n, err := units.ParseRate(s)
	if err == nil && n < 0 {
		err = fmt.Errorf("rate %q is too large", s)
	}
	if err != nil {
		d.unitError(attr, "data rate", err)
		return 0, false
	}
	return n, true
}

func (d *decoder) duration(attr *hcl.Attribute) (time.Duration, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	n, err := units.ParseDuration(s)
	if err == nil && n < 0 { // an overflowing "HH:MM:SS"
		err = fmt.Errorf("duration %q is too large", s)
	}
	if err != nil {
		d.unitError(attr, "duration", err)
		return 0, false
	}
	return n, true
}

func (d *decoder) unitError(attr *hcl.Attribute, kind string, err error) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s for %q", kind, attr.Name),
		Detail:   sentence(err.Error()) + d.example(attr.Name),
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.Range.Ptr(),
	})
}

// sentence capitalizes msg and ends it with a period.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// MaxUIDLength is the longest uid accepted: uids become host names, whose
// labels have at most 63 characters.
const MaxUIDLength = 63

// ValidUID reports whether s can be the uid of a site, cluster or node:
// ^[a-z0-9][a-z0-9-]*$, at most MaxUIDLength characters.
func ValidUID(s string) bool {
	if s == "" || len(s) > MaxUIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}

const uidRules = "Uids appear in URLs and host names: they start with a lowercase letter or a digit, contain only lowercase letters, digits and \"-\", and have at most 63 characters."

// uidHint explains why s is not a uid and proposes one when it can.
func uidHint(kind, s string) string {
	msg := fmt.Sprintf("%q is not a valid %s uid. %s", s, kind, uidRules)
	if sug := strings.TrimLeft(sanitizeUID(s), "-"); sug != s && ValidUID(sug) {
		msg += fmt.Sprintf(" Did you mean %q?", sug)
	}
	return msg
}

// sanitizeUID lowercases s, turns separators into "-" and drops the rest.
func sanitizeUID(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '_' || r == '.' || r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// where formats a position for a Detail that refers to another place.
func where(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
