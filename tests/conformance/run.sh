#!/usr/bin/env bash
# Conformance of the pgpulse backend with Grafana's plugin protocol, checked with Grafana's Go SDK
# and hashicorp/go-plugin (see conformance_test.go). Starts what it needs:
#   - a throw-away PostgreSQL 15 (tests/support/pg.ts) with a light workload,
#   - the sidecar (`node bin/pgpulse.js serve`; the Go test starts and restarts it),
# then runs `go test` in this folder. With PGPULSE_CONFORMANCE_STUB=1, or while the real sidecar
# is not built yet, a stub sidecar over a fake service stands in (protocol checks only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

work=$(mktemp -d /tmp/pgpulse-conformance.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

bash scripts/build-locator.sh >/dev/null

export PGPULSE_TOKEN="conformance-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PGPULSE_HTTP_ADDR="127.0.0.1:$(free_port)"
export PGPULSE_GRPC_ADDR="127.0.0.1:$(free_port)"
export PGPULSE_HTTP_URL="http://$PGPULSE_HTTP_ADDR"
export PGPULSE_LOCATOR="$root/dist/gpx_pgpulse_linux_amd64"
export PGPULSE_NODE="$(command -v node)"
export PGPULSE_DATA_DIR="$work/data"
export PGPULSE_LOCAL_DATA_DIR="$work/local-data"
export PGPULSE_INTERVAL="${PGPULSE_INTERVAL:-2s}"

if [ "${PGPULSE_CONFORMANCE_STUB:-}" = 1 ] || [ ! -f bin/pgpulse.js ] || [ ! -f src/sidecar/app.ts ]; then
  echo "conformance: using the stub sidecar (fake service); set up the real one with npm run build" >&2
  export PGPULSE_SIDECAR_CMD="node --import tsx $here/stub-sidecar.ts"
  export PGPULSE_LOCAL_ENTRY="$root/tests/integration/grafana/fake-plugin-entry.cjs"
  export PGPULSE_WARMUP_SECONDS=0
else
  npm run --silent build:sidecar
  node --import tsx "$here/start-pg.ts" "$work/database_url" &
  pids+=($!)
  for _ in $(seq 1 120); do [ -s "$work/database_url" ] && break; sleep 0.5; done
  [ -s "$work/database_url" ] || { echo "conformance: PostgreSQL did not start" >&2; exit 1; }
  export DATABASE_URL="$(cat "$work/database_url")"
  export PGPULSE_SIDECAR_CMD="node $root/bin/pgpulse.js serve"
  export PGPULSE_WARMUP_SECONDS="${PGPULSE_WARMUP_SECONDS:-15}"
fi

cd "$here"
go test -count=1 -timeout 20m -v ./...

# The real catalog may have no instant (numeric-multi) metric; a second, quick pass over the stub
# service keeps those frame shapes checked too.
if [ -z "${PGPULSE_LOCAL_ENTRY:-}" ] && [ "${PGPULSE_CONFORMANCE_STUB_PASS:-1}" = 1 ]; then
  echo "conformance: second pass against the stub service (numeric-multi and table shapes)" >&2
  PGPULSE_SIDECAR_CMD="node --import tsx $here/stub-sidecar.ts" \
  PGPULSE_LOCAL_ENTRY="$root/tests/integration/grafana/fake-plugin-entry.cjs" \
  PGPULSE_WARMUP_SECONDS=0 PGPULSE_DATA_DIR="$work/stub-data" \
    go test -count=1 -timeout 10m -v ./...
fi
