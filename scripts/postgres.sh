#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL cluster on loopback for tests.
#   scripts/postgres.sh start DIR   -> prints a postgres:// URL of its admin database
#   scripts/postgres.sh stop DIR
# initdb refuses to run as root, so as root the cluster runs as the postgres user.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; fi
as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
     -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  as "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
  ;;
esac
