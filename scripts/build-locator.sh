#!/usr/bin/env bash
# Puts the pgpulse locator into dist/ as the executables Grafana launches
# (plugin.json "executable": "gpx_pgpulse" → gpx_pgpulse_linux_amd64 / _linux_arm64).
# Runs after webpack, which owns the rest of dist/. The locator is a POSIX sh script, so the
# same file serves both architectures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/src/sidecar/grafana/locator.sh"
mkdir -p "$root/dist"
for arch in amd64 arm64; do
  install -m 0755 "$src" "$root/dist/gpx_pgpulse_linux_$arch"
done
# sh -n: refuse to ship a locator with a syntax error.
sh -n "$root/dist/gpx_pgpulse_linux_amd64"
echo "locator: dist/gpx_pgpulse_linux_amd64 dist/gpx_pgpulse_linux_arm64"
