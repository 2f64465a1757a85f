/**
 * The Dockerfile's runtime stage keeps production dependencies only (`npm prune --omit=dev`) and
 * runs `node --liftoff-only --max-semi-space-size=2 bin/pgpulse.js serve`. Run exactly that command against a real PostgreSQL until it
 * has sampled, and check it never loads a package outside the production dependency tree.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startPostgres, type TestPostgres } from '../../support/pg';

const ROOT = resolve(__dirname, '..', '..', '..');
const TOKEN = 'image-runtime-token';

/** Every package `npm prune --omit=dev` keeps. */
function productionPackages(): Set<string> {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 16 * 1024 * 1024,
  });
  return new Set(
    out
      .split('\n')
      .map((l) => /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(l.trim())?.[1])
      .filter((x): x is string => Boolean(x))
  );
}

describe(
  'sidecar image runtime (production dependencies only)',
  { skip: !existsSync(join(ROOT, 'build', 'sidecar', 'cli', 'main.js')) && 'run npm run build first' },
  () => {
    let pg: TestPostgres;
    let child: ChildProcess;
    let dir: string;
    let httpPort: number;

    before(async () => {
      pg = await startPostgres();
      dir = mkdtempSync(join(tmpdir(), 'pgpulse-image-'));
      httpPort = await freePort();
      const grpcPort = await freePort();
      child = spawn(
        process.execPath,
        [
          '--liftoff-only',
          '--max-semi-space-size=2',
          '-r',
          join(__dirname, 'support', 'record-packages.cjs'),
          'bin/pgpulse.js',
          'serve',
        ],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            NODE_ENV: 'production',
            DATABASE_URL: pg.urlFor('postgres'),
            PGPULSE_TOKEN: TOKEN,
            PGPULSE_DATA_DIR: join(dir, 'data'),
            PGPULSE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
            PGPULSE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
            PGPULSE_INTERVAL: '1s',
            PGPULSE_TEST_PACKAGES_FILE: join(dir, 'packages.txt'),
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        }
      );
    });

    after(async () => {
      if (child && child.exitCode === null) {
        await new Promise<void>((r) => {
          child.once('exit', () => r());
          child.kill('SIGTERM');
        });
      }
      await pg?.destroy();
      if (dir) {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serve answers with sampled data and loads only production packages', async () => {
      // wait (no timing assertion) until the sidecar has two samples: rates need a delta
      let frames = 0;
      for (let i = 0; i < 600 && frames === 0; i++) {
        assert.equal(child.exitCode, null, 'pgpulse serve exited');
        try {
          const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1/query`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              from: Date.now() - 600_000,
              to: Date.now(),
              intervalMs: 1000,
              queries: [{ refId: 'A', metric: 'tps' }],
            }),
          });
          const body = (await res.json()) as { results: { A: { frames?: Array<{ data: { values: unknown[][] } }> } } };
          frames = (body.results.A.frames ?? []).filter((f) => (f.data.values[1] ?? []).some((v) => v !== null)).length;
        } catch {
          // not listening yet
        }
        if (frames === 0) {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.ok(frames > 0, 'tps has data');
      const loaded = readFileSync(join(dir, 'packages.txt'), 'utf8').split('\n').filter(Boolean);
      assert.ok(loaded.includes('pg'), 'the recorder saw the pg driver');
      const prod = productionPackages();
      const outside = loaded.filter((p) => !prod.has(p));
      assert.deepEqual(outside, [], 'packages a production-only image would not have: move them to dependencies');
    });
  }
);
