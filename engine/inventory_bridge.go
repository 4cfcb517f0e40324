package engine

import (
	"github.com/gridflow/gridflow/dsl/campaign"
	"github.com/gridflow/gridflow/engine/inventory"
)

// inventory answers the campaign validator's questions about a testbed
// version: sites, clusters and how many nodes match a request.
func (e *Engine) inventory(s *Snapshot) campaign.Inventory { return inventory.New(s.Testbed) }
