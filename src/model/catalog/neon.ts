import type { MetricDef } from './types';

/** Neon: local file cache and compute state (read without waking the compute). */
export const neonMetrics: MetricDef[] = [];
