/**
 * What the SQL parser (libpg-query's WebAssembly, src/sidecar/sql-parser.ts) keeps resident in the
 * process that loads it: VmRSS / RssAnon / RssFile after loading it, after parsing the 5,000
 * statement texts of bench/statements-workload.ts (what the advisor's first evaluation does), and
 * after dropping every reference to it and collecting. The probe (bench/parser-memory-probe.cjs)
 * is a fresh process with serve's node flags and allocator (bin/pgpulse.js), so nothing else counts.
 *
 *   node --import tsx bench/parser-memory.ts
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VARIANTS, TABLES, statementText } from './statements-workload';
import { ROOT, writeResult } from './lib';

const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
const MALLOC_CONF = 'narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

interface Step {
  step: string;
  rss: number;
  anon: number;
  file: number;
  external: number;
}

function main(): void {
  const texts: string[] = [];
  for (let k = 0; k < TABLES; k++) {
    for (let v = 0; v < VARIANTS; v++) {
      texts.push(statementText(k, v));
    }
  }
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--liftoff-only', '--max-semi-space-size=2', join(__dirname, 'parser-memory-probe.cjs')],
    {
      cwd: ROOT,
      input: JSON.stringify(texts),
      env: { ...process.env, ...(existsSync(JEMALLOC) ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF } : {}) },
      encoding: 'utf8',
    }
  );
  if (r.status !== 0) {
    throw new Error(`the probe failed: ${r.stderr}`);
  }
  const steps = JSON.parse(r.stdout) as Step[];
  const rows = steps.map((s, i) => {
    const d = i ? s.rss - steps[i - 1].rss : NaN;
    return `| ${s.step} | ${s.rss.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.file.toFixed(1)} | ${s.external.toFixed(0)} | ${
      i ? (d >= 0 ? '+' : '') + d.toFixed(1) : ''
    } |`;
  });
  const body = `# SQL parser memory (libpg-query)

One fresh process with serve's node flags (\`--liftoff-only --max-semi-space-size=2\`)${
    existsSync(JEMALLOC) ? ` on jemalloc (\`MALLOC_CONF=${MALLOC_CONF}\`)` : ''
  }; memory after forced collections at each step.

| step | VmRSS MB | RssAnon MB | RssFile MB | external MB | Δ VmRSS |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}
`;
  process.stderr.write(`wrote ${writeResult('parser-memory.md', body)}\n`);
}

main();
