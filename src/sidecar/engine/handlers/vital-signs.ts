/**
 * Vital signs that need more than a generic computation: tables of the last sample (VACUUM
 * progress, oldest transactions, sequences), and series that must say when they cannot be
 * trusted (I/O time with track_io_timing off, sequences the monitoring role cannot read).
 */
import type { Frame } from '../../../model/frames';
import { latestValues, loadSeries, type CounterData, type EngineContext } from '../context';
import { evaluateGeneric } from '../generic';
import { notify } from '../notices';
import { columnsOf, seriesFrame, tableFrame } from '../series-frames';
import { bucketOf } from '../steps';

/** Rows of the last sample in the range: an object gone from it (vacuum done, session ended) is gone. */
function lastSampleRows(ctx: EngineContext, collector: string, fields: string[]) {
  const data = loadSeries(ctx, collector, fields);
  const ok = data.samples.filter((s) => s.ok);
  const last = ok.length ? ok[ok.length - 1].ts : null;
  const values = new Map(fields.map((f) => [f, latestValues(data, f)]));
  const info = new Map(
    ctx.store.entities(ctx.query.target, collector, ctx.filter).map((e) => [JSON.stringify(e.labels), e.info ?? {}])
  );
  const keys = new Set<string>();
  for (const m of values.values()) {
    for (const [k, v] of m) {
      if (v.ts !== null && v.ts === last) {
        keys.add(k);
      }
    }
  }
  return {
    last,
    rows: [...keys].map((k) => {
      const first = [...values.values()].find((m) => m.has(k))!.get(k)!;
      const nums: Record<string, number | null> = {};
      for (const [f, m] of values) {
        const v = m.get(k);
        nums[f] = v && v.ts === last ? v.value : null;
      }
      return { labels: first.labels, nums, info: info.get(k) ?? {} };
    }),
  };
}

function settingText(ctx: EngineContext, name: string): string | undefined {
  const e = ctx.store.entities(ctx.query.target, 'settings', { name })[0];
  const s = e?.info?.setting;
  return typeof s === 'string' ? s : undefined;
}

export function ioTime(ctx: EngineContext): Frame[] {
  const timing = settingText(ctx, 'track_io_timing');
  if (timing === 'off') {
    notify(
      ctx,
      'warning',
      'track_io_timing is off: PostgreSQL does not time I/O, so read and write times stay 0. Turn it on (ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf()) — pg_test_timing tells its cost on this machine'
    );
  }
  return evaluateGeneric(ctx, {
    op: 'rate',
    collector: 'io',
    fields: [
      { field: 'read_time', name: 'read_time' },
      { field: 'write_time', name: 'write_time' },
    ],
    by: ['backend_type', 'object', 'context'],
  });
}

export function vacuumProgress(ctx: EngineContext): Frame[] {
  const { rows } = lastSampleRows(ctx, 'vacuum_progress', [
    'pid',
    'heap_blks_total',
    'heap_blks_scanned',
    'heap_blks_vacuumed',
    'index_vacuum_count',
    'scanned_ratio',
    'autovacuum',
    'indexes_total',
    'indexes_processed',
  ]);
  rows.sort((a, b) => (b.nums.heap_blks_total ?? 0) - (a.nums.heap_blks_total ?? 0));
  const col = columnsOf(rows);
  return [
    tableFrame(
      ctx,
      [
        col('relation', 'string', (r) => r.labels.relation, {
          displayName: 'Table',
          description: "schema.table; 'oid N' for a table of another database than the one pgpulse connects to",
        }),
        col('datname', 'string', (r) => r.labels.datname),
        col('pid', 'number', (r) => r.nums.pid),
        col('phase', 'string', (r) => String(r.info.phase ?? '')),
        col('heap_blks_scanned', 'number', (r) => r.nums.heap_blks_scanned, { displayName: 'Heap blocks scanned' }),
        col('heap_blks_total', 'number', (r) => r.nums.heap_blks_total, { displayName: 'Heap blocks total' }),
        col('scanned_ratio', 'number', (r) => r.nums.scanned_ratio, {
          displayName: 'Done',
          unit: 'percentunit',
          description: 'heap_blks_scanned / heap_blks_total',
        }),
        col('heap_blks_vacuumed', 'number', (r) => r.nums.heap_blks_vacuumed, { displayName: 'Heap blocks vacuumed' }),
        col('index_vacuum_count', 'number', (r) => r.nums.index_vacuum_count, { displayName: 'Index passes' }),
        col('indexes_processed', 'number', (r) => r.nums.indexes_processed, {
          displayName: 'Indexes done',
          description: 'indexes processed in the current index phase (PostgreSQL 17+)',
        }),
        col('indexes_total', 'number', (r) => r.nums.indexes_total, {
          displayName: 'Indexes',
          description: 'indexes to process in the current index phase (PostgreSQL 17+)',
        }),
        {
          name: 'autovacuum',
          type: 'boolean',
          values: rows.map((r) => r.nums.autovacuum === 1),
          config: { displayName: 'Autovacuum' },
        },
      ],
      'pg_stat_progress_vacuum at the last sample of the range'
    ),
  ];
}

