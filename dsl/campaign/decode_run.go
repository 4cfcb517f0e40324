package campaign

func (d *decoder) run(b *body) Spec {
	s := &RunSpec{Process: b.process()}
	nodes, container := b.content.Attributes["nodes"], b.content.Attributes["container"]
	switch {
	case nodes != nil && container != nil:
		b.errorf(container.Range, "Conflicting arguments",
			"A run executes either on nodes or in a container, not both. Remove nodes to run in the container, or container to run on the nodes.")
	case nodes == nil && container == nil:
		b.errorf(b.block.DefRange, "Missing required argument \"nodes\"",
			"A run needs to know where to execute: nodes = reservation.exp.nodes to run on nodes, or container = container.db.id to run in a container.")
	case nodes != nil:
		if list := b.strList("nodes"); list != nil {
			if len(list) == 0 {
				b.errorf(nodes.Expr.Range(), "No nodes to run on", "nodes is empty: a run needs at least one node, as in nodes = reservation.exp.nodes.")
			}
			s.Nodes = list
		}
	default:
		if id, a, ok := b.str("container"); ok {
			if id == "" {
				b.errorf(a.Expr.Range(), "Empty container", "container is the id of a container step's instance, as in container = container.db.id.")
			}
			s.Container = id
		}
	}
	s.pending = d.finish()
	return s
}
