#!/usr/bin/env bash
# Runs the transfer benchmarks of cmd/gridflow/transfer_bench_test.go with
# the load average before and after (the figures depend on it: two agents,
# the engine and Temporal share the machine):
#   BenchmarkTransferAgentToAgent   1 GiB node://A → node://B beside curl;
#                                   targets: >= 0.8 of curl, < 64 MiB growth
#   BenchmarkTransferManySmallFiles 10,000 files of 4 KiB file:// → file://
#                                   beside an io.Copy+fsync loop; history length
#
#   bench/transfer.sh [BENCH_REGEXP] [extra go test flags, e.g. -cpuprofile /tmp/x.pprof]
#
# GRIDFLOW_BENCH_TRANSFER_BYTES, GRIDFLOW_BENCH_TRANSFER_ALGOS and
# GRIDFLOW_BENCH_TRANSFER_FILES change the sizes (see the test file). The
# agents run from a binary built once here (GRIDFLOW_BENCH_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-BenchmarkTransfer}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${GRIDFLOW_BENCH_BIN:-}" ]; then
  go build -o "$tmp/gridflow" ./cmd/gridflow
  export GRIDFLOW_BENCH_BIN=$tmp/gridflow
fi
echo "before: $(uptime)"
# Benchmarks are not bound by go test's -timeout; 10,000 files can take minutes.
status=0
go test -run XXX -bench "$pattern" -benchtime 1x "$@" ./cmd/gridflow/ 2>&1 |
  grep -v -e '^Gridflow dev is ready' -e '^  [A-Z]' -e '^  export' -e '^  curl' -e '^Authenticate' -e '^Press Ctrl-C' ||
  status=$?
echo "after: $(uptime)"
exit "$status"
