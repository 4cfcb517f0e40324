#!/usr/bin/env bash
# Process start-to-output latency through a node agent, beside a local exec
# of the same command in the same run (BenchmarkAgentProcessLatency in
# cmd/gridflow/agent_bench_test.go), with the load average before and after:
# p50/p99 of a local os/exec, of the engine's way (Start answered once the
# command ended, then Output), of the same without that wait (polling from
# 5 ms), and of a 1 ms poll.
#
#   bench/agentprocs.sh [SAMPLES]        # default 300 of each
#
# The agent runs from a binary built once here (GRIDFLOW_BENCH_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${GRIDFLOW_BENCH_BIN:-}" ]; then
  go build -o "$tmp/gridflow" ./cmd/gridflow
  export GRIDFLOW_BENCH_BIN=$tmp/gridflow
fi
echo "before: $(uptime)"
go test -run XXX -bench 'AgentProcessLatency$' -benchtime "${samples}x" ./cmd/gridflow/
echo "after: $(uptime)"
