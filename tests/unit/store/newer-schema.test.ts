/**
 * A store written by a newer pgpulse (its file records schema migrations this version does not
 * know): it opens as before, its unknown migrations are left alone, and the sidecar says at start
 * what that means and what to do. A store of this version says nothing of the kind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { startSidecar } from '../../../src/sidecar/app';
import { migrations } from '../../../src/sidecar/store/migrations';
import { Store } from '../../../src/sidecar/store/store';
import { sidecarConfig } from '../../support/config';

/** the warnings the sidecar logs while it starts on dataDir (nothing sampled, nothing served) */
async function startWarnings(dataDir: string): Promise<Array<{ msg: string; unknownMigrations?: number[] }>> {
  const lines: string[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    })
  );
  const config = sidecarConfig(dataDir, 'newer-schema-token');
  const sidecar = await startSidecar({ config, logger, http: false, grpc: false, sampling: false });
  await sidecar.stop();
  return lines.map((l) => JSON.parse(l) as { msg: string; unknownMigrations?: number[] });
}

test('a store written by a newer pgpulse opens as before and the sidecar warns at start naming cause and fix; a store of this version does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgpulse-newer-schema-'));
  try {
    const current = Store.open(dir);
    current.writeSample({
      target: 't',
      collector: 'database',
      ts: 1000,
      ok: true,
      epoch: 1,
      rows: [{ key: { datname: 'a' }, values: { n: 1 } }],
    });
    assert.deepEqual(current.unknownMigrations(), []);
    current.close();
    assert.deepEqual(
      (await startWarnings(dir)).filter((w) => w.unknownMigrations),
      [],
      'this version wrote it: no warning'
    );

    // a newer pgpulse ran two migrations this version does not have (far above any it will have)
    const newest = Math.max(...migrations.map((m) => m.version));
    const later = [newest + 1000, newest + 1001];
    const newer = Store.open(dir);
    for (const v of later) {
      newer.db.prepare('INSERT INTO applied_migration (version) VALUES (?)').run(v);
    }
    newer.db.pragma(`user_version = ${later[1]}`);
    newer.close();

    const warnings = (await startWarnings(dir)).filter((w) => w.unknownMigrations);
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0].unknownMigrations, later);
    assert.match(warnings[0].msg, new RegExp(`newer pgpulse: its schema migrations ${later.join(', ')} are unknown`));
    assert.match(warnings[0].msg, /is not shown/, 'what it means');
    assert.match(warnings[0].msg, /run the pgpulse version that wrote it .*restore the backup/, 'what to do');

    const reopened = Store.open(dir);
    try {
      assert.deepEqual(reopened.unknownMigrations(), later, 'the newer migrations are left as they were');
      assert.equal(reopened.db.pragma('user_version', { simple: true }), later[1]);
      assert.equal(reopened.samples('t', 'database', 0, 2000).length, 1, 'what this version can read is served');
    } finally {
      reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
