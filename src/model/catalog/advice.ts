import type { MetricDef } from './types';

/** Advisor findings. */
export const adviceMetrics: MetricDef[] = [
  {
    id: 'recommendations',
    title: 'Recommendations',
    description:
      'Advisor findings open at the end of the selected range, most severe first: unused, duplicate, invalid and missing indexes (missing ones proven with hypopg when installed), stale statistics, dead tuples, autovacuum lag, statement heuristics, connections, cache and settings. Each row names the object, the evidence with its window, the fix as SQL or a setting, and the expected impact. Evaluated by the sidecar every few minutes from stored history.',
    unit: 'none',
    kind: 'table',
    area: 'Advice',
    options: ['schema', 'table', 'topN'],
    defaults: { topN: 100 },
    compute: { op: 'custom', handler: 'recommendations', collector: 'server' },
    alertable: false,
  },
  {
    id: 'findings_count',
    title: 'Open findings',
    description:
      'Number of open advisor findings at the end of each step, one series per severity (critical, warning, info). Alert on critical > 0.',
    unit: 'short',
    kind: 'series',
    area: 'Advice',
    options: ['legend'],
    compute: { op: 'custom', handler: 'findings_count', collector: 'server' },
    alertable: true,
    defaultLegend: '{{severity}}',
  },
];
