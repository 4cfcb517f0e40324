#!/usr/bin/env bash
# Measures `gridflow dev` on a warm build: time from process start to /readyz
# answering 200, beside the embedded Temporal server's own ready time in the
# same runs, and the idle RSS after start. Targets: ready <= 1.5 s, RSS <= 250 MB.
#   bench/devstart.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bin=$(mktemp -d)/gridflow
go build -o "$bin" ./cmd/gridflow
data=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
printf "%-5s %-12s %-18s %-10s\n" run ready_ms temporal_ready_ms rss_mb
for i in $(seq 0 "$runs"); do
  api=$(port); ui=$(port); fe=$(port)
  t0=$(now_ms)
  "$bin" dev --data-dir "$data" --listen 127.0.0.1:$api --ui-listen 127.0.0.1:$ui --temporal-listen 127.0.0.1:$fe >"$data/log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$api/readyz"; do
    kill -0 $pid 2>/dev/null || { cat "$data/log"; exit 1; }
    sleep 0.02
  done
  t1=$(now_ms)
  sleep 5 # let start-up garbage be collected before reading the idle footprint
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status)
  tr=$(grep -o 'readyAfter=[0-9.]*m\?s' "$data/log" | head -1 | sed 's/readyAfter=//')
  kill -INT $pid; wait $pid || true
  label=$i; [ "$i" = 0 ] && label="first"   # the first run creates the schemas
  printf "%-5s %-12s %-18s %-10s\n" "$label" $((t1 - t0)) "$tr" "$rss"
done
rm -rf "$data" "$(dirname "$bin")"
