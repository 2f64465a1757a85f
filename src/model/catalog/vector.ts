import type { MetricDef } from './types';

/** pgvector: passive query latency, active probes (latency, recall) and index health. */
export const vectorMetrics: MetricDef[] = [];
