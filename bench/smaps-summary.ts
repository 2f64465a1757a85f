/**
 * Where a process's resident memory is, from /proc/<pid>/smaps (or a copy of it, as
 * BENCH_SMAPS=1 of bench/memory-breakdown.ts writes): resident kB per kind of mapping — the node
 * binary's code and read-only data, other files (shared libraries, SQLite's WAL index), V8's heap
 * pages (anonymous regions of exactly 256 KB), other anonymous memory (jemalloc's extents, WebAssembly
 * memory, thread stacks) in large and small regions.
 *
 *   node --import tsx bench/smaps-summary.ts <pid | smaps file>
 */
import { readFileSync } from 'node:fs';

interface Mapping {
  range: string;
  sizeKb: number;
  perms: string;
  path: string;
  rssKb: number;
}

function parse(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+-[0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [from, to] = head[1].split('-').map((x) => parseInt(x, 16));
      cur = { range: head[1], sizeKb: (to - from) / 1024, perms: head[2], path: head[3].trim(), rssKb: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('Rss:')) {
      cur.rssKb = Number(/(\d+)/.exec(line)![1]);
    }
  }
  return out;
}

function kind(m: Mapping, binary: string): string {
  if ((binary && m.path === binary) || /\/node$/.test(m.path)) {
    return m.perms.includes('x') ? 'node binary: code' : 'node binary: data and read-only data';
  }
  if (m.path === '[stack]') {
    return 'main thread stack';
  }
  if (m.path === '[heap]') {
    return 'brk heap';
  }
  if (m.path.startsWith('/')) {
    return /\.so(\.|$)/.test(m.path) ? `shared library ${m.path.replace(/.*\//, '')}` : `file ${m.path}`;
  }
  if (m.path.startsWith('[')) {
    return m.path;
  }
  // V8 maps its heap in pages of 256 KB each; jemalloc's extents and WebAssembly memory are larger
  if (m.sizeKb === 256) {
    return 'anonymous 256 KB regions (V8 heap pages)';
  }
  return m.rssKb >= 1024 ? 'other anonymous, regions ≥ 1 MB resident' : 'other anonymous, regions < 1 MB resident';
}

const arg = process.argv[2];
if (!arg) {
  throw new Error('usage: node --import tsx bench/smaps-summary.ts <pid | smaps file>');
}
const text = readFileSync(/^\d+$/.test(arg) ? `/proc/${arg}/smaps` : arg, 'utf8');
const maps = parse(text);
const binary = /^\d+$/.test(arg) ? readFileSync(`/proc/${arg}/cmdline`, 'utf8').split('\0')[0] : '';
const sums = new Map<string, number>();
for (const m of maps) {
  const k = kind(m, binary);
  sums.set(k, (sums.get(k) ?? 0) + m.rssKb);
}
const total = maps.reduce((s, m) => s + m.rssKb, 0);
const rows = [...sums].filter(([, kb]) => kb >= 256).sort((a, b) => b[1] - a[1]);
const small = [...sums].filter(([, kb]) => kb < 256).reduce((s, [, kb]) => s + kb, 0);
const big = maps
  .filter((m) => !m.path && m.sizeKb !== 256 && m.rssKb >= 1024)
  .sort((a, b) => b.rssKb - a.rssKb)
  .map((m) => (m.rssKb / 1024).toFixed(1));
process.stdout.write(
  `| resident | MB |\n|---|---:|\n${rows.map(([k, kb]) => `| ${k} | ${(kb / 1024).toFixed(1)} |`).join('\n')}\n| the rest (each < 0.25 MB) | ${(small / 1024).toFixed(1)} |\n| **total** | **${(total / 1024).toFixed(1)}** |\n\nother anonymous regions ≥ 1 MB, MB resident each: ${big.join(', ')}\n`
);
