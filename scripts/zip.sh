#!/usr/bin/env bash
# Packages dist/ the way Grafana's plugin tooling does: a zip whose single top folder is the
# plugin id, executables keeping their mode bits. Output: pgpulse-postgres-datasource-<version>.zip
# (path printed on stdout). Run `npm run build` first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
id=pgpulse-postgres-datasource
version=$(node -p "require('$root/package.json').version")
[ -f "$root/dist/plugin.json" ] || { echo "zip: dist/plugin.json missing; run npm run build first" >&2; exit 1; }
for arch in amd64 arm64; do
  [ -x "$root/dist/gpx_pgpulse_linux_$arch" ] || { echo "zip: dist/gpx_pgpulse_linux_$arch missing or not executable; run npm run build:locator" >&2; exit 1; }
done
mkdir -p "$root/build"
out="$root/build/${id}-${version}.zip"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$root/dist" "$stage/$id"
rm -f "$out"
if command -v zip >/dev/null 2>&1; then
  (cd "$stage" && zip -qr -X "$out" "$id")
else
  # Python's zipfile keeps unix mode bits when told to; used where the zip tool is absent.
  python3 - "$stage" "$id" "$out" <<'PY'
import os, sys, zipfile
stage, top, out = sys.argv[1:]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in os.walk(os.path.join(stage, top)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(d, name)
            arc = os.path.relpath(path, stage)
            info = zipfile.ZipInfo.from_file(path, arc)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, 'rb') as f:
                z.writestr(info, f.read())
PY
fi
echo "$out"
