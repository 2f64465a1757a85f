/**
 * Index and table tables: activity inside the range from deltas, state from the latest sample,
 * and the flags a person acts on (unused, duplicate, invalid; dead tuples; vacuum age).
 */
import type { Frame } from '../../../model/frames';
import { latestValues, loadSeries, rangeDeltas, type EngineContext } from '../context';
import { tableFrame } from '../series-frames';

/** Same table, same key columns/expressions and predicate, same access method: a duplicate. */
export function indexSignature(info: Record<string, unknown>, table: string): string {
  const def = String(info.indexdef ?? '');
  // strip the index name and UNIQUE so two indexes that differ only in name compare equal
  const body = def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON /i, '');
  return `${table}|${body}`;
}

export function indexUsage(ctx: EngineContext): Frame[] {
  const data = loadSeries(ctx, 'indexes', ['idx_scan', 'idx_tup_read', 'size_bytes']);
  const scans = rangeDeltas(data, ['idx_scan', 'idx_tup_read']);
  const sizes = latestValues(data, 'size_bytes');
  const entities = new Map(
    ctx.store.entities(ctx.query.target, 'indexes', ctx.filter).map((e) => [JSON.stringify(e.labels), e])
  );
  const lastSample = data.samples.length ? data.samples[data.samples.length - 1].ts : null;
  const rows = [...sizes.entries()]
    .filter(
      ([, v]) => v.value !== null && (lastSample === null || v.ts === lastSample || (v.ts ?? 0) >= ctx.range.from)
    )
    .map(([k, v]) => {
      const info = entities.get(k)?.info ?? {};
      const d = scans.get(k);
      return {
        labels: v.labels,
        info,
        scans: d?.seen ? d.totals.idx_scan : null,
        tupRead: d?.seen ? d.totals.idx_tup_read : null,
        size: v.value as number,
        firstSeen: entities.get(k)?.firstSeen ?? null,
      };
    });
  const sigCount = new Map<string, number>();
  for (const r of rows) {
    const sig = indexSignature(r.info, `${r.labels.schemaname}.${r.labels.relname}`);
    sigCount.set(sig, (sigCount.get(sig) ?? 0) + 1);
  }
  const observedMs = data.samples.length > 1 ? data.samples[data.samples.length - 1].ts - data.samples[0].ts : 0;
  const enriched = rows.map((r) => {
    const constraint =
      r.info.is_primary === true ||
      r.info.is_unique === true ||
      r.info.is_exclusion === true ||
      r.info.is_replident === true;
    return {
      ...r,
      unused: r.scans === 0 && !constraint,
      duplicate: (sigCount.get(indexSignature(r.info, `${r.labels.schemaname}.${r.labels.relname}`)) ?? 0) > 1,
      invalid: r.info.is_valid === false,
      constraint,
    };
  });
  const orderBy = ctx.query.orderBy ?? 'scans';
  enriched.sort((a, b) =>
    orderBy === 'size'
      ? b.size - a.size
      : orderBy === 'name'
        ? a.labels.indexrelname.localeCompare(b.labels.indexrelname)
        : (a.scans ?? -1) - (b.scans ?? -1) || b.size - a.size
  );
  const top = enriched.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 100);
  return [
    tableFrame(
      ctx,
      [
        { name: 'schema', type: 'string', values: top.map((r) => r.labels.schemaname) },
        { name: 'table', type: 'string', values: top.map((r) => r.labels.relname) },
        { name: 'index', type: 'string', values: top.map((r) => r.labels.indexrelname) },
        { name: 'type', type: 'string', values: top.map((r) => String(r.info.amname ?? '')) },
        {
          name: 'scans',
          type: 'number',
          values: top.map((r) => r.scans),
          nullable: true,
          config: { displayName: 'Scans in range', unit: 'short' },
        },
        {
          name: 'tuples_read',
          type: 'number',
          values: top.map((r) => r.tupRead),
          nullable: true,
          config: { displayName: 'Tuples read in range', unit: 'short' },
        },
        {
          name: 'size_bytes',
          type: 'number',
          values: top.map((r) => r.size),
          config: { displayName: 'Size', unit: 'bytes' },
        },
        { name: 'unused', type: 'boolean', values: top.map((r) => r.unused) },
        { name: 'duplicate', type: 'boolean', values: top.map((r) => r.duplicate) },
        { name: 'invalid', type: 'boolean', values: top.map((r) => r.invalid) },
        {
          name: 'constraint',
          type: 'boolean',
          values: top.map((r) => r.constraint),
          config: { description: 'primary key, unique, exclusion or replica identity: never reported unused' },
        },
        { name: 'definition', type: 'string', values: top.map((r) => String(r.info.indexdef ?? '')) },
      ],
      `indexes with Δidx_scan inside the range (${Math.round(observedMs / 1000)} s observed); unused = no scan in the range and not a constraint index`
    ),
  ];
}

const TABLE_COUNTERS = [
  'seq_scan',
  'seq_tup_read',
  'idx_scan',
  'n_tup_ins',
  'n_tup_upd',
  'n_tup_del',
  'vacuum_count',
  'autovacuum_count',
  'analyze_count',
  'autoanalyze_count',
];
const TABLE_GAUGES = [
  'n_live_tup',
  'n_dead_tup',
  'n_mod_since_analyze',
  'size_bytes',
  'last_vacuum_ms',
  'last_autovacuum_ms',
  'last_analyze_ms',
  'last_autoanalyze_ms',
  'xid_age',
];

