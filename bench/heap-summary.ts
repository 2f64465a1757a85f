/**
 * What a V8 heap snapshot (BENCH_SNAPSHOT=1 of bench/memory-breakdown.ts) holds, by self size:
 * per node type (strings, code, arrays, objects …) and the largest constructors / string kinds.
 * Self sizes add up to the live heap; they do not say who keeps an object (no dominator tree).
 *
 *   node --import tsx bench/heap-summary.ts bench/.work/snapshots/<variant>.heapsnapshot
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  throw new Error('usage: node --import tsx bench/heap-summary.ts <file.heapsnapshot>');
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
const byType = new Map<string, number>();
const byName = new Map<string, number>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]];
  const size = snap.nodes[i + sizeAt];
  total += size;
  byType.set(type, (byType.get(type) ?? 0) + size);
  // strings are named by their text: group them by kind instead
  const name =
    type === 'string' || type === 'concatenated string' || type === 'sliced string'
      ? `(${type})`
      : `${type}: ${snap.strings[snap.nodes[i + nameAt]].slice(0, 60)}`;
  byName.set(name, (byName.get(name) ?? 0) + size);
}
const mb = (b: number) => (b / 1048576).toFixed(1);
const top = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `| ${k.replace(/\|/g, '\\|')} | ${mb(v)} |`)
    .join('\n');
process.stdout.write(
  `live heap (self sizes): ${mb(total)} MB\n\n| node type | MB |\n|---|---:|\n${top(byType, 12)}\n\n| largest by name | MB |\n|---|---:|\n${top(byName, 25)}\n`
);
