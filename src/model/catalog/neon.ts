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
