/**
 * Where a store's bytes are: SQLite's dbstat per table and index, and the chunks' bytes per
 * collector and field split into the codec's parts (tag, sample id, value, running total, each
 * chunk's first point, which is written whole). Used by bench/fleet-scale.ts on its packed copies;
 * also on its own:
 *
 *   node --import tsx bench/store-anatomy.ts path/to/pgpulse.db
 */
import Database from 'better-sqlite3';
import { chunkLayout } from '../src/sidecar/store/chunk-codec';
import { fmt } from './lib';

export interface FieldBytes {
  collector: string;
  field: string;
  series: number;
  chunks: number;
  points: number;
  /** blob bytes by part */
  tags: number;
  ids: number;
  values: number;
  totals: number;
  header: number;
  first: number;
}

export interface Anatomy {
  /** dbstat bytes (pages) per table or index, largest first */
  objects: Array<{ name: string; bytes: number }>;
  total: number;
  samples: number;
  series: number;
  rows: number;
  chunks: number;
  chunkedPoints: number;
  /** blob bytes of all chunks, and the bytes of point_chunk + its index (pages) */
  blobBytes: number;
  chunkBytes: number;
  statementTexts: number;
  fields: FieldBytes[];
}

export function storeAnatomy(path: string): Anatomy {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const objects = db
      .prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY 2 DESC')
      .all() as Array<{ name: string; bytes: number }>;
    const size = (name: string) => objects.find((o) => o.name === name)?.bytes ?? 0;
    const count = (sql: string) => db.prepare(sql).pluck().get() as number;
    const byField = new Map<string, FieldBytes>();
    const seriesOf = db.prepare('SELECT id, collector, field FROM series').raw().all() as Array<
      [number, string, string]
    >;
    const meta = new Map(seriesOf.map(([id, c, f]) => [id, [c, f] as const]));
    for (const [, c, f] of seriesOf) {
      const k = `${c}\0${f}`;
      const e = byField.get(k) ?? {
        collector: c,
        field: f,
        series: 0,
        chunks: 0,
        points: 0,
        tags: 0,
        ids: 0,
        values: 0,
        totals: 0,
        header: 0,
        first: 0,
      };
      e.series++;
      byField.set(k, e);
    }
    let blobBytes = 0;
    let chunkedPoints = 0;
    for (const [sid, data] of db.prepare('SELECT series_id, data FROM point_chunk').raw().iterate() as Iterable<
      [number, Buffer]
    >) {
      const [c, f] = meta.get(sid) ?? ['?', '?'];
      const e = byField.get(`${c}\0${f}`) as FieldBytes;
      const l = chunkLayout(data);
      e.chunks++;
      e.points += l.points;
      e.tags += l.tags;
      e.ids += l.ids;
      e.values += l.values;
      e.totals += l.totals;
      e.header += l.header;
      e.first += l.first;
      blobBytes += data.length;
      chunkedPoints += l.points;
    }
    return {
      objects,
      total: objects.reduce((a, o) => a + o.bytes, 0),
      samples: count('SELECT count(*) FROM sample'),
      series: seriesOf.length,
      rows: count('SELECT count(*) FROM point'),
      chunks: count('SELECT count(*) FROM point_chunk'),
      chunkedPoints,
      blobBytes,
      chunkBytes: size('point_chunk') + size('point_chunk_by_series'),
      statementTexts: count('SELECT count(*) FROM statement_text'),
      fields: [...byField.values()].sort(
        (a, b) => b.tags + b.ids + b.values + b.totals - (a.tags + a.ids + a.values + a.totals)
      ),
    };
  } finally {
    db.close();
  }
}

/** markdown: the largest tables and indexes, then bytes per point by part for the largest fields */
export function anatomyTables(a: Anatomy, fields = 14): string {
  const mb = (b: number) => `${fmt(b / 1e6, 2)} MB`;
  const objects = a.objects
    .filter((o) => o.bytes >= a.total / 200)
    .map((o) => `| ${o.name} | ${mb(o.bytes)} | ${fmt((o.bytes / a.total) * 100)} % |`);
  const per = (x: number, n: number) => (n > 0 ? fmt(x / n, 2) : 'n/a');
  const rows = a.fields
    .filter((f) => f.points > 0)
    .slice(0, fields)
    .map(
      (f) =>
        `| ${f.collector}.${f.field} | ${f.points.toLocaleString('en-US')} | ${fmt(f.points / Math.max(1, f.chunks))} | ${per(f.tags, f.points)} | ${per(f.ids, f.points)} | ${per(f.values, f.points)} | ${per(f.totals, f.points)} | ${per(f.first + f.header, f.chunks)} | ${per(f.tags + f.ids + f.values + f.totals + f.header, f.points)} |`
    );
  const sum = (k: keyof FieldBytes) => a.fields.reduce((s, f) => s + (f[k] as number), 0);
  const all = `| **all** | ${a.chunkedPoints.toLocaleString('en-US')} | ${fmt(a.chunkedPoints / Math.max(1, a.chunks))} | ${per(sum('tags'), a.chunkedPoints)} | ${per(sum('ids'), a.chunkedPoints)} | ${per(sum('values'), a.chunkedPoints)} | ${per(sum('totals'), a.chunkedPoints)} | ${per(sum('first') + sum('header'), a.chunks)} | ${per(a.blobBytes, a.chunkedPoints)} |`;
  return `| table or index | bytes (dbstat) | share |
|---|---:|---:|
${objects.join('\n')}
| **file** | ${mb(a.total)} | |

${a.samples.toLocaleString('en-US')} samples, ${a.series.toLocaleString('en-US')} series, ${a.rows.toLocaleString('en-US')} point rows, ${a.chunkedPoints.toLocaleString('en-US')} points in ${a.chunks.toLocaleString('en-US')} chunks (blobs ${mb(a.blobBytes)}, \`point_chunk\` + its index ${mb(a.chunkBytes)}: ${fmt((a.chunkBytes - a.blobBytes) / Math.max(1, a.chunks), 1)} B of row, page and index per chunk), ${a.statementTexts.toLocaleString('en-US')} statement texts.

| chunked field | points | points / chunk | tag B/pt | sample id B/pt | value B/pt | total B/pt | first point + header B/chunk | blob B/pt |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}
${all}`;
}

if (require.main === module) {
  const path = process.argv[2];
  if (!path) {
    throw new Error('usage: node --import tsx bench/store-anatomy.ts path/to/pgpulse.db');
  }
  console.log(anatomyTables(storeAnatomy(path), 30));
}
