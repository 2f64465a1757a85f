/**
 * What reading every stored statement text costs the sidecar's main thread: the vector collector
 * (every 4th cycle, on every target with pg_stat_statements) read all of them to classify the
 * few it had not seen; it now reads only those. One store with the 5,000 texts of
 * bench/statements-workload.ts (as pg_stat_statements normalises them); the read repeated,
 * CPU time and the V8 heap it allocates per read (process.cpuUsage; used heap after minus before,
 * with a young generation large enough that no GC runs inside the read).
 *
 *   node --expose-gc --max-semi-space-size=64 --import tsx bench/statement-texts-read.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Store } from '../src/sidecar/store/store';
import { fmt, median, writeResult } from './lib';
import { TABLES, VARIANTS, statementText } from './statements-workload';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  throw new Error('run with node --expose-gc --max-semi-space-size=64');
}
const dir = mkdtempSync(join(tmpdir(), 'pgpulse-texts-'));
const store = Store.open(dir);
try {
  const texts: Array<{ queryid: string; text: string }> = [];
  for (let k = 0; k < TABLES; k++) {
    for (let v = 0; v < VARIANTS; v++) {
      texts.push({ queryid: String(1_000_000_007 * (k * VARIANTS + v + 1)), text: statementText(k, v) });
    }
  }
  store.putStatementTexts('t', texts, Date.now());
  const measure = (read: () => Map<string, string>) => {
    const ms: number[] = [];
    const mb: number[] = [];
    for (let i = 0; i < 12; i++) {
      gc();
      const before = getHeapStatistics().used_heap_size;
      const t0 = process.cpuUsage();
      const got = read();
      const cpu = process.cpuUsage(t0);
      mb.push((getHeapStatistics().used_heap_size - before) / 1048576);
      ms.push((cpu.user + cpu.system) / 1000);
      if (got.size < 0) {
        throw new Error('unreachable');
      }
    }
    return `${fmt(median(ms), 1)} ms CPU, ${fmt(median(mb), 1)} MB allocated`;
  };
  const all = measure(() => store.statementTexts('t'));
  const ten = texts.slice(0, 10).map((t) => t.queryid);
  const some = measure(() => store.statementTexts('t', ten));
  const body = `# Reading stored statement texts on the main thread

${texts.length.toLocaleString('en-US')} texts of bench/statements-workload.ts in one store; medians of 12 reads.

| read | per read |
|---|---|
| every text (\`statementTexts(target)\`, what the vector collector did every 4th cycle) | ${all} |
| the texts of 10 new statements (\`statementTexts(target, queryids)\`, what it reads now) | ${some} |
`;
  process.stderr.write(body);
  writeResult('statement-texts-read.md', body);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
