/**
 * Replication slots as a table: the slots of the range's last sample (a dropped slot is gone, not
 * "0 bytes"), most retained WAL first, with the descriptive columns a person acts on.
 */
import type { Frame } from '../../../model/frames';
import { latestValues, loadSeries, type EngineContext } from '../context';
import { tableFrame } from '../series-frames';

export function replicationSlots(ctx: EngineContext): Frame[] {
  const data = loadSeries(ctx, 'slots', ['retained_bytes', 'active']);
  const retained = latestValues(data, 'retained_bytes');
  const active = latestValues(data, 'active');
  const entities = new Map(
    ctx.store.entities(ctx.query.target, 'slots', ctx.filter).map((e) => [JSON.stringify(e.labels), e])
  );
  const lastSample = data.samples.length ? data.samples[data.samples.length - 1].ts : null;
  const rows = [...retained.entries()]
    .filter(([, v]) => v.value !== null && v.ts === lastSample)
    .map(([k, v]) => {
      const info = entities.get(k)?.info ?? {};
      return {
        slot: v.labels.slot_name,
        type: String(info.slot_type ?? ''),
        database: String(info.slot_database ?? ''),
        active: active.get(k)?.value === 1,
        retained: v.value as number,
      };
    })
    .sort((a, b) => b.retained - a.retained);
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 100);
  return [
    tableFrame(
      ctx,
      [
        { name: 'slot', type: 'string', values: top.map((r) => r.slot) },
        { name: 'type', type: 'string', values: top.map((r) => r.type) },
        {
          name: 'database',
          type: 'string',
          values: top.map((r) => r.database),
          config: { description: 'empty for a physical slot' },
        },
        {
          name: 'active',
          type: 'boolean',
          values: top.map((r) => r.active),
          config: { description: 'a consumer (walsender) is attached' },
        },
        {
          name: 'retained_bytes',
          type: 'number',
          values: top.map((r) => r.retained),
          config: { displayName: 'Retained WAL', unit: 'bytes' },
        },
      ],
      'replication slots of the last sample in the range: retained WAL = pg_wal_lsn_diff(current LSN, restart_lsn)'
    ),
  ];
}
