/**
 * `npm test` on a machine that lacks prerequisites: scripts/check-prereqs.sh names every missing
 * one in one message, with what to install, and fails before anything runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '../../..');

test('missing chromium, busybox and go are all named at once, exit 1', () => {
  // a PATH with only what the check itself needs: no busybox, no go
  const bin = mkdtempSync(join(tmpdir(), 'pgpulse-path-'));
  try {
    for (const tool of ['node', 'sed', 'python3']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, join(bin, tool));
    }
    const r = spawnSync('/bin/bash', [join(ROOT, 'scripts/check-prereqs.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: bin, PGPULSE_CHROMIUM: '/nonexistent/chromium' },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^The test suite cannot run: \d+ prerequisite\(s\) missing:\n/);
    assert.match(r.stderr, /Chromium at \/nonexistent\/chromium[^\n]*\n\s+install: apt-get install chromium/);
    assert.match(r.stderr, /busybox[^\n]*\n\s+install: apt-get install busybox/);
    assert.match(r.stderr, /Go [\d.]+ [^\n]*\n\s+install: https:\/\/go\.dev\/dl/);
    assert.match(r.stderr, /sudo bash \.ci\/run/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
  // and the suite runs it before anything else
  const script = readFileSync(join(ROOT, 'scripts/test.sh'), 'utf8');
  assert.ok(script.indexOf('check-prereqs.sh') < script.indexOf('npx tsc'), 'checked before the typecheck');
});
