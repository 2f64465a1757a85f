/**
 * The compose stack's SQL and shell pieces, run against real servers: the init script that
 * creates the monitoring role (PostgreSQL 15), the pgbench workload scripts (PostgreSQL 15 +
 * pgbench) and the pgvector demo data and searches (pgvector 0.8 in PGlite).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../../support/pg';

const ROOT = resolve(__dirname, '..', '..', '..');
const deploy = (p: string) => join(ROOT, 'deploy', p);

describe('deploy scripts against PostgreSQL 15', () => {
  let pg: TestPostgres;
  const pgEnv = () => ({
    ...process.env,
    PGHOST: '127.0.0.1',
    PGPORT: String(pg.port),
    PGUSER: 'postgres',
    PGDATABASE: 'app',
  });

  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE DATABASE app');
  });
  after(async () => {
    await pg?.destroy();
  });

  it('00-role.sh creates a login role that is a pg_monitor member and nothing more, with the given password', async () => {
    // a password with quotes and a dollar sign: the script must not break or splice it into SQL
    const password = `it's $ecret "x"`;
    execFileSync('sh', [deploy('postgres/00-role.sh')], {
      env: { ...pgEnv(), POSTGRES_USER: 'postgres', POSTGRES_DB: 'app', PGPULSE_MONITOR_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [role] = await pg.query<{
      rolcanlogin: boolean;
      rolsuper: boolean;
      rolcreaterole: boolean;
      rolcreatedb: boolean;
      monitor: boolean;
      scram: boolean;
    }>(
      `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, pg_has_role('pgpulse', 'pg_monitor', 'member') AS monitor,
              rolpassword LIKE 'SCRAM-SHA-256$%' AS scram
         FROM pg_authid WHERE rolname = 'pgpulse'`
    );
    assert.deepEqual(role, {
      rolcanlogin: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      monitor: true,
      scram: true,
    });
    // the stored SCRAM verifier is for exactly that password: recompute it (RFC 5802 / 7677)
    const [{ rolpassword }] = await pg.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'pgpulse'"
    );
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(rolpassword);
    assert.ok(m, 'SCRAM verifier format');
    const salted = pbkdf2Sync(password, Buffer.from(m[2], 'base64'), Number(m[1]), 32, 'sha256');
    const storedKey = createHash('sha256')
      .update(createHmac('sha256', salted).update('Client Key').digest())
      .digest('base64');
    const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
    assert.equal(storedKey, m[3]);
    assert.equal(serverKey, m[4]);
    // read-only: it cannot create objects in the monitored database
    await assert.rejects(
      pg.query('SET ROLE pgpulse; CREATE TABLE public.pgpulse_should_fail (id int)', [], 'app'),
      /permission denied/
    );
  });

  it('01-pgpulse.sql creates pg_stat_statements (vector is checked against pgvector below)', async () => {
    const sql = readFileSync(deploy('postgres/01-pgpulse.sql'), 'utf8')
      .split('\n')
      .filter((l) => !/EXTENSION IF NOT EXISTS vector/.test(l)) // Debian has no pgvector package
      .join('\n');
    execFileSync('psql', ['-v', 'ON_ERROR_STOP=1', '-qX', '-c', sql], {
      env: pgEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const rows = await pg.query<{ extname: string }>(
      "SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'",
      [],
      'app'
    );
    assert.equal(rows.length, 1);
  });

  it('the pgbench scripts run: TPC-B-like transactions and the slow report reach pg_stat_statements', async () => {
    execFileSync('pgbench', ['-i', '-s', '1', '--quiet'], { env: pgEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out = execFileSync(
      'pgbench',
      ['-n', '-c', '2', '-t', '10', '-b', 'tpcb-like@10', '-f', `${deploy('workload/slow-report.sql')}@1`],
      {
        env: pgEnv(),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }
    );
    assert.match(out, /number of failed transactions: 0/);
    const rows = await pg.query<{ query: string }>(
      "SELECT s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'app' AND s.query LIKE '%abalance >%'",
      [],
      'app'
    );
    assert.ok(rows.length >= 1, 'the report statement was recorded');
  });
});

describe('vector demo data and searches against pgvector (PGlite)', () => {
  it('vector-setup.sql builds the table and HNSW index; vector-search.sql uses the index and returns 10 rows', async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    // a subpath export, which the repo's node10 type resolution cannot see: load it untyped
    const vectorSpecifier = '@electric-sql/pglite/vector';
    const { vector } = (await import(vectorSpecifier)) as { vector: import('@electric-sql/pglite').Extension };
    const db = await PGlite.create({ extensions: { vector } });
    try {
      // same script, fewer rows: PGlite runs single-threaded in WebAssembly
      const setup = readFileSync(deploy('workload/vector-setup.sql'), 'utf8').replace(
        'generate_series(1, 20000)',
        'generate_series(1, 2000)'
      );
      await db.exec(setup);
      const [{ n, dims }] = (
        await db.query<{ n: number; dims: number }>(
          'SELECT count(*)::int AS n, min(vector_dims(embedding)) AS dims FROM items'
        )
      ).rows;
      assert.equal(n, 2000);
      assert.equal(dims, 64);
      const [{ distinct }] = (
        await db.query<{ distinct: number }>('SELECT count(DISTINCT embedding::text)::int AS distinct FROM items')
      ).rows;
      assert.equal(distinct, 2000, 'every row has its own random embedding');
      const idx = (
        await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'items' ORDER BY 1")
      ).rows.map((r) => r.indexname);
      assert.deepEqual(idx, ['items_category_dup_idx', 'items_category_idx', 'items_embedding_hnsw', 'items_pkey']);

      const search = readFileSync(deploy('workload/vector-search.sql'), 'utf8');
      const statements = search
        .split('\n')
        .filter((l) => l.startsWith('SELECT'))
        .map((l) =>
          l
            .replace(/:id\b/g, '42')
            .replace(/:cat\b/g, '3')
            .replace(/;$/, '')
        );
      assert.equal(statements.length, 2);
      await db.exec('SET enable_seqscan = off');
      const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statements[0]}`)).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      assert.match(plan, /items_embedding_hnsw/);
      await db.exec('RESET enable_seqscan');
      for (const s of statements) {
        const rows = (await db.query<{ id: number }>(s)).rows;
        assert.ok(rows.length > 0 && rows.length <= 10, `${s}: ${rows.length} rows`);
      }
      // the unfiltered search finds item 42 itself first (distance 0)
      const first = (await db.query<{ id: number }>(statements[0])).rows[0];
      assert.equal(Number(first.id), 42);
    } finally {
      await db.close();
    }
  });
});
