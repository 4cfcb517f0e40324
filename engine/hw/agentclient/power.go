package agentclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gridflow/gridflow/agent"
	"github.com/gridflow/gridflow/engine/hw"
)

var _ hw.PowerCycler = (*Client)(nil)

// powerCyclePoll is how often PowerCycle asks an agent that does not answer
// whether it is back.
var powerCyclePoll = 500 * time.Millisecond

// PowerCycle is the hardest reset an agent node offers. Agents have no
// out-of-band power control (no BMC, no PDU), so the closest real
// equivalent is used, in two parts:
//
//   - power off: every managed process group is killed at once (SIGKILL,
//     no grace period, unlike a reboot's SIGTERM first), then the agent is
//     rebooted unconditionally: it stops the containers, bumps the boot
//     generation and restarts the uptime;
//   - an agent that does not answer at all (killed, its host rebooting) is
//     waited for, as a node whose power was cut is waited for until it
//     boots: the call polls it until it answers or ctx ends, then resets it
//     as above. An agent restarted by its supervisor (systemd's
//     Restart=always) is thus "power cycled" by the restart itself.
//
// It returns the node's facts after the reset. An agent that never answers
// again within ctx fails with Unavailable, naming how long it was waited for.
func (c *Client) PowerCycle(ctx context.Context, node string) (hw.NodeInfo, error) {
	const op = "power cycle"
	start := time.Now()
	for {
		var ps []agent.Process
		err := c.call(ctx, request{op: op, node: node, method: http.MethodGet, path: "/v1/processes"}, nil, &ps)
		if err == nil {
			for _, p := range ps {
				if p.State != agent.StateRunning {
					continue
				}
				q := url.Values{"grace": {"0s"}}
				r := request{op: op, node: node, method: http.MethodDelete, path: "/v1/processes/" + seg(p.ID), query: q, long: true}
				if err := c.call(ctx, r, nil, nil); err != nil && hw.KindOf(err) != hw.NotFound {
					return hw.NodeInfo{}, err
				}
			}
			var in agent.Info
			r := request{op: op, node: node, method: http.MethodPost, path: "/v1/reboot", long: true}
			if err := c.call(ctx, r, agent.RebootRequest{}, &in); err != nil {
				return hw.NodeInfo{}, err
			}
			return nodeInfo(node, in), nil
		}
		if hw.KindOf(err) != hw.Unavailable {
			return hw.NodeInfo{}, err
		}
		if serr := hw.Sleep(ctx, powerCyclePoll); serr != nil {
			if errors.Is(serr, context.DeadlineExceeded) {
				return hw.NodeInfo{}, hw.Errorf(op, node, hw.Unavailable, "the agent did not answer for %s after its power was cut (agents have no out-of-band power control: restart the agent, or its host): %v",
					time.Since(start).Round(time.Second), err)
			}
			return hw.NodeInfo{}, fmt.Errorf("%s on %s: %w", op, node, serr)
		}
	}
}
