package campaign

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// reference is one checked reference found in an expression.
type reference struct {
	root string // "var", "local", "count", "each" or a step kind
	name string // the variable, local or step name; "index", "key" or "value"
	addr string // "reservation.exp" for a step, else ""
	rng  hcl.Range
}

// refScope says what an expression may refer to.
type refScope struct {
	where   string // "a local value", "an output", … for messages
	steps   bool   // outputs of steps
	count   bool   // count.index
	each    bool   // each.key, each.value
	self    string // address of the step the expression belongs to
	selfVar string // in a validation rule: the only variable it may read
	static  bool   // a meta-argument fixed before the campaign starts
}

var refRoots = []string{"var", "local", "count", "each", "reservation", "deployment", "transfer", "container", "run", "job"}

// checkRefs checks every reference of expr against the declarations and the
// scope, and returns the good ones.
func (l *loader) checkRefs(expr hcl.Expression, sc refScope, context *hcl.Range) ([]reference, hcl.Diagnostics) {
	var refs []reference
	var diags hcl.Diagnostics
	for _, t := range exprVariables(expr) {
		ref, d := l.checkRef(t, sc, context)
		diags = append(diags, d...)
		if d == nil {
			refs = append(refs, ref)
		}
	}
	return refs, diags
}

// exprVariables is expr.Variables() without HCL's walk, which allocates at
// every node, for the commonest arguments: a literal, a quoted string with no
// interpolation and a plain reference. HCL's walk finds nothing in the first
// two and the traversal itself in the third.
func exprVariables(expr hcl.Expression) []hcl.Traversal {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return nil
	case *hclsyntax.ScopeTraversalExpr:
		return []hcl.Traversal{e.Traversal}
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit {
				return expr.Variables()
			}
		}
		return nil
	}
	return expr.Variables()
}

func (l *loader) checkRef(t hcl.Traversal, sc refScope, context *hcl.Range) (reference, hcl.Diagnostics) {
	root := t.RootName()
	ref := reference{root: root, rng: t.SourceRange()}
	rootRange := t[0].SourceRange()
	one := func(subject hcl.Range, summary, format string, args ...any) (reference, hcl.Diagnostics) {
		return ref, hcl.Diagnostics{errorf(subject, context, summary, format, args...)}
	}
	name, nameRange, ok := attrStep(t, 1)
	switch root {
	case "var":
		if !ok {
			return one(ref.rng, "Invalid variable reference", "Refer to a variable by name, as in var.nodes.")
		}
		if _, declared := l.c.Variables[name]; !declared {
			return one(nameRange, "Reference to undeclared variable",
				"There is no variable named %q.%s Declare it with a variable %q block, or fix the name.",
				name, didYouMean(name, sortedKeys(l.c.Variables)), name)
		}
		if sc.selfVar != "" && name != sc.selfVar {
			return one(ref.rng, "Invalid reference in validation rule",
				"The validation rule of var.%s may only refer to var.%s; check other variables in their own validation blocks.", sc.selfVar, sc.selfVar)
		}
	case "local":
		if !ok {
			return one(ref.rng, "Invalid local value reference", "Refer to a local value by name, as in local.workers.")
		}
		if sc.selfVar != "" {
			return one(ref.rng, "Invalid reference in validation rule",
				"The validation rule of var.%s may only refer to var.%s.", sc.selfVar, sc.selfVar)
		}
		if _, declared := l.localAttrs[name]; !declared {
			return one(nameRange, "Reference to undeclared local value",
				"There is no local value named %q.%s Declare it in a locals block, or fix the name.",
				name, didYouMean(name, sortedKeys(l.localAttrs)))
		}
	case "count":
		if !sc.count && sc.self == "" {
			return one(ref.rng, "Reference to count outside a step",
				"count.index is the index of the current instance of a step with count, and %s is not part of a step. Refer to the instances by index instead, as in run.bench[0].", sc.where)
		}
		if !sc.count {
			return one(ref.rng, "Reference to count in a block without count",
				"count.index is the index of the current instance, so it exists only inside a step that has count; %s has none. Add count = <number> to the step, or remove the reference.",
				sc.self)
		}
		if !ok || name != "index" {
			return one(ref.rng, "Invalid count reference", "The only attribute of count is count.index, the index of the current instance.")
		}
	case "each":
		if !sc.each && sc.self == "" {
			return one(ref.rng, "Reference to each outside a step",
				"each.key and each.value belong to the instances of a step with for_each, and %s is not part of a step. Refer to the instances by key instead, as in run.bench[\"lyon\"].", sc.where)
		}
		if !sc.each {
			return one(ref.rng, "Reference to each in a block without for_each",
				"each.key and each.value exist only inside a step that has for_each; %s has none. Add for_each = <map or set> to the step, or remove the reference.",
				sc.self)
		}
		if !ok || (name != "key" && name != "value") {
			return one(ref.rng, "Invalid each reference", "each has two attributes: each.key and each.value.")
		}
	default:
		if !Kind(root).valid() {
			return one(rootRange, "Unknown reference",
				"There is no value named %q.%s References start with var., local., count., each. or a step kind (reservation., deployment., transfer., container., run.).",
				root, didYouMean(root, refRoots))
		}
		return l.checkStepRef(t, ref, sc, context)
	}
	ref.name = name
	return ref, nil
}

