/**
 * Vector search and Neon dashboards: every catalog metric of the area, or a note saying which
 * issue adds them while the area is still empty.
 */
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Area } from '../../model/catalog';
import { areaPanels, catalogPanels, metricsInArea } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS } from '../constants';
import { metricPanel, textPanel } from '../panels';

export function vectorDashboard(): Dashboard {
  return areaDashboard(
    'Vector search',
    DASHBOARD_UIDS.vector,
    'pgpulse / Vector search',
    'pgvector: latency of vector queries seen in pg_stat_statements, active probes (latency, recall@k against exact search) and HNSW / IVFFlat index health.'
  );
}

/** Vitals rows: one outage each (wraparound stops writes, a forgotten slot fills the disk, a lagging standby serves stale reads), then the WAL volume behind them. */
export const VITALS_ROWS: Array<{ title: string; metrics: string[] }> = [
  {
    title: 'Transaction ID and multixact wraparound',
    metrics: ['wraparound_freeze_ratio', 'wraparound_limit_ratio', 'xid_age'],
  },
  { title: 'Replication slots', metrics: ['inactive_slot_retained_wal', 'slot_retained_wal', 'replication_slots'] },
  {
    title: 'Replication',
    metrics: [
      'replication_standbys',
      'replication_lag_bytes',
      'replication_lag_seconds',
      'standby_replay_lag_seconds',
      'replica_receive_replay_lag',
      'replica_replay_delay',
      'recovery_state',
      'replica_replay_paused',
    ],
  },
  { title: 'WAL', metrics: ['wal_rate', 'wal_position_rate'] },
  // vital signs of issue 17 part 3 (catalog/vital-signs.ts); tables first: a full-width panel does not wrap after an odd half-width one
  {
    title: 'Transactions left open',
    metrics: ['oldest_sessions', 'idle_in_transaction_age', 'oldest_transaction_age', 'transactions_by_age'],
  },
  { title: 'Sequences near exhaustion', metrics: ['sequences', 'sequence_used_ratio'] },
  { title: 'VACUUM and bloat', metrics: ['vacuum_progress', 'bloat', 'autovacuum_workers'] },
  { title: 'I/O by backend type (pg_stat_io, PostgreSQL 16+)', metrics: ['io_operations', 'io_time'] },
  {
    title: 'Connections',
    metrics: ['connections_vs_max', 'connections_by_application', 'connections_by_user', 'connections'],
  },
];

export function vitalsDashboard(): Dashboard {
  const oldest = metricPanel({
    metric: 'table_stats',
    title: 'Oldest tables (XID age)',
    width: 24,
    height: 8,
    options: { orderBy: 'xid_age', topN: 20 },
    note: 'Tables of the connected database by age(relfrozenxid): the ones VACUUM (FREEZE) must reach first.',
  });
  return rowsDashboard(
    'Vitals',
    VITALS_ROWS,
    newDashboard(
      DASHBOARD_UIDS.vitals,
      'pgpulse / Vitals',
      'Vital signs that precede the classic outages: how close each database is to transaction ID / multixact wraparound, how much WAL each replication slot keeps (an inactive slot fills the disk), how far each standby is behind (from the primary and from the standby), how fast WAL is written, transactions left open, sequences running out, whether VACUUM keeps up, where the I/O goes and who holds the connections.'
    ),
    { firstInRow: 'Transaction ID and multixact wraparound', panel: oldest }
  );
}

/** The Neon board's rows: what users ask most first (why is it awake, what does it cost). */
export const NEON_ROWS: Array<{ title: string; metrics: string[] }> = [
  { title: 'Scale to zero', metrics: ['neon_compute_timeline', 'neon_active_periods', 'neon_compute_state'] },
  { title: 'Cost', metrics: ['neon_compute_cost', 'neon_compute_forecast_ratio'] },
  {
    title: 'Working set and cache sizing',
    metrics: [
      'neon_lfc_approximate_working_set_size_windows',
      'neon_min_cu_for_working_set',
      'neon_lfc_hit_ratio',
      'neon_effective_hit_ratio',
      'neon_lfc_used_bytes',
      'neon_working_set_bytes',
    ],
  },
  {
    title: 'Autoscaling',
    metrics: ['neon_autoscaling', 'neon_time_at_max_cu', 'neon_lfc_cache_size_limit', 'neon_max_connections'],
  },
  {
    title: 'Storage, size and replicas',
    metrics: [
      'neon_resume_cold_start',
      'neon_getpage_wait_seconds_avg',
      'neon_file_cache_read_wait_seconds_avg',
      'neon_storage_events',
      'neon_db_total_size',
      'neon_replication_delay',
    ],
  },
];

export function neonDashboard(): Dashboard {
  const b = newDashboard(
    DASHBOARD_UIDS.neon,
    'pgpulse / Neon',
    'Neon: when and why the compute is awake, what it costs, whether the working set fits the cache, autoscaling and storage — read from the Neon API and from samples taken only while the compute is active (pgpulse never wakes it). Gaps while the endpoint is idle are scale-to-zero working as designed.'
  );
  return rowsDashboard('Neon', NEON_ROWS, b);
}

/** The listed rows, then every other metric of the area under "More" (the catalog drives the boards). */
function rowsDashboard(
  area: Area,
  rows: Array<{ title: string; metrics: string[] }>,
  b: ReturnType<typeof newDashboard>,
  extra?: { firstInRow: string; panel: ReturnType<typeof metricPanel> }
): Dashboard {
  const placed = new Set<string>();
  for (const row of rows) {
    const panels = catalogPanels(row.metrics);
    if (panels.length === 0) {
      continue;
    }
    b.withRow(new RowBuilder(row.title));
    // full width first: the SDK's layout does not wrap a full-width panel after an odd half-width one
    if (extra?.firstInRow === row.title) {
      b.withPanel(extra.panel);
    }
    for (const p of panels) {
      b.withPanel(p);
    }
    row.metrics.forEach((m) => placed.add(m));
  }
  const rest = areaPanels(area, placed);
  if (rest.length > 0) {
    b.withRow(new RowBuilder('More'));
    for (const p of rest) {
      b.withPanel(p);
    }
  }
  return finish(b);
}

function areaDashboard(area: Area, uid: string, title: string, description: string): Dashboard {
  const b = newDashboard(uid, title, description);
  if (metricsInArea(area).length === 0) {
    b.withPanel(
      textPanel(
        `No ${area} metrics yet`,
        `This pgpulse build has no **${area}** metrics in its catalog; they appear here once the catalog holds them.`,
        24,
        4
      )
    );
  }
  for (const p of areaPanels(area)) {
    b.withPanel(p);
  }
  return finish(b);
}
