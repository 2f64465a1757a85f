#!/usr/bin/env bash
# Node's test runner over every *.test.ts below the given folders (Node 20 does not expand globs).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find "${@:-tests/unit tests/integration}" -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