export function oldestSessions(ctx: EngineContext): Frame[] {
  const { rows } = lastSampleRows(ctx, 'oldest_sessions', ['pid', 'xact_age_s', 'state_age_s', 'xmin_age']);
  rows.sort((a, b) => (b.nums.xact_age_s ?? 0) - (a.nums.xact_age_s ?? 0));
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 10);
  const col = columnsOf(top);
  const text = (k: string) => (r: (typeof top)[number]) => String(r.info[k] ?? '');
  return [
    tableFrame(
      ctx,
      [
        col('pid', 'number', (r) => r.nums.pid),
        col('usename', 'string', text('usename'), { displayName: 'User' }),
        col('application_name', 'string', text('application_name'), { displayName: 'Application' }),
        col('datname', 'string', text('datname')),
        col('state', 'string', text('state')),
        col('xact_age_s', 'number', (r) => r.nums.xact_age_s, { displayName: 'Transaction age', unit: 's' }),
        col('state_age_s', 'number', (r) => r.nums.state_age_s, { displayName: 'In this state', unit: 's' }),
        col('xmin_age', 'number', (r) => r.nums.xmin_age, {
          displayName: 'xmin age',
          description: 'age(backend_xmin): how far back this session holds the VACUUM horizon, in transactions',
        }),
        col('wait_event_type', 'string', text('wait_event_type'), { displayName: 'Waiting on' }),
        col('query', 'string', text('query'), {
          displayName: 'Last statement',
          description: 'pg_stat_activity.query with literals that can hold secrets replaced by <redacted>',
        }),
      ],
      'the oldest open transactions of pg_stat_activity at the last sample of the range'
    ),
  ];
}

/** sequences the monitoring role cannot read, said once with the fix */
function unreadableNotice(ctx: EngineContext, data: CounterData): void {
  const readable = latestValues(data, 'readable');
  const denied = [...readable.values()]
    .filter((v) => v.value === 0)
    .map((v) => `${v.labels.schemaname}.${v.labels.sequence_name}`);
  if (denied.length > 0) {
    notify(
      ctx,
      'warning',
      `${denied.length} sequence(s) cannot be read by pgpulse's role (${denied.slice(0, 5).join(', ')}${denied.length > 5 ? ', …' : ''}): pg_monitor does not grant reading last_value. GRANT SELECT ON ALL SEQUENCES IN SCHEMA <schema> TO <pgpulse role> (SELECT lets it read, not advance them), or GRANT pg_read_all_data`
    );
  }
}

export function sequenceUsedRatio(ctx: EngineContext): Frame[] {
  const data = loadSeries(ctx, 'sequences', ['used_ratio', 'readable']);
  unreadableNotice(ctx, data);
  const frames: Frame[] = [];
  for (const s of data.series) {
    if (s.field !== 'used_ratio') {
      continue;
    }
    const values: Array<number | null> = new Array(ctx.grid.starts.length).fill(null);
    // an unreadable or never-used sequence has no value: a gap, never a reassuring 0
    for (let i = 0; i < data.samples.length; i++) {
      const v = s.values[i];
      const b = bucketOf(ctx.grid, data.samples[i].ts);
      if (v === null || b < 0 || !data.samples[i].ok) {
        continue;
      }
      values[b] = Math.max(values[b] ?? v, v);
    }
    if (values.every((v) => v === null)) {
      continue;
    }
    frames.push(
      seriesFrame(
        ctx,
        'used_ratio',
        s.labels,
        values,
        'gauge: (last_value − first) / (limit − first) per sequence, highest sample per step, from sequences samples'
      )
    );
  }
  return frames;
}

