import type { MetricDef } from './types';

/**
 * Vital signs that precede the classic outages: transaction ID / multixact wraparound (the server
 * stops assigning XIDs) and replication slots nobody consumes (WAL fills the disk).
 */
export const vitalsMetrics: MetricDef[] = [
  {
    id: 'xid_age',
    title: 'Transaction ID and multixact age',
    description:
      'Per database: age(datfrozenxid) (kind xid) and mxid_age(datminmxid) (kind multixact) from pg_database, highest sample in each step. VACUUM freezing brings them down; at 2^31 the server stops assigning transaction IDs.',
    unit: 'short',
    kind: 'series',
    area: 'Vitals',
    options: ['database', 'legend'],
    compute: {
      op: 'gauge',
      collector: 'wraparound',
      fields: [
        { field: 'xid_age', name: 'xid' },
        { field: 'mxid_age', name: 'multixact' },
      ],
      by: ['datname'],
      rowAgg: 'max',
      stepAgg: 'max',
    },
    alertable: true,
    defaultLegend: '{{datname}} {{kind}}',
  },
  {
    id: 'wraparound_limit_ratio',
    title: 'Wraparound: share of the 2^31 limit',
    description:
      'Per database: age(datfrozenxid) / 2^31 (kind xid) and mxid_age(datminmxid) / 2^31 (kind multixact), highest sample in each step. At 1 the server refuses new transactions; it warns from 40 million before.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Vitals',
    options: ['database', 'legend'],
    compute: {
      op: 'gauge',
      collector: 'wraparound',
      fields: [
        { field: 'xid_limit_ratio', name: 'xid' },
        { field: 'mxid_limit_ratio', name: 'multixact' },
      ],
      by: ['datname'],
      rowAgg: 'max',
      stepAgg: 'max',
    },
    alertable: true,
    defaultLegend: '{{datname}} {{kind}}',
  },
  {
    id: 'wraparound_freeze_ratio',
    title: 'Wraparound: share of autovacuum_freeze_max_age',
    description:
      'Per database: age(datfrozenxid) / autovacuum_freeze_max_age (kind xid) and mxid_age(datminmxid) / autovacuum_multixact_freeze_max_age (kind multixact), highest sample in each step. Above 1 autovacuum runs anti-wraparound vacuums; staying well above 1 means they do not keep up.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Vitals',
    options: ['database', 'legend'],
    compute: {
      op: 'gauge',
      collector: 'wraparound',
      fields: [
        { field: 'xid_freeze_ratio', name: 'xid' },
        { field: 'mxid_freeze_ratio', name: 'multixact' },
      ],
      by: ['datname'],
      rowAgg: 'max',
      stepAgg: 'max',
    },
    alertable: true,
    defaultLegend: '{{datname}} {{kind}}',
  },
  {
    id: 'slot_retained_wal',
    title: 'WAL retained by replication slots',
    description:
      'Per replication slot: bytes of WAL the server keeps for it, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) (the replay LSN on a standby), highest sample in each step.',
    unit: 'bytes',
    kind: 'series',
    area: 'Vitals',
    options: ['legend'],
    compute: {
      op: 'gauge',
      collector: 'slots',
      fields: [{ field: 'retained_bytes', name: 'retained_wal' }],
      by: ['slot_name'],
      rowAgg: 'sum',
      stepAgg: 'max',
    },
    alertable: true,
    defaultLegend: '{{slot_name}}',
  },
  {
    id: 'inactive_slot_retained_wal',
    title: 'WAL retained by inactive slots',
    description:
      'Per replication slot with no consumer attached (pg_replication_slots.active false): the WAL it keeps, highest sample in each step; 0 while the slot is active. Nothing frees this WAL until the consumer returns or the slot is dropped.',
    unit: 'bytes',
    kind: 'series',
    area: 'Vitals',
    options: ['legend'],
    compute: {
      op: 'gauge',
      collector: 'slots',
      fields: [{ field: 'inactive_retained_bytes', name: 'inactive_retained_wal' }],
      by: ['slot_name'],
      rowAgg: 'sum',
      stepAgg: 'max',
    },
    alertable: true,
    defaultLegend: '{{slot_name}}',
  },
  {
    id: 'replication_slots',
    title: 'Replication slots',
    description:
      'Every replication slot at the end of the range: type (physical / logical), database, whether a consumer is attached (active), and the WAL it retains, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn). Most retained first.',
    unit: 'bytes',
    kind: 'table',
    area: 'Vitals',
    options: ['topN'],
    defaults: { topN: 100 },
    compute: { op: 'custom', handler: 'replication_slots', collector: 'slots' },
    alertable: false,
  },
];
