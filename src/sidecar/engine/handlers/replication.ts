/**
 * Standbys as a table: the walsenders of the range's last replication sample (a standby that
 * disconnected is gone, not "0 behind"), most replay lag first, with the state a person acts on.
 */
import type { Frame } from '../../../model/frames';
import { latestValues, loadSeries, type EngineContext } from '../context';
import { tableFrame } from '../series-frames';

const LAGS = ['write_lag_bytes', 'flush_lag_bytes', 'replay_lag_bytes', 'replay_lag_seconds'] as const;

export function replicationStandbys(ctx: EngineContext): Frame[] {
  const data = loadSeries(ctx, 'replication', [...LAGS]);
  const latest = Object.fromEntries(LAGS.map((f) => [f, latestValues(data, f)])) as Record<
    (typeof LAGS)[number],
    ReturnType<typeof latestValues>
  >;
  const entities = new Map(
    ctx.store.entities(ctx.query.target, 'replication', ctx.filter).map((e) => [JSON.stringify(e.labels), e])
  );
  const lastSample = data.samples.length ? data.samples[data.samples.length - 1].ts : null;
  // a walsender without a replay position yet (startup, catchup) still is a standby of that sample
  const present = new Map<string, Record<string, string>>();
  for (const f of LAGS) {
    for (const [k, v] of latest[f]) {
      if (v.value !== null && v.ts === lastSample) {
        present.set(k, v.labels);
      }
    }
  }
  const rows = [...present.entries()]
    .map(([k, labels]) => {
      const info = entities.get(k)?.info ?? {};
      const at = (f: (typeof LAGS)[number]) => {
        const v = latest[f].get(k);
        return v && v.ts === lastSample ? v.value : null;
      };
      return {
        application: labels.application_name,
        client: labels.client_addr,
        state: String(info.state ?? ''),
        sync: String(info.sync_state ?? ''),
        write: at('write_lag_bytes'),
        flush: at('flush_lag_bytes'),
        replay: at('replay_lag_bytes'),
        replaySeconds: at('replay_lag_seconds'),
      };
    })
    .sort((a, b) => (b.replay ?? -1) - (a.replay ?? -1));
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 100);
  const bytes = { unit: 'bytes' };
  return [
    tableFrame(
      ctx,
      [
        { name: 'application_name', type: 'string', values: top.map((r) => r.application) },
        { name: 'client_addr', type: 'string', values: top.map((r) => r.client) },
        {
          name: 'state',
          type: 'string',
          values: top.map((r) => r.state),
          config: { description: 'walsender state: startup, catchup, streaming, backup, stopping' },
        },
        {
          name: 'sync_state',
          type: 'string',
          values: top.map((r) => r.sync),
          config: { description: 'async, potential, sync or quorum (synchronous_standby_names)' },
        },
        {
          name: 'write_lag_bytes',
          type: 'number',
          values: top.map((r) => r.write),
          config: { ...bytes, displayName: 'Not written' },
        },
        {
          name: 'flush_lag_bytes',
          type: 'number',
          values: top.map((r) => r.flush),
          config: { ...bytes, displayName: 'Not flushed' },
        },
        {
          name: 'replay_lag_bytes',
          type: 'number',
          values: top.map((r) => r.replay),
          config: { ...bytes, displayName: 'Not replayed' },
        },
        {
          name: 'replay_lag_seconds',
          type: 'number',
          values: top.map((r) => r.replaySeconds),
          config: { unit: 's', displayName: 'Replay lag' },
        },
      ],
      'walsenders of the last replication sample in the range (pg_stat_replication): bytes = pg_wal_lsn_diff(current LSN, write/flush/replay_lsn), replay lag = replay_lag'
    ),
  ];
}
