#!/usr/bin/env bash
# The whole test suite, as CI runs it: typecheck, build, node unit + integration tests (real
# PostgreSQL 15), frontend jest, Go conformance harness (official Grafana SDK), browser e2e.
# Prints each runner's own summary and a final "total: N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
status=0
passed=0
failed=0

step() { printf '\n=== %s ===\n' "$1"; }

# every missing prerequisite named in one message, before anything runs
bash scripts/check-prereqs.sh || exit 1

step "typecheck"
if ! npx tsc -p tsconfig.json --noEmit; then status=1; failed=$((failed + 1)); fi

step "lint (eslint, prettier)"
# create-plugin's rules: errors fail the run, warnings are printed for the reviewer
if ! npx eslint . || ! npx prettier --check . > "$out/prettier.txt" 2>&1; then
  status=1; failed=$((failed + 1)); tail -20 "$out/prettier.txt" 2>/dev/null
fi

step "build"
if ! npm run build --silent; then echo "build failed"; exit 1; fi

step "node tests (unit + integration)"
# quoted globs: Node's test runner expands them itself (Node >= 22); TAP, whose summary lines are read below
node --import tsx --test --test-reporter=tap --test-concurrency=1 'tests/unit/**/*.test.ts' 'tests/integration/**/*.test.ts' 2>&1 | tee "$out/node.txt" | grep -E '^(not ok|# (tests|pass|fail|skipped))|^\s+not ok|# SKIP' || true
p=$(grep -E '^# pass ' "$out/node.txt" | awk '{print $3}'); f=$(grep -E '^# fail ' "$out/node.txt" | awk '{print $3}')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
if [ "${f:-1}" != 0 ]; then status=1; grep -B2 -A25 '^not ok\|^\s\+not ok' "$out/node.txt" | head -150; fi

if [ -f jest.config.js ]; then
  step "frontend (jest)"
  npx jest --ci 2>&1 | tee "$out/jest.txt" | tail -8
  line=$(grep -E '^Tests:' "$out/jest.txt" | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | awk '{print $1}'); f=$(echo "$line" | grep -oE '[0-9]+ failed' | awk '{print $1}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ -z "$line" ] || [ -n "$f" ]; then status=1; [ -z "$line" ] && failed=$((failed + 1)); fi
fi

if [ -f tests/conformance/run.sh ]; then
  step "conformance (Go, grafana-plugin-sdk-go)"
  bash tests/conformance/run.sh > "$out/go.txt" 2>&1
  go_status=$?
  grep -E '^(--- |ok|FAIL|PASS)' "$out/go.txt" | tail -60
  p=$(grep -cE '^\s*--- PASS' "$out/go.txt" || true); f=$(grep -cE '^\s*--- FAIL' "$out/go.txt" || true)
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$go_status" != 0 ] || [ "$f" != 0 ] || ! grep -qE '^(ok|PASS)' "$out/go.txt"; then status=1; [ "$f" = 0 ] && failed=$((failed + 1)); tail -40 "$out/go.txt"; fi
fi

if [ -f playwright.config.ts ]; then
  step "browser e2e (Playwright + Debian chromium)"
  npx playwright test -c playwright.config.ts --reporter=line 2>&1 | tee "$out/e2e.txt" | tail -15
  # the line reporter moves the cursor with ANSI codes: strip them before reading its summary
  sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$out/e2e.txt" > "$out/e2e.plain"
  p=$(grep -oE '^\s*[0-9]+ passed' "$out/e2e.plain" | awk '{print $1}' | tail -1); f=$(grep -oE '^\s*[0-9]+ failed' "$out/e2e.plain" | awk '{print $1}' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ -z "$p" ] || [ -n "$f" ]; then status=1; [ -z "$p$f" ] && failed=$((failed + 1)); fi
fi

echo
echo "total: $passed passed, $failed failed"
exit $status
