'use strict';
/**
 * Runs the compiled pgpulse sidecar (store + sampler, no servers) in its own process so its memory
 * is measured alone. Reads commands on stdin: "cycle" runs one full sampling cycle (every
 * collector), "tick" one cycle at the normal cadence (only the collectors due, as in production),
 * and each prints one JSON line with what it cost; "quit" stops.
 * argv: <compiled build dir> <data dir>; env DATABASE_URL.
 */
const { statSync } = require('node:fs');
const { join } = require('node:path');
const readline = require('node:readline');

async function main() {
  const [buildDir, dataDir] = process.argv.slice(2);
  const { startSidecar } = require(join(buildDir, 'sidecar', 'app.js'));
  const { loadConfig } = require(join(buildDir, 'sidecar', 'config.js'));
  const config = loadConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    PGPULSE_DATA_DIR: dataDir,
    PGPULSE_LOG_LEVEL: 'warn',
  });
  const sc = await startSidecar({ config, http: false, grpc: false, sampling: false });
  const store = sc.store;
  const sampler = [...sc.samplers.values()][0];
  let points = 0;
  let byCollector = {};
  let rows = 0;
  let samples = 0;
  const write = store.writeSample.bind(store);
  store.writeSample = (s) => {
    const r = write(s);
    points += r.points;
    rows += s.rows.length;
    samples++;
    if (typeof s.durationMs === 'number') {
      byCollector[s.collector] = (byCollector[s.collector] || 0) + s.durationMs;
    }
    return r;
  };
  const dbFile = join(dataDir, 'pgpulse.db');
  const size = () => {
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    return statSync(dbFile).size;
  };
  let before = size();
  process.stdout.write(JSON.stringify({ ready: true, memory: process.memoryUsage() }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === 'quit') {
      break;
    }
    points = 0;
    byCollector = {};
    rows = 0;
    samples = 0;
    const t0 = process.hrtime.bigint();
    await sampler.runCycle(line.trim() !== 'tick');
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const after = size();
    process.stdout.write(
      JSON.stringify({
        wallMs,
        points,
        rows,
        samples,
        storeGrowthBytes: after - before,
        byCollector,
        reachable: sampler.status.reachable,
        unavailable: sampler.status.unavailable,
        memory: process.memoryUsage(),
      }) + '\n'
    );
    before = after;
  }
  await sc.stop();
  process.exit(0); // stdin may still hold the event loop open
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
