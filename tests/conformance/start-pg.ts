/**
 * For run.sh: starts a throw-away PostgreSQL 15 (tests/support/pg.ts) with a small table and a
 * light, bounded workload so the sidecar has something to sample; writes the connection string
 * to the file named by argv[2]; stops and removes the cluster on SIGTERM.
 */
import { writeFileSync } from 'node:fs';
import { startPostgres } from '../support/pg';

async function main() {
  const out = process.argv[2];
  const pg = await startPostgres();
  await pg.query('CREATE TABLE IF NOT EXISTS conformance_items (id serial PRIMARY KEY, v int, note text)');
  await pg.query('CREATE INDEX IF NOT EXISTS conformance_items_v ON conformance_items (v)');
  await pg.query("INSERT INTO conformance_items (v, note) SELECT g, 'n' || g FROM generate_series(1, 2000) g");
  writeFileSync(out, pg.url + '\n');
  // one small batch a second, for at most 30 minutes
  let rounds = 0;
  const timer = setInterval(() => {
    if (++rounds > 1800) return clearInterval(timer);
    void pg
      .query('UPDATE conformance_items SET v = v + 1 WHERE id = $1; ', [1 + (rounds % 2000)])
      .then(() => pg.query('SELECT count(*) FROM conformance_items WHERE v > $1', [rounds % 100]))
      .catch(() => undefined);
  }, 1000);
  const stop = async () => {
    clearInterval(timer);
    await pg.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