export function sequences(ctx: EngineContext): Frame[] {
  const fields = ['used_ratio', 'readable', 'last_value', 'limit_value', 'remaining'];
  const { rows } = lastSampleRows(ctx, 'sequences', fields);
  unreadableNotice(ctx, loadSeries(ctx, 'sequences', ['readable']));
  rows.sort((a, b) => (b.nums.used_ratio ?? -1) - (a.nums.used_ratio ?? -1));
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 50);
  const col = columnsOf(top);
  return [
    tableFrame(
      ctx,
      [
        col('schemaname', 'string', (r) => r.labels.schemaname, { displayName: 'Schema' }),
        col('sequence_name', 'string', (r) => r.labels.sequence_name, { displayName: 'Sequence' }),
        col('used_ratio', 'number', (r) => r.nums.used_ratio, { displayName: 'Used', unit: 'percentunit' }),
        col('last_value', 'number', (r) => r.nums.last_value, { displayName: 'Last value' }),
        col('limit_value', 'number', (r) => r.nums.limit_value, {
          displayName: 'Limit',
          description: 'the tighter of the sequence bound and the type of the columns it feeds',
        }),
        col('remaining', 'number', (r) => r.nums.remaining, { displayName: 'Values left' }),
        col('seq_type', 'string', (r) => String(r.info.seq_type ?? ''), { displayName: 'Sequence type' }),
        col('columns', 'string', (r) => String(r.info.columns ?? ''), {
          displayName: 'Feeds',
          description: 'schema.table.column type of every column owned by it or defaulting to its nextval()',
        }),
        {
          name: 'cycle',
          type: 'boolean',
          values: top.map((r) => r.info.cycle === true),
          config: { displayName: 'Cycles' },
        },
        {
          name: 'readable',
          type: 'boolean',
          values: top.map((r) => r.nums.readable === 1),
          config: {
            displayName: 'Readable',
            description: "false: pgpulse's role lacks SELECT on it, last value unknown",
          },
        },
      ],
      'pg_sequence + pg_sequence_last_value() at the last sample of the range'
    ),
  ];
}

export function bloat(ctx: EngineContext): Frame[] {
  const { rows } = lastSampleRows(ctx, 'bloat', ['size_bytes', 'bloat_bytes', 'bloat_ratio']);
  const none = rows.filter((r) => r.info.method === 'none');
  if (none.length > 0) {
    notify(
      ctx,
      'info',
      `${none.length} of ${rows.length} tables and indexes have no bloat estimate (e.g. ${none
        .slice(0, 3)
        .map((r) => [r.labels.schemaname, r.labels.relname, r.labels.indexrelname].filter(Boolean).join('.'))
        .join(
          ', '
        )}): pg_stats shows pgpulse's role only the columns it may SELECT, and expression indexes have none. CREATE EXTENSION pgstattuple (pg_monitor may run pgstattuple_approx), or GRANT SELECT on those tables / GRANT pg_read_all_data`
    );
  }
  rows.sort((a, b) => (b.nums.bloat_bytes ?? -1) - (a.nums.bloat_bytes ?? -1));
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 50);
  const col = columnsOf(top);
  return [
    tableFrame(
      ctx,
      [
        col('kind', 'string', (r) => String(r.info.kind ?? '')),
        col('schemaname', 'string', (r) => r.labels.schemaname, { displayName: 'Schema' }),
        col('relname', 'string', (r) => r.labels.relname, { displayName: 'Table' }),
        col('indexrelname', 'string', (r) => r.labels.indexrelname, { displayName: 'Index' }),
        col('size_bytes', 'number', (r) => r.nums.size_bytes, { unit: 'bytes' }),
        col('bloat_bytes', 'number', (r) => r.nums.bloat_bytes, { displayName: 'Estimated bloat', unit: 'bytes' }),
        col('bloat_ratio', 'number', (r) => r.nums.bloat_ratio, { displayName: 'Bloat share', unit: 'percentunit' }),
        col('method', 'string', (r) => String(r.info.method ?? ''), {
          description: 'statistics (pg_class + pg_stats), pgstattuple_approx (measured), or none',
        }),
      ],
      'bloat estimate of the last sample in the range (docs/vitals.md: methods and their error)'
    ),
  ];
}