export function tableStats(ctx: EngineContext): Frame[] {
  const data = loadSeries(ctx, 'tables', [...TABLE_COUNTERS, ...TABLE_GAUGES]);
  const deltas = rangeDeltas(data, TABLE_COUNTERS);
  const latest = Object.fromEntries(TABLE_GAUGES.map((g) => [g, latestValues(data, g)]));
  const now = ctx.range.to;
  const ageS = (...ts: Array<number | null | undefined>) => {
    const t = Math.max(...ts.map((x) => x ?? 0));
    return t > 0 ? Math.max(0, (now - t) / 1000) : null;
  };
  const rows = [...latest.size_bytes.entries()]
    .filter(([, v]) => v.value !== null)
    .map(([k, v]) => {
      const d = deltas.get(k);
      const g = (name: string) => latest[name].get(k)?.value ?? null;
      const live = g('n_live_tup') ?? 0;
      const dead = g('n_dead_tup') ?? 0;
      return {
        labels: v.labels,
        seq: d?.seen ? d.totals.seq_scan : null,
        seqRead: d?.seen ? d.totals.seq_tup_read : null,
        idx: d?.seen ? d.totals.idx_scan : null,
        writes: d?.seen ? d.totals.n_tup_ins + d.totals.n_tup_upd + d.totals.n_tup_del : null,
        live,
        dead,
        deadRatio: live + dead > 0 ? dead / (live + dead) : null,
        size: v.value as number,
        vacuumAge: ageS(g('last_vacuum_ms'), g('last_autovacuum_ms')),
        analyzeAge: ageS(g('last_analyze_ms'), g('last_autoanalyze_ms')),
        modSinceAnalyze: g('n_mod_since_analyze'),
        xidAge: g('xid_age'),
      };
    });
  const orderBy = ctx.query.orderBy ?? 'seq_scans';
  const keyFn: Record<string, (r: (typeof rows)[number]) => number> = {
    seq_scans: (r) => r.seq ?? -1,
    scans: (r) => (r.seq ?? 0) + (r.idx ?? 0),
    dead_tuples: (r) => r.dead,
    size: (r) => r.size,
    xid_age: (r) => r.xidAge ?? -1,
  };
  if (orderBy === 'name') {
    rows.sort((a, b) =>
      `${a.labels.schemaname}.${a.labels.relname}`.localeCompare(`${b.labels.schemaname}.${b.labels.relname}`)
    );
  } else {
    const f = keyFn[orderBy] ?? keyFn.seq_scans;
    rows.sort((a, b) => f(b) - f(a));
  }
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 100);
  return [
    tableFrame(
      ctx,
      [
        { name: 'schema', type: 'string', values: top.map((r) => r.labels.schemaname) },
        { name: 'table', type: 'string', values: top.map((r) => r.labels.relname) },
        {
          name: 'seq_scans',
          type: 'number',
          values: top.map((r) => r.seq),
          nullable: true,
          config: { displayName: 'Seq scans in range', unit: 'short' },
        },
        {
          name: 'seq_tup_read',
          type: 'number',
          values: top.map((r) => r.seqRead),
          nullable: true,
          config: { displayName: 'Rows read by seq scans', unit: 'short' },
        },
        {
          name: 'idx_scans',
          type: 'number',
          values: top.map((r) => r.idx),
          nullable: true,
          config: { displayName: 'Index scans in range', unit: 'short' },
        },
        {
          name: 'writes',
          type: 'number',
          values: top.map((r) => r.writes),
          nullable: true,
          config: { displayName: 'Rows written in range', unit: 'short' },
        },
        { name: 'live_tuples', type: 'number', values: top.map((r) => r.live), config: { unit: 'short' } },
        { name: 'dead_tuples', type: 'number', values: top.map((r) => r.dead), config: { unit: 'short' } },
        {
          name: 'dead_ratio',
          type: 'number',
          values: top.map((r) => r.deadRatio),
          nullable: true,
          config: { unit: 'percentunit' },
        },
        { name: 'size_bytes', type: 'number', values: top.map((r) => r.size), config: { unit: 'bytes' } },
        {
          name: 'vacuum_age_s',
          type: 'number',
          values: top.map((r) => r.vacuumAge),
          nullable: true,
          config: { displayName: 'Since last vacuum', unit: 's' },
        },
        {
          name: 'analyze_age_s',
          type: 'number',
          values: top.map((r) => r.analyzeAge),
          nullable: true,
          config: { displayName: 'Since last analyze', unit: 's' },
        },
        {
          name: 'mod_since_analyze',
          type: 'number',
          values: top.map((r) => r.modSinceAnalyze),
          nullable: true,
          config: { unit: 'short' },
        },
        {
          name: 'xid_age',
          type: 'number',
          values: top.map((r) => r.xidAge),
          nullable: true,
          config: {
            displayName: 'XID age',
            unit: 'short',
            description: 'age(relfrozenxid): transactions since the table was last frozen',
          },
        },
      ],
      'tables: scans and writes from deltas inside the range; tuples, size and vacuum/analyze times from the latest sample'
    ),
  ];
}
