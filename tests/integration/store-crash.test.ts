/**
 * A crash mid-write loses at most the sample in flight: a child process writes samples in a
 * tight loop and is SIGKILLed; every sample it reported as committed is still readable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../src/sidecar/store/store';

test('SIGKILL while writing: every acknowledged sample survives, the store opens cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-crash-'));
  try {
    const storePath = resolve(__dirname, '../../src/sidecar/store/store.ts');
    const script = `
      const { Store } = require(${JSON.stringify(storePath)});
      const s = Store.open(${JSON.stringify(dir)});
      let i = 0;
      for (;;) {
        const rows = Array.from({ length: 500 }, (_, k) => ({ key: { k: String(k) }, values: { c: i * 1000 + k } }));
        s.writeSample({ target: 't', collector: 'x', ts: 1000 + i, ok: true, epoch: 1, rows });
        process.stdout.write(i + '\\n');
        i++;
      }`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = -1;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        acked = Number(l);
      }
    });
    while (acked < 50) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const store = Store.open(dir);
    const samples = store.samples('t', 'x', 0, 1e12);
    assert.ok(samples.length >= acked + 1, `${samples.length} samples stored, ${acked + 1} acknowledged`);
    assert.ok(samples.length <= acked + 2, 'at most the sample in flight beyond the acknowledged ones');
    const m = store.matrix('t', 'x', ['c'], { k: '7' }, samples);
    samples.forEach((s, i) => assert.equal(m[0].values[i], (s.ts - 1000) * 1000 + 7));
    assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
