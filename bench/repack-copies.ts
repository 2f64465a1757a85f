/**
 * The fleet's growth again from the raw copies a fleet-scale run kept (`BENCH_KEEP_COPIES`), packed by
 * this checkout's code: what a codec change does to the same history, without another 20-minute run.
 * The copies are copied (the kept ones stay raw), packed as fleet-scale packs them, and taken apart
 * as its report does (growthSection). What the copies cannot say comes from that run's report: the
 * active statements, the seconds between the copy a third in and the end, the phase's seconds.
 *
 *   BENCH_ACTIVE=7024 BENCH_THIRD_TO_END_S=479.38 BENCH_SECONDS=720.233 \
 *     node --import tsx bench/repack-copies.ts /tmp/growth6-copies on
 *
 * Prints the growth section (markdown).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { growthSection, packCopy } from './fleet-scale';
import { storeAnatomy } from './store-anatomy';

function required(name: string): number {
  const x = Number(process.env[name]);
  if (!Number.isFinite(x) || x <= 0) {
    throw new Error(`${name} is required: take it from the fleet-scale report of the run that kept the copies`);
  }
  return x;
}

function main(): void {
  const [dir, phase = 'on'] = process.argv.slice(2);
  if (!dir) {
    throw new Error('usage: node --import tsx bench/repack-copies.ts <copies dir> [phase]');
  }
  const active = required('BENCH_ACTIVE');
  const thirdToEndS = required('BENCH_THIRD_TO_END_S');
  const seconds = required('BENCH_SECONDS');
  const work = mkdtempSync(join(tmpdir(), 'pgpulse-repack-'));
  try {
    const copy = (k: string) => {
      const to = join(work, `${k}.db`);
      copyFileSync(join(dir, `${phase}-${k}.db`), to);
      return to;
    };
    const [start, third, end] = ['start', 'third', 'end'].map(copy);
    const [b0, bThird, b1] = [start, third, end].map(packCopy);
    const db = new Database(end, { readonly: true, fileMustExist: true });
    const targets = db.prepare('SELECT count(*) FROM target').pluck().get() as number;
    db.close();
    const perDayPer1k = (bytes: number, s: number) => ((bytes / s) * 86_400) / 1e6 / (active / 1000);
    console.log(
      growthSection({
        activeStatements: active,
        anatomyThird: storeAnatomy(third),
        anatomyEnd: storeAnatomy(end),
        packedMb: { start: b0 / 1e6, third: bThird / 1e6, end: b1 / 1e6 },
        packedPerDayPer1k: perDayPer1k(b1 - b0, seconds),
        slopePerDayPer1k: perDayPer1k(b1 - bThird, thirdToEndS),
        targets,
        thirdToEndS,
      })
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
