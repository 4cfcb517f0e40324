package campaign

import "container/heap"

// topoOrder sorts nodes 0..n-1 so that each comes after its deps, taking the
// lowest index first among the ready ones so that declaration order is kept
// where the graph allows it. Nodes on or behind a cycle are returned in cyclic.
func topoOrder(n int, deps [][]int) (order []int, cyclic []int) {
	indeg := make([]int, n)
	users := make([][]int, n)
	for i, ds := range deps {
		indeg[i] = len(ds)
		for _, d := range ds {
			users[d] = append(users[d], i)
		}
	}
	ready := &intHeap{}
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			*ready = append(*ready, i)
		}
	}
	heap.Init(ready)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	for i := 0; i < n; i++ {
		if indeg[i] > 0 {
			cyclic = append(cyclic, i)
		}
	}
	return order, cyclic
}

// findCycle walks deps from start, within the nodes marked in, and returns
// the first cycle it meets as a path a → b → … (the last node depends on the
// first). It is iterative: a chain of ten thousand locals must not recurse
// ten thousand deep.
func findCycle(start int, deps [][]int, in []bool) []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int8, len(deps))
	type frame struct{ node, next int }
	stack := []frame{{node: start}}
	color[start] = grey
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(deps[top.node]) {
			color[top.node] = black
			stack = stack[:len(stack)-1]
			continue
		}
		d := deps[top.node][top.next]
		top.next++
		if !in[d] {
			continue
		}
		switch color[d] {
		case grey:
			var cycle []int
			for i := len(stack) - 1; i >= 0; i-- {
				cycle = append(cycle, stack[i].node)
				if stack[i].node == d {
					break
				}
			}
			for i, j := 0, len(cycle)-1; i < j; i, j = i+1, j-1 {
				cycle[i], cycle[j] = cycle[j], cycle[i]
			}
			return cycle
		case white:
			color[d] = grey
			stack = append(stack, frame{node: d})
		}
	}
	return nil
}

// cycles returns one cycle for each group of cyclic nodes, each reported once.
//
// From every start, findCycle walks until it meets a node of its own path.
// When every node of cyclic depends on another one, as topoOrder makes them,
// that walk never backs up: it follows each node's first dependency in
// cyclic. So a walk that reaches a node an earlier walk went through ends on
// that walk's cycle, already reported, and can stop there: each node is
// walked once, where a walk per start went down the same chain again and
// again (a campaign behind a cycle cost time quadratic in its steps).
func cycles(deps [][]int, cyclic []int) [][]int {
	in := make([]bool, len(deps))
	for _, i := range cyclic {
		in[i] = true
	}
	next := make([]int, len(deps))
	for _, i := range cyclic {
		next[i] = -1
		for _, d := range deps[i] {
			if in[d] {
				next[i] = d
				break
			}
		}
		if next[i] < 0 {
			return cyclesByDFS(deps, cyclic, in)
		}
	}
	walked := make([]int, len(deps)) // 1 + the start of the walk that went through the node
	var out [][]int
	var path []int
	for _, start := range cyclic {
		if walked[start] != 0 {
			continue
		}
		path = path[:0]
		n := start
		for walked[n] == 0 {
			walked[n] = start + 1
			path = append(path, n)
			n = next[n]
		}
		if walked[n] != start+1 {
			continue // onto an earlier walk, and so onto a cycle reported already
		}
		i := len(path) - 1
		for path[i] != n {
			i--
		}
		out = append(out, append([]int(nil), path[i:]...))
	}
	return out
}

// cyclesByDFS is cycles for any graph, with a walk from every start.
func cyclesByDFS(deps [][]int, cyclic []int, in []bool) [][]int {
	reported := make([]bool, len(deps))
	var out [][]int
	for _, start := range cyclic {
		if reported[start] {
			continue
		}
		c := findCycle(start, deps, in)
		if c == nil {
			continue
		}
		seen := false
		for _, n := range c {
			seen = seen || reported[n]
		}
		for _, n := range c {
			reported[n] = true
		}
		if !seen {
			out = append(out, c)
		}
	}
	return out
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
