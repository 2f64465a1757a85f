/**
 * A real pgvector (0.8.0, compiled into PGlite 0.3.x) served over the PostgreSQL wire protocol on
 * a free loopback port, so the sidecar's ordinary `pg` pool talks to it like any server.
 * PGlite is single-user: statistics counters stay at zero and pg_stat_statements cannot be
 * preloaded; tests of those parts use tests/support/pg.ts (a real PostgreSQL 15).
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Client } from 'pg';
import { freePort } from './pg';

// a subpath export: required at run time, typed from its file (tsconfig's node10 resolution ignores "exports")

const { vector } = require('@electric-sql/pglite/vector') as typeof import('@electric-sql/pglite/dist/vector/index');

export interface TestPglite {
  /** postgres://… URL of the wire server */
  url: string;
  port: number;
  /** the in-process database (fast bulk loads without the wire) */
  db: PGlite;
  /** run SQL over the wire with a short-lived client */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startPglite(opts: { vector?: boolean } = {}): Promise<TestPglite> {
  const db = await PGlite.create({ extensions: opts.vector === false ? {} : { vector } });
  if (opts.vector !== false) {
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
  }
  // PGlite starts with enable_seqscan = off on its command line; a normal server has it on, and
  // plans (EXPLAIN checks, exact scans) should look like a normal server's. PGlite has one backend,
  // so this session setting holds for every wire connection.
  await db.exec('SET enable_seqscan = on');
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 8 });
  await server.start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
  return {
    url,
    port,
    db,
    query: async <T>(sql: string, params?: unknown[]) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as T[];
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    stop: async () => {
      await server.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
    },
  };
}
