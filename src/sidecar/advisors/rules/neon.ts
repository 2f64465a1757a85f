/**
 * Neon-aware advice. On Neon there is no superuser, so no ALTER SYSTEM; shared_buffers follows
 * the compute size; and pg_stat_database.blks_read also counts reads served by the local file
 * cache, so a low buffer hit ratio does not mean storage reads. Findings for a Neon target are
 * rewritten accordingly: memory means a larger minimum compute size, settings go per database
 * or role (or into the endpoint's settings through the Neon console/API).
 */
import type { Store } from '../../store/store';
import type { Finding } from '../types';

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
        .map((l) => l.replace(/ALTER SYSTEM SET/gi, `ALTER DATABASE ${db} SET`).replace(/;\s*SELECT pg_reload_conf\(\);?/gi, ';'))
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
