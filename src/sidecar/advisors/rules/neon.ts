/**
 * Neon-aware advice. On Neon there is no superuser, so no ALTER SYSTEM; shared_buffers follows
 * the compute size; and pg_stat_database.blks_read also counts reads served by the local file
 * cache, so a low buffer hit ratio does not mean storage reads. Findings for a Neon target are
 * rewritten accordingly: memory means a larger minimum compute size, settings go per database
 * or role (or into the endpoint's settings through the Neon console/API).
 */
import type { Store } from '../../store/store';
import { minCuFor } from '../../neon/sizing';
import type { Finding } from '../types';

const GiB = 1024 ** 3;

/**
 * The 1-hour working set against the minimum compute size: when even the smallest size that
 * holds it in the local file cache (estimate: 3 GiB of cache per CU) is above
 * autoscaling_limit_min_cu, every scale-down or resume starts with reads from Neon storage.
 * Uses the largest 1 h working set sampled in the window and the latest API answer.
 */
export function neonMinCuFinding(
  store: Store,
  target: string,
  window: { from: number; to: number; description: string }
): Finding | undefined {
  const samples = store.samples(target, 'neon', window.from, window.to).filter((s) => s.ok);
  const ws =
    store
      .matrix(target, 'neon', ['working_set_1h_bytes'], undefined, samples)
      .find((x) => x.field === 'working_set_1h_bytes')?.values ?? [];
  const peak = ws.reduce<number | null>((m, v) => (v !== null && (m === null || v > m) ? v : m), null);
  const api = store.lastSample(target, 'neon_api');
  if (peak === null || !api) {
    return undefined;
  }
  const minCu =
    store.matrix(target, 'neon_api', ['min_cu'], undefined, [api]).find((x) => x.field === 'min_cu')?.values[0] ?? null;
  const need = minCuFor(peak);
  if (minCu === null || need === null || need <= minCu) {
    return undefined;
  }
  return {
    id: 'neon_min_cu:working_set',
    rule: 'neon_min_cu',
    severity: 'info',
    category: 'memory',
    object: 'setting:autoscaling_limit_min_cu',
    title: `The 1-hour working set (${(peak / GiB).toFixed(2)} GiB) needs a ${need} CU compute to stay in the local file cache; the minimum is ${minCu} CU`,
    evidence: {
      values: { working_set_1h_bytes: peak, min_cu: minCu, needed_cu: need, cache_per_cu_bytes: 3 * GiB },
      window: {
        ...window,
        description: `largest approximate_working_set_size_seconds(3600) sampled, ${window.description}; min CU from the Neon API`,
      },
    },
    fix: {
      setting: `raise autoscaling_limit_min_cu to ${need} (Neon console → the endpoint's compute settings, or the API): after a scale-down or a resume the cache then holds the working set`,
      caveat:
        'an estimate (1 CU ≈ 4 GiB RAM, the cache ≈ 75 % of it); a larger minimum costs more CU-hours whenever the compute is active',
    },
    impact: 'fewer reads from Neon storage after scale-downs and resumes; steadier latency',
  };
}

/** a target is a Neon one when pgpulse has asked the Neon API about it */
export function isNeonTarget(store: Store, target: string): boolean {
  return store.lastSample(target, 'neon_api', false) !== undefined;
}

export function neonAdvice(findings: Finding[], database: string | undefined): Finding[] {
  return findings.map((f) => {
    if (f.rule === 'cache_hit_ratio') {
      return {
        ...f,
        fix: {
          setting:
            'on Neon shared_buffers follows the compute size and cannot be set, and blks_read also counts local file cache hits: check neon_effective_hit_ratio (reads that reached Neon storage). If it is low, raise the minimum compute size (autoscaling_limit_min_cu in the Neon console or API) to at least neon_min_cu_for_working_set so the local file cache holds the working set; otherwise cut the working set (indexes for seq-scanned tables, drop unused indexes)',
          caveat: 'a larger minimum compute size costs more CU-hours while the compute is active',
        },
      };
    }
    if (f.fix.sql && /ALTER SYSTEM/i.test(f.fix.sql)) {
      const db = database ? `"${database.replace(/"/g, '""')}"` : '<database>';
      const perDb = f.fix.sql
        .split('\n')
        .filter((l) => !/^\s*SELECT pg_reload_conf\(\);?\s*$/i.test(l))
        .map((l) =>
          l.replace(/ALTER SYSTEM SET/gi, `ALTER DATABASE ${db} SET`).replace(/;\s*SELECT pg_reload_conf\(\);?/gi, ';')
        )
        .join('\n');
      return {
        ...f,
        fix: {
          ...f.fix,
          sql: `-- Neon has no ALTER SYSTEM (no superuser): set it for the database (new sessions pick it up), or in the endpoint settings (Neon console / API)\n${perDb}`,
        },
      };
    }
    return f;
  });
}
