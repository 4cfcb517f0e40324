package engine

import (
	"github.com/gridflow/gridflow/dsl/campaign"
)

// inventory answers the campaign validator's questions about the testbed;
// nil skips the testbed checks.
func (e *Engine) inventory(*Snapshot) campaign.Inventory { return nil }
