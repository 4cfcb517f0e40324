package campaign

import (
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// suggestByFullDistance is suggest as it was: a full edit distance to every
// candidate. The faster suggest must agree with it.
func suggestByFullDistance(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := fullLevenshtein(name, c)
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := 2
	if l := len(name) / 3; l > limit {
		limit = l
	}
	if bestDist < 0 || bestDist > limit || bestDist >= len(name) {
		return ""
	}
	return best
}

func fullLevenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

var suggestCandidates = []string{
	"reservation.exp", "reservation.exq", "reservation.r1", "reservation.r12", "deployment.os",
	"run.bench", "run.bnech", "transfer.data", "ab", "ba", "a", "", "é", "éa", "naïve", "nodes", "node",
	"ok_nodes", "ko_nodes", strings.Repeat("x", 64), strings.Repeat("x", 65), strings.Repeat("x", 63) + "y",
}

func TestSuggestSameAsFullDistance(t *testing.T) {
	names := append([]string{"reservation.epx", "reservation.r2", "run.bech", "x", "ab", "nodez", "naive", "é",
		strings.Repeat("x", 65), strings.Repeat("x", 64) + "z"}, suggestCandidates...)
	for _, n := range names {
		for k := 0; k <= len(suggestCandidates); k++ {
			cands := suggestCandidates[:k]
			if got, want := suggest(n, cands), suggestByFullDistance(n, cands); got != want {
				t.Errorf("suggest(%q, %d candidates) = %q, want %q", n, k, got, want)
			}
		}
	}
}

// FuzzSuggest: the bounded distance suggests what the full one did.
func FuzzSuggest(f *testing.F) {
	f.Add("reservation.epx", "reservation.exp,reservation.exq,run.bench")
	f.Add("ab", "ba,a,b,abc")
	f.Add("naive", "naïve,nave")
	f.Fuzz(func(t *testing.T, name, list string) {
		cands := strings.Split(list, ",")
		if got, want := suggest(name, cands), suggestByFullDistance(name, cands); got != want {
			t.Fatalf("suggest(%q, %q) = %q, want %q", name, cands, got, want)
		}
	})
}

// TestCyclesSameAsDFS: on random graphs, cycles reports what a walk from
// every start (the former way) reports, in the same order.
func TestCyclesSameAsDFS(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for iter := 0; iter < 20000; iter++ {
		n := 1 + rnd.Intn(12)
		deps := make([][]int, n)
		for i := range deps {
			for k := rnd.Intn(4); k > 0; k-- {
				deps[i] = append(deps[i], rnd.Intn(n))
			}
		}
		_, cyclic := topoOrder(n, deps)
		in := make([]bool, n)
		for _, i := range cyclic {
			in[i] = true
		}
		got, want := cycles(deps, cyclic), cyclesByDFS(deps, cyclic, in)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("deps %v: cycles %v, want %v", deps, got, want)
		}
	}
}

// TestBehindCycle: one cycle with the whole campaign behind it is reported
// once, where it closes.
func TestBehindCycle(t *testing.T) {
	_, diags := Load(Input{Filename: "big.hcl", Source: behindCycle(300)})
	if len(diags) != 1 || diags[0].Summary != "Dependency cycle" ||
		!strings.HasPrefix(diags[0].Detail, "reservation.r0 → run.b0 → deployment.d0 → reservation.r0:") {
		t.Errorf("got %v", diags)
	}
}

// TestExprVariablesSameAsHCL: the shortcut finds the references HCL finds,
// on every argument of the fixtures, the examples and a generated campaign.
func TestExprVariablesSameAsHCL(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.hcl")
	files = append(files, exampleFiles(t)...)
	srcs := [][]byte{generatedCampaign(300)}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	n := 0
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			n++
			if got, want := exprVariables(a.Expr), a.Expr.Variables(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %v, want %v", a.SrcRange, got, want)
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	for _, src := range srcs {
		f, _ := hclsyntax.ParseConfig(src, "x.hcl", hcl.InitialPos)
		walk(f.Body.(*hclsyntax.Body))
	}
	if n < 1000 {
		t.Errorf("only %d arguments", n)
	}
}
