/**
 * jemalloc's own account of a running process, from the last statistics print in a stderr log
 * (MALLOC_CONF=…,stats_interval:<bytes>,stats_interval_opts:gdaxe — memory-breakdown's
 * 'pgpulse.js serve (jemalloc stats every 256 MB)' variant writes bench/.work/stderr/<variant>.log):
 * the totals (allocated = live malloc'd bytes, active = their pages, metadata, resident, mapped,
 * retained) and which size classes hold the allocated bytes (small bins vs large extents).
 *
 *   node --import tsx bench/jemalloc-stats-summary.ts <stderr log> [size classes listed, default 15]
 */
import { readFileSync } from 'node:fs';

interface Bin {
  size: number;
  allocated: number;
  curregs: number;
  curslabs: number;
  regs: number;
  pages: number;
}

function main(): void {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 15);
  if (!file) {
    throw new Error('usage: node --import tsx bench/jemalloc-stats-summary.ts <stderr log> [classes]');
  }
  const text = readFileSync(file, 'utf8');
  const begin = text.lastIndexOf('___ Begin jemalloc statistics ___');
  if (begin < 0) {
    throw new Error(`${file}: no jemalloc statistics (was MALLOC_CONF's stats_interval set, and stderr captured?)`);
  }
  const prints = text.split('___ Begin jemalloc statistics ___').length - 1;
  const end = text.indexOf('--- End jemalloc statistics ---', begin);
  if (end < 0) {
    throw new Error(`${file}: the last statistics print is cut off (the process ended while printing)`);
  }
  const block = text.slice(begin, end);
  const totals =
    /Allocated: (\d+), active: (\d+), metadata: (\d+).*?resident: (\d+), mapped: (\d+), retained: (\d+)/.exec(block);
  if (!totals) {
    throw new Error(`${file}: the last print has no "Allocated: …" line`);
  }
  const [allocated, active, metadata, resident, mapped, retained] = totals.slice(1).map(Number);
  const mb = (b: number) => (b / 1048576).toFixed(1);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(block)?.[1] ?? NaN);
  const smallAllocated = Number(/^small:\s+(\d+)/m.exec(block)?.[1] ?? NaN);
  const largeAllocated = Number(/^large:\s+(\d+)/m.exec(block)?.[1] ?? NaN);
  const bins: Bin[] = [];
  const large: Array<{ size: number; allocated: number; extents: number }> = [];
  let section: 'bins' | 'large' | undefined;
  for (const line of block.split('\n')) {
    if (/^bins:/.test(line)) {
      section = 'bins';
      continue;
    }
    if (/^large:\s+size/.test(line)) {
      section = 'large';
      continue;
    }
    const cols = line.trim().split(/\s+/);
    if (section === 'bins' && /^\d+$/.test(cols[0] ?? '') && cols.length >= 16) {
      // size ind allocated nmalloc (#/sec) ndalloc (#/sec) nrequests (#/sec) nshards curregs curslabs nonfull regs pgs util …
      bins.push({
        size: Number(cols[0]),
        allocated: Number(cols[2]),
        curregs: Number(cols[10]),
        curslabs: Number(cols[11]),
        regs: Number(cols[13]),
        pages: Number(cols[14]),
      });
    } else if (section === 'large' && /^\d+$/.test(cols[0] ?? '') && cols.length >= 10) {
      // size ind allocated nmalloc (#/sec) ndalloc (#/sec) nrequests (#/sec) curlextents
      large.push({ size: Number(cols[0]), allocated: Number(cols[2]), extents: Number(cols[9]) });
    } else if (section && !/^\s*---/.test(line) && !/^\s*\d/.test(line)) {
      section = undefined;
    }
  }
  const slabBytes = bins.reduce((s, b) => s + b.curslabs * b.pages * 4096, 0);
  const out: string[] = [];
  out.push(`${file}: the last of ${prints} statistics prints`);
  out.push('');
  out.push('| jemalloc | MB |');
  out.push('|---|---:|');
  out.push(`| allocated (live malloc'd bytes) | ${mb(allocated)} |`);
  out.push(`| … in small size classes (≤ 14 KB, slabs) | ${mb(smallAllocated)} |`);
  out.push(`| … in large extents (≥ 16 KB) | ${mb(largeAllocated)} |`);
  out.push(`| slabs holding the small classes (their pages) | ${mb(slabBytes)} |`);
  out.push(`| active (pages of live allocations) | ${mb(active)} |`);
  out.push(`| metadata (jemalloc's own) | ${mb(metadata)} |`);
  out.push(`| tcache (cached in threads) | ${mb(field('tcache_bytes'))} |`);
  out.push(`| resident | ${mb(resident)} |`);
  out.push(`| mapped | ${mb(mapped)} |`);
  out.push(`| retained (address space kept, not resident) | ${mb(retained)} |`);
  out.push('');
  out.push(`Small size classes by allocated bytes (top ${top}):`);
  out.push('');
  out.push('| size B | allocated MB | regions in use | slabs | slab MB | use |');
  out.push('|---:|---:|---:|---:|---:|---:|');
  for (const b of [...bins].sort((x, y) => y.allocated - x.allocated).slice(0, top)) {
    const slab = b.curslabs * b.pages * 4096;
    out.push(
      `| ${b.size} | ${mb(b.allocated)} | ${b.curregs} | ${b.curslabs} | ${mb(slab)} | ${slab ? ((b.allocated / slab) * 100).toFixed(0) : '-'} % |`
    );
  }
  out.push('');
  out.push(`Large size classes by allocated bytes (top ${top}):`);
  out.push('');
  out.push('| size KB | allocated MB | extents |');
  out.push('|---:|---:|---:|');
  for (const l of [...large].sort((x, y) => y.allocated - x.allocated).slice(0, top)) {
    out.push(`| ${(l.size / 1024).toFixed(0)} | ${mb(l.allocated)} | ${l.extents} |`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

main();
