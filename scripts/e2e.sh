#!/usr/bin/env bash
# End-to-end tests: Gridflow in containers (an engine and four node agents on a
# private Docker network), driven through the REST API, with faults injected
# through Docker (agents stopped, cut from the network, paused; the engine
# restarted; a `gridflow server` replica killed under load). Needs a Docker
# daemon; nothing is pulled (see Dockerfile). The production-role test needs
# PostgreSQL: the installed binaries (apt-get install postgresql; a throw-away
# cluster on 127.0.0.1 is started) or GRIDFLOW_TEST_POSTGRES=postgres://...
# (e.g. what `scripts/postgres.sh start DIR` prints); without either it is
# skipped and says why.
#   scripts/e2e.sh                 # the whole suite (~10 minutes on 2 cores)
#   scripts/e2e.sh -run NodeLost   # extra arguments go to go test
set -euo pipefail
cd "$(dirname "$0")/.."

# No image can be pulled (Ryuk's neither); and on a host with /.dockerenv
# testcontainers would otherwise look for the daemon at an unreachable address.
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1

# The image's shell and tools: Debian's static busybox, copied into it (the
# dynamic one of package busybox cannot run in a FROM scratch image).
static_busybox() {
  [ -x /bin/busybox ] || return 1
  command -v dpkg-query >/dev/null || return 0
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'
}
if ! static_busybox; then
  if [ "$(id -u)" != 0 ]; then
    echo "e2e: /bin/busybox is missing: sudo apt-get install busybox-static" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
# Debian's headless Chromium for the browser test (docs page, Temporal Web UI).
if [ ! -x /usr/lib/chromium/chromium ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "e2e: Chromium is missing: sudo apt-get install chromium" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

docker info >/dev/null 2>&1 || { echo "e2e: the Docker daemon does not answer (docker info)" >&2; exit 1; }

exec go test -tags e2e -count=1 -timeout 30m -v ./e2e/ "$@"