func (l *loader) checkStepRef(t hcl.Traversal, ref reference, sc refScope, context *hcl.Range) (reference, hcl.Diagnostics) {
	one := func(subject hcl.Range, summary, format string, args ...any) (reference, hcl.Diagnostics) {
		return ref, hcl.Diagnostics{errorf(subject, context, summary, format, args...)}
	}
	kind := ref.root
	name, nameRange, ok := attrStep(t, 1)
	if !ok {
		return one(ref.rng, "Invalid step reference", "Refer to a step by kind and name, as in %s.<name>.", kind)
	}
	addr := kind + "." + name
	ref.name, ref.addr = name, addr
	if !sc.steps && sc.static {
		return one(ref.rng, "Step outputs not allowed here",
			"%s must be known before the campaign starts, so it cannot use the outputs of %s. Write a literal, or use a variable or a local value.",
			capitalize(sc.where), addr)
	}
	if !sc.steps {
		return one(ref.rng, "Step outputs not allowed here",
			"%s is evaluated before any step runs, so it cannot use the outputs of %s. Move the expression into a step argument or an output block.",
			capitalize(sc.where), addr)
	}
	st := l.c.byAddr[addr]
	if st == nil {
		return one(nameRange, "Reference to undeclared step",
			"There is no %s step named %q.%s Declare it with a %s %q block, or fix the name.",
			kind, name, didYouMean(addr, l.stepAddrs()), kind, name)
	}
	if addr == sc.self {
		return one(ref.rng, "Self-referential step",
			"%s refers to its own outputs, which do not exist until it has run. Refer to another step, or use count.index or each.key for the current instance.", addr)
	}
	rest := t[2:]
	if st.Expanded() && len(rest) > 0 {
		if a, isAttr := rest[0].(hcl.TraverseAttr); isAttr {
			if st.Count != nil {
				return one(rest[0].SourceRange(), "Missing instance index",
					"%s has count, so it stands for a list of instances. Write %s[0].%s for one instance or %s[*].%s for all of them.",
					addr, addr, a.Name, addr, a.Name)
			}
			return one(rest[0].SourceRange(), "Missing instance key",
				"%s has for_each, so it stands for a map of instances. Write %s[\"<key>\"].%s for one instance or values(%s)[*].%s for all of them.",
				addr, addr, a.Name, addr, a.Name)
		}
		rest = rest[1:]
	} else if len(rest) > 0 {
		if _, isIndex := rest[0].(hcl.TraverseIndex); isIndex {
			return one(rest[0].SourceRange(), "Unexpected index",
				"%s has neither count nor for_each, so it is a single step and cannot be indexed. Refer to one of its outputs, as in %s.%s.",
				addr, addr, firstOutput(st.Kind))
		}
	}
	if len(rest) > 0 {
		if a, isAttr := rest[0].(hcl.TraverseAttr); isAttr {
			outs := outputAttrs[st.Kind]
			if _, exists := outs[a.Name]; !exists {
				return one(rest[0].SourceRange(), "Unsupported step output",
					"A %s step has no output named %q.%s Its outputs are %s.",
					st.Kind, a.Name, didYouMean(a.Name, sortedKeys(outs)), englishList(sortedKeys(outs)))
			}
		}
	}
	return ref, nil
}

// stepAddrs returns the addresses of all steps, sorted, for suggestions. The
// steps are all registered before the first reference is checked, so the
// list is built once, not once per reference to an undeclared step.
func (l *loader) stepAddrs() []string {
	if len(l.sortedAddrs) != len(l.c.byAddr) {
		l.sortedAddrs = sortedKeys(l.c.byAddr)
	}
	return l.sortedAddrs
}

// attrStep returns the name of t[i] if it is an attribute step.
func attrStep(t hcl.Traversal, i int) (string, hcl.Range, bool) {
	if len(t) <= i {
		return "", hcl.Range{}, false
	}
	a, ok := t[i].(hcl.TraverseAttr)
	if !ok {
		return "", t[i].SourceRange(), false
	}
	return a.Name, a.SrcRange, true
}

func firstOutput(k Kind) string {
	switch k {
	case KindReservation, KindDeployment:
		return "nodes"
	case KindRun:
		return "exit_code"
	}
	return "id"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// stepDeps returns the distinct step addresses among refs.
func stepDeps(refs []reference) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range refs {
		if r.addr != "" && !seen[r.addr] {
			seen[r.addr] = true
			out = append(out, r.addr)
		}
	}
	return out
}
