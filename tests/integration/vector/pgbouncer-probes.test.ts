/**
 * Vector probes through a real PgBouncer in transaction mode (Debian's package, pool_size 1) in
 * front of the real PostgreSQL 18.3 + pgvector 0.8.2 server: the probes run (every swept
 * ef_search gets a recall), and afterwards a second client on the very server connection the
 * probes used sees hnsw.ef_search, enable_indexscan, enable_seqscan, statement_timeout and
 * search_path at their defaults — the probes' settings were all transaction-local.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import { lastProbeRuns } from '../../../src/sidecar/vector/collectors';
import { startPgvectorServer } from '../../support/pgvector-server';
import { startPgBouncer, type TestPgBouncer } from '../../support/pgbouncer';
import type { TestPostgres } from '../../support/pg';
import { startTestSidecar } from '../../support/sidecar';
import { clustered, toSql } from './dataset';

const N = 2000;
const DIMS = 16;
const SWEEP = [10, 40, 160];
let pg: TestPostgres;
let bouncer: TestPgBouncer;

before(async () => {
  pg = await startPgvectorServer();
  const vecs = clustered(N, DIMS, 20, 7);
  await pg.query('CREATE ROLE pgpulse LOGIN IN ROLE pg_monitor');
  await pg.query(`CREATE TABLE public.items (id int PRIMARY KEY, embedding vector(${DIMS}))`);
  for (let s = 0; s < N; s += 1000) {
    await pg.query(
      `INSERT INTO public.items VALUES ${vecs
        .slice(s, s + 1000)
        .map((v, i) => `(${s + i + 1}, '${toSql(v)}')`)
        .join(',')}`
    );
  }
  await pg.query(
    'CREATE INDEX items_hnsw ON public.items USING hnsw (embedding vector_l2_ops) WITH (m = 8, ef_construction = 32)'
  );
  await pg.query('GRANT SELECT ON public.items TO pgpulse; ANALYZE public.items');
  bouncer = await startPgBouncer({ serverPort: pg.port, users: ['postgres', 'pgpulse'] });
});

after(async () => {
  await bouncer?.stop();
  await pg?.destroy();
});

const SETTINGS = ['hnsw.ef_search', 'enable_indexscan', 'enable_seqscan', 'statement_timeout', 'search_path'];

async function settingsOn(url: string): Promise<{ pid: number; values: Record<string, string> }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    // loading the library defines hnsw.ef_search in a backend that has not used pgvector yet
    const r = await c.query(
      `SELECT pg_catalog.pg_backend_pid() AS pid, ${SETTINGS.map((s) => `pg_catalog.current_setting('${s}', true) AS "${s}"`).join(', ')}`
    );
    const { pid, ...values } = r.rows[0];
    return { pid: Number(pid), values };
  } finally {
    await c.end();
  }
}

test('vector probes run through PgBouncer and leave no setting on the shared server connection', async () => {
  const direct = new Client({ connectionString: pg.urlFor('postgres', 'pgpulse') });
  await direct.connect();
  await direct.query("SELECT '[1]'::public.vector"); // load pgvector, so hnsw.ef_search has its default
  const defaults = (
    await direct.query(`SELECT ${SETTINGS.map((s) => `pg_catalog.current_setting('${s}', true) AS "${s}"`).join(', ')}`)
  ).rows[0];
  await direct.end();
  assert.equal(defaults['hnsw.ef_search'], '40');

  const sc = await startTestSidecar({
    targets: [
      {
        name: 'pooled',
        url: bouncer.urlFor('postgres', 'pgpulse'),
        statementTimeoutMs: 10_000,
        vector: {
          probes: { enabled: true, sampleSize: 20, k: 10, sweep: SWEEP, budget: '60s', statementTimeout: '20s' },
        },
      },
    ],
    grpc: false,
  });
  try {
    await sc.sampleNow();
    const p = lastProbeRuns.get('pooled')?.probes.find((x) => x.index.indexrelname === 'items_hnsw');
    assert.ok(p, 'a probe run for items_hnsw');
    assert.equal(p.status, 'ok', JSON.stringify(p.status));
    for (const ef of SWEEP) {
      const r = p.settings.find((s) => s.setting === ef)?.recall;
      assert.ok(r && r.recall > 0 && r.recall <= 1, `recall at ef_search ${ef}: ${JSON.stringify(r)}`);
    }
    const backends = await pg.query<{ pid: number }>(
      "SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = 'pgpulse' AND backend_type = 'client backend'"
    );
    assert.equal(backends.length, 1, 'pool_size 1: one server connection for pgpulse');
    const seen = await settingsOn(bouncer.urlFor('postgres', 'pgpulse'));
    assert.equal(seen.pid, backends[0].pid, 'the check ran on the server connection the probes used');
    assert.deepEqual(seen.values, defaults);
  } finally {
    await sc.destroy();
  }
});
