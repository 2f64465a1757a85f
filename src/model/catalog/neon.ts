import type { MetricDef } from './types';

/**
 * Neon: local file cache (LFC) and compute state. The LFC counters come from the `neon`
 * extension's neon_stat_file_cache view and are compute-wide (all databases); the compute state
 * comes from the Neon API (GET /projects/{project_id}/endpoints/{endpoint_id}), which never
 * wakes a suspended compute.
 */
export const neonMetrics: MetricDef[] = [
  {
    id: 'neon_lfc_hit_ratio',
    title: 'Neon local file cache hit ratio',
    description:
      "Share of shared-buffer misses served by Neon's local file cache over each step: Δfile_cache_hits / (Δfile_cache_hits + Δfile_cache_misses) from neon_stat_file_cache (compute-wide). Not the lifetime file_cache_hit_ratio column. Counters restart when the compute restarts or resumes from idle; pgpulse never reports a negative or spiking delta for that.",
    unit: 'percentunit',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'ratio', collector: 'neon', num: ['file_cache_hits'], den: ['file_cache_hits', 'file_cache_misses'], by: [], name: 'neon_lfc_hit_ratio' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_effective_hit_ratio',
    title: 'Neon effective memory hit ratio',
    description:
      'Share of all block reads served from memory (shared buffers or the local file cache) over each step: 1 − Δfile_cache_misses / Σ(Δblks_hit + Δblks_read) over all databases in pg_stat_database. What is left went to Neon storage (the pageserver). Clamped to [0, 1]; null where the step has no reads.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'custom', handler: 'neon_effective_hit_ratio', collector: 'neon' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_working_set_bytes',
    title: 'Neon working set (5 min)',
    description:
      "Approximate size of the distinct pages the compute touched in the last 5 minutes (neon's approximate_working_set_size_seconds(300) × block size), last sample in each step. Compare with the local file cache size: a working set above it means reads go to storage. Empty on neon extension versions without that function.",
    unit: 'bytes',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'gauge', collector: 'neon', fields: [{ field: 'working_set_bytes', name: 'neon_working_set_bytes' }], by: [], rowAgg: 'max', stepAgg: 'last' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_lfc_used_bytes',
    title: 'Neon local file cache used',
    description:
      'Bytes of the local file cache in use (file_cache_used_pages × block size where the extension reports pages, else file_cache_used chunks × chunk size), last sample in each step. Starts empty after every resume from idle.',
    unit: 'bytes',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'gauge', collector: 'neon', fields: [{ field: 'used_bytes', name: 'neon_lfc_used_bytes' }], by: [], rowAgg: 'max', stepAgg: 'last' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_lfc_approximate_working_set_size_windows',
    title: 'Neon working set: 5 min / 15 min / 1 h',
    description:
      "Approximate size of the distinct pages the compute touched in the last 5 minutes, 15 minutes and 1 hour (neon's approximate_working_set_size_seconds(300|900|3600) × block size; series kind=5m|15m|1h, the windows Neon's own exporter reports under this name), last sample in each step. Measured by the extension (a HyperLogLog estimate). Compare with neon_lfc_cache_size_limit: a working set above it is read from Neon storage.",
    unit: 'bytes',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: {
      op: 'gauge',
      collector: 'neon',
      fields: [
        { field: 'working_set_bytes', name: '5m' },
        { field: 'working_set_15m_bytes', name: '15m' },
        { field: 'working_set_1h_bytes', name: '1h' },
      ],
      by: [],
      rowAgg: 'max',
      stepAgg: 'last',
    },
    defaultLegend: '{{kind}}',
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_lfc_cache_size_limit',
    title: 'Neon local file cache size limit',
    description:
      'neon.file_cache_size_limit in bytes, last sample in each step: how large the local file cache may grow on the current compute size. Neon sets it from the compute size (about 75 % of RAM), so it also shows autoscaling moving the compute up or down.',
    unit: 'bytes',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'gauge', collector: 'neon', fields: [{ field: 'lfc_size_limit_bytes', name: 'neon_lfc_cache_size_limit' }], by: [], rowAgg: 'max', stepAgg: 'last' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_min_cu_for_working_set',
    title: 'Neon: smallest compute size holding the 1 h working set',
    description:
      'Estimate: the smallest Neon compute size (CU) whose local file cache would hold the 1-hour working set, taking 1 CU ≈ 4 GiB RAM and the cache ≈ 75 % of RAM (3 GiB of cache per CU). The largest value per step. If it is above autoscaling_limit_min_cu, reads after a scale-down or resume go to storage until the cache warms up: raise the minimum compute size.',
    unit: 'none',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'custom', handler: 'neon_min_cu_for_working_set', collector: 'neon' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_getpage_wait_seconds_avg',
    title: 'Neon storage latency: average getpage wait',
    description:
      "Average time a backend waited for a page from Neon storage (the pageserver) per request over each step: Δgetpage_wait_seconds_sum / Δgetpage_wait_seconds_count from neon_perf_counters (neon 1.5+). Readable only by neon_superuser members on Neon; pg_monitor is not granted it.",
    unit: 's',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'ratio', collector: 'neon', num: ['getpage_wait_seconds_sum'], den: ['getpage_wait_seconds_count'], by: [], name: 'getpage_wait_seconds_avg' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_file_cache_read_wait_seconds_avg',
    title: 'Neon local file cache read latency',
    description:
      'Average wait per local file cache read over each step: Δfile_cache_read_wait_seconds_sum / Δfile_cache_read_wait_seconds_count from neon_perf_counters (neon 1.5+; neon_superuser only on Neon).',
    unit: 's',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'ratio', collector: 'neon', num: ['file_cache_read_wait_seconds_sum'], den: ['file_cache_read_wait_seconds_count'], by: [], name: 'file_cache_read_wait_seconds_avg' },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_storage_events',
    title: 'Neon prefetch misses and pageserver disconnects',
    description:
      'Per-second rates of getpage_prefetch_misses_total and pageserver_disconnects_total from neon_perf_counters (neon 1.5+; neon_superuser only on Neon). Disconnects mean retried storage reads; prefetch misses mean sequential reads waited for storage.',
    unit: 'ops',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: {
      op: 'rate',
      collector: 'neon',
      fields: [
        { field: 'getpage_prefetch_misses_total', name: 'getpage_prefetch_misses_total' },
        { field: 'pageserver_disconnects_total', name: 'pageserver_disconnects_total' },
      ],
      by: [],
    },
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_db_total_size',
    title: 'Neon logical size vs neon.max_cluster_size',
    description:
      "pg_cluster_size() (the logical size Neon enforces) and neon.max_cluster_size in bytes (series kind=neon_db_total_size|neon_max_cluster_size), last sample in each step. Writes fail with 'could not extend file' once the size reaches the limit; no limit series when it is unlimited (-1).",
    unit: 'bytes',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: {
      op: 'gauge',
      collector: 'neon',
      fields: [
        { field: 'cluster_size_bytes', name: 'neon_db_total_size' },
        { field: 'max_cluster_size_bytes', name: 'neon_max_cluster_size' },
      ],
      by: [],
      rowAgg: 'max',
      stepAgg: 'last',
    },
    defaultLegend: '{{kind}}',
    alertable: true,
    requires: ['neon'],
  },
  {
    id: 'neon_compute_cost',
    title: 'Neon compute: CU-hours this billing period',
    description:
      "CU-hours of the project this billing period, from the Neon API (never from the compute), series kind=: used — compute_time_seconds / 3600 from GET /projects/{id} (measured by Neon, every plan, refreshed about every 15 min); consumption_v2 — Σ compute_unit_seconds / 3600 since the period start from the consumption history API (paid plans only; absent otherwise); forecast — used × period length / elapsed time (estimate: a straight line to consumption_period_end); allowance — neon.computeAllowanceCuHours from the config; pgpulse_only — time only pgpulse used the active compute × autoscaling_limit_min_cu (estimate and upper bound of pgpulse's share: Neon keeps a compute up for its suspend timeout after the last client anyway). Each wake-up bills at least the suspend timeout (5 min by default).",
    unit: 'none',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'custom', handler: 'neon_compute_cost', collector: 'neon' },
    defaultLegend: '{{kind}}',
    alertable: true,
  },
  {
    id: 'neon_compute_forecast_ratio',
    title: 'Neon compute forecast / allowance',
    description:
      'Forecast CU-hours to the end of the billing period (straight line from compute_time_seconds, an estimate) divided by neon.computeAllowanceCuHours. Above 1 the project is on course to exceed its compute allowance. Null without a configured allowance.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'custom', handler: 'neon_compute_forecast_ratio', collector: 'neon' },
    alertable: true,
  },
  {
    id: 'neon_compute_state',
    title: 'Neon compute state',
    description:
      "1 while the Neon API reports the endpoint active, 0 while idle (scaled to zero) or starting (init); the last API answer in each step, null where pgpulse had no answer (API unreachable or wrong key). Read from the Neon API every stateInterval (default 30 s) without connecting to the compute, so watching it never wakes the compute.",
    unit: 'bool_on_off',
    kind: 'series',
    area: 'Neon',
    options: ['legend'],
    compute: { op: 'custom', handler: 'neon_compute_state', collector: 'neon' },
    alertable: true,
  },
];
