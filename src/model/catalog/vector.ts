import type { MetricDef } from './types';

/**
 * pgvector: passive query latency (pg_stat_statements entries the real Postgres parser classifies
 * as vector queries), active probes (latency and recall@k against exact search, opt-in per
 * target) and index health with advice.
 */
export const vectorMetrics: MetricDef[] = [
  {
    id: 'vector_query_latency',
    title: 'Vector query latency',
    description:
      'Mean execution time of vector queries (pg_stat_statements entries ordering by a pgvector distance operator, classified with the Postgres parser) in each step: Δtotal_exec_time / Δcalls over the step, one series per query and one "all vector queries" series. A step without calls is a gap, not zero.',
    unit: 'ms',
    kind: 'series',
    area: 'Vector search',
    options: ['database', 'queryid', 'legend'],
    compute: { op: 'custom', handler: 'vector_query_latency', collector: 'vector' },
    alertable: true,
    requires: ['pg_stat_statements'],
    defaultLegend: '{{query}}',
  },
  {
    id: 'vector_calls',
    title: 'Vector queries per second',
    description:
      'Calls per second of vector queries (pg_stat_statements entries ordering by a pgvector distance operator) in each step: Δcalls / step seconds, one series per query and one "all vector queries" series.',
    unit: 'reqps',
    kind: 'series',
    area: 'Vector search',
    options: ['database', 'queryid', 'legend'],
    compute: { op: 'custom', handler: 'vector_calls', collector: 'vector' },
    alertable: true,
    requires: ['pg_stat_statements'],
    defaultLegend: '{{query}}',
  },
  {
    id: 'vector_probe_latency',
    title: 'Vector probe latency',
    description:
      'Latency of the active probe ANN queries (opt-in per target: vector.probes.enabled) measured by the sidecar, round trip included: p50, p95 and p99 (nearest rank) over the sampled query vectors of the latest probe run at or before each step, per index, at the session ef_search (HNSW) / probes (IVFFlat) unless efSearch picks a swept value. Series are labelled index, ef_search ("default" = the session setting), k, quantile and iterative_scan.',
    unit: 'ms',
    kind: 'series',
    area: 'Vector search',
    options: ['index', 'efSearch', 'k', 'quantile', 'legend'],
    compute: { op: 'custom', handler: 'vector_probe_latency', collector: 'vector_probe' },
    alertable: true,
    requires: ['vector'],
    defaultLegend: '{{index}} {{quantile}}',
  },
  {
    id: 'vector_recall',
    title: 'Vector recall@k',
    description:
      'recall@k of the active probes: |approximate top-k ∩ exact top-k| / k averaged over the sampled query vectors, the exact answer being the same query with SET LOCAL enable_indexscan = off. Latest probe run at or before each step, per index, at the session ef_search (HNSW) / probes (IVFFlat) unless efSearch picks a swept value: what your queries get today. Series are labelled index, ef_search ("default" = the session setting), k and iterative_scan.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Vector search',
    options: ['index', 'efSearch', 'k', 'legend'],
    compute: { op: 'custom', handler: 'vector_recall', collector: 'vector_probe' },
    alertable: true,
    requires: ['vector'],
    defaultLegend: '{{index}} recall@{{k}}',
  },
  {
    id: 'vector_recall_sweep',
    title: 'Vector recall by ef_search',
    description:
      'recall@k of the active probes at the session default and at every swept ef_search (HNSW) / probes (IVFFlat), with its 99 % confidence interval: per index and setting three series labelled bound = estimate, lower, upper (Agresti–Coull interval over the query vectors, conservative for any spread of per-query recall), the latest probe run at or before each step. Query vectors are sampled uniformly over the table and moved off their stored position, so they do not find themselves. Shows what raising ef_search would buy; the advised value is in the Vector indexes table.',
    unit: 'percentunit',
    kind: 'series',
    area: 'Vector search',
    options: ['index', 'k', 'legend'],
    compute: { op: 'custom', handler: 'vector_recall_sweep', collector: 'vector_probe' },
    alertable: false,
    requires: ['vector'],
    defaultLegend: '{{index}} ef_search={{ef_search}}',
  },
  {
    id: 'vector_probe_latency_sweep',
    title: 'Vector probe p95 latency by ef_search',
    description:
      'p95 latency (nearest rank, client round trip included) of the active probe ANN queries at the session default and at every swept ef_search (HNSW) / probes (IVFFlat): one series per index and setting, the latest probe run at or before each step. The cost side of the recall sweep.',
    unit: 'ms',
    kind: 'series',
    area: 'Vector search',
    options: ['index', 'k', 'legend'],
    compute: { op: 'custom', handler: 'vector_probe_latency_sweep', collector: 'vector_probe' },
    alertable: false,
    requires: ['vector'],
    defaultLegend: '{{index}} ef_search={{ef_search}}',
  },
  {
    id: 'vector_recall_curve',
    title: 'Vector recall / latency curve',
    description:
      'The recall / latency trade-off of each ANN index from its latest probe run: per ef_search (HNSW) / probes (IVFFlat) value, recall@k with its 99 % interval (Agresti–Coull over the query vectors) and the probe p95 latency, with the change in p95 against the session setting. One frame per index, numbers only, for an XY chart (x = ef_search / probes). The frame notice reads the advice off the curve: the smallest value whose interval clears the target recall and what it costs in p95 latency; the advice moves only when a 99 % interval over the last 5 runs clears the target (hysteresis), so it does not flip from run to run.',
    unit: 'percentunit',
    kind: 'table',
    area: 'Vector search',
    options: ['index', 'k'],
    compute: { op: 'custom', handler: 'vector_recall_curve', collector: 'vector_probe' },
    alertable: false,
    requires: ['vector'],
    panel: 'xychart',
  },
  {
    id: 'vector_indexes',
    title: 'Vector indexes',
    description:
      'Every HNSW / IVFFlat index: table, column or expression, opclass and the operator it serves, dimensions, m / ef_construction / lists, size against shared_buffers (and the Neon LFC), rows and dead tuples, build progress, the latest probe recall (with its 99 % interval) and latency, and advice (the advised ef_search / probes: the smallest whose recall interval clears the target, changed only when an interval clears it, index larger than cache, halfvec for large dimensions). Vector columns without an ANN index are listed too. Latest discovery within the range.',
    unit: 'none',
    kind: 'table',
    area: 'Vector search',
    options: ['database', 'table', 'index', 'k'],
    defaults: { k: 10 },
    compute: { op: 'custom', handler: 'vector_indexes', collector: 'vector' },
    alertable: false,
    requires: ['vector'],
  },
  {
    id: 'vector_queries',
    title: 'Vector queries',
    description:
      'pg_stat_statements entries classified as vector queries by the Postgres parser: distance operator, the index they should use, k (LIMIT), filters, calls / mean time / rows per call over the range (deltas inside the range), whether EXPLAIN shows the index in use and why not (operator/opclass mismatch, no LIMIT, expression mismatch), and advice (filtered queries returning fewer than k rows → iterative scan).',
    unit: 'none',
    kind: 'table',
    area: 'Vector search',
    options: ['database', 'queryid', 'topN'],
    defaults: { topN: 50 },
    compute: { op: 'custom', handler: 'vector_queries', collector: 'vector' },
    alertable: false,
    requires: ['pg_stat_statements'],
  },
];
