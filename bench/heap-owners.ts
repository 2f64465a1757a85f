/**
 * Who keeps the strings and arrays of a V8 heap snapshot (BENCH_SNAPSHOT=1 of
 * bench/memory-breakdown.ts): each string / array / typed-array backing node is attributed to its
 * owner — the nearest named object (an instance of a class, or a module's closure) on its shortest
 * retaining path from the roots, with the property that leads down from it ("Store.seriesIds").
 * Self sizes, grouped by owner; a shortest path is one owner among possibly several, as in
 * DevTools' "retainers" view.
 *
 *   node --import tsx bench/heap-owners.ts bench/.work/snapshots/<variant>.heapsnapshot [rows]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) {
  throw new Error('usage: node --import tsx bench/heap-owners.ts <file.heapsnapshot> [rows]');
}
const rows = Number(process.argv[3] ?? 30);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const nw = meta.node_fields.length;
const ew = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const [nType, nName, nSize, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  meta.node_fields.indexOf(f)
);
const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
const count = snap.nodes.length / nw;
const type = (n: number) => nodeTypes[snap.nodes[n * nw + nType]];
const name = (n: number) => snap.strings[snap.nodes[n * nw + nName]];
const size = (n: number) => snap.nodes[n * nw + nSize];

// shortest paths from the root (node 0) over strong edges: parent[n] and the edge that reached it
const firstEdge = new Uint32Array(count + 1);
for (let n = 0; n < count; n++) {
  firstEdge[n + 1] = firstEdge[n] + snap.nodes[n * nw + nEdges];
}
const parent = new Int32Array(count).fill(-1);
const viaEdge = new Int32Array(count).fill(-1);
const queue = new Uint32Array(count);
let head = 0;
let tail = 0;
queue[tail++] = 0;
parent[0] = 0;
while (head < tail) {
  const n = queue[head++];
  for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) {
    const et = edgeTypes[snap.edges[e * ew + eType]];
    if (et === 'weak' || et === 'shortcut') {
      continue;
    }
    const to = snap.edges[e * ew + eTo] / nw;
    if (parent[to] < 0) {
      parent[to] = n;
      viaEdge[to] = e;
      queue[tail++] = to;
    }
  }
}

function edgeLabel(e: number): string {
  const et = edgeTypes[snap.edges[e * ew + eType]];
  const v = snap.edges[e * ew + eName];
  // elements, and the numbered slots of a Map's or an object's backing store, say nothing of the owner
  return et === 'element' || et === 'hidden' || /^\d+$/.test(snap.strings[v]) ? '[]' : snap.strings[v];
}

// containers and V8 internals: look past them for the object that owns them
const GENERIC = new Set([
  'Object',
  'Array',
  'Map',
  'Set',
  'system / Context',
  '(object properties)',
  '(object elements)',
  '(internal array)',
  'system / PropertyArray',
]);
function named(n: number): boolean {
  const t = type(n);
  if (t === 'closure') {
    return true;
  }
  return t === 'object' && !GENERIC.has(name(n)) && !name(n).startsWith('system /');
}

function owner(n: number): string {
  const path: string[] = [];
  let cur = n;
  for (let hops = 0; hops < 40 && cur !== 0 && parent[cur] >= 0; hops++) {
    path.unshift(edgeLabel(viaEdge[cur]));
    cur = parent[cur];
    if (named(cur)) {
      const what = type(cur) === 'closure' ? `${name(cur) || '(anonymous)'}()` : name(cur);
      return `${what}.${path
        .filter((p) => !['[]', 'table', 'first', 'second'].includes(p))
        .slice(0, 2)
        .join('.')}`;
    }
  }
  return parent[n] < 0
    ? '(unreachable)'
    : `(root) ${path
        .filter((p) => p !== '[]')
        .slice(0, 3)
        .join('.')}`;
}

const kinds: Record<string, (n: number) => boolean> = {
  strings: (n) => ['string', 'concatenated string', 'sliced string'].includes(type(n)),
  arrays: (n) =>
    (type(n) === 'array' || (type(n) === 'object' && name(n) === 'Array') || type(n) === 'hidden') &&
    !name(n).startsWith('(code'),
  'plain objects': (n) => type(n) === 'object' && name(n) === 'Object',
};
const mb = (b: number) => (b / 1048576).toFixed(2);
let out = '';
for (const [kind, is] of Object.entries(kinds)) {
  const by = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (!is(n)) {
      continue;
    }
    const s = size(n);
    total += s;
    const o = owner(n);
    const x = by.get(o) ?? { bytes: 0, count: 0 };
    x.bytes += s;
    x.count++;
    by.set(o, x);
  }
  out += `\n${kind}: ${mb(total)} MB\n\n| owner (nearest named object on the shortest path) | MB | nodes |\n|---|---:|---:|\n`;
  out += [...by]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, rows)
    .map(([k, v]) => `| ${k.replace(/\|/g, '\\|').slice(0, 100)} | ${mb(v.bytes)} | ${v.count} |`)
    .join('\n');
  out += '\n';
}
process.stdout.write(out);
