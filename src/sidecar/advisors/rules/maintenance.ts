/**
 * Vacuum and statistics rules from the latest table sample: stale planner statistics, dead-tuple
 * ratio, and autovacuum lagging behind its own threshold.
 */
import type { SettingFacts, TableFacts } from '../history';
import { qualified } from '../sql-analysis';
import type { AdvisorOptions, Finding } from '../types';

const ago = (now: number, ts: number | null) => (ts ? `${((now - ts) / 3_600_000).toFixed(1)} h ago` : 'never');

export function maintenanceRules(
  tables: TableFacts[],
  settings: SettingFacts,
  o: AdvisorOptions,
  now: number,
  window: { from: number; to: number }
): Finding[] {
  const out: Finding[] = [];
  const scale = settings.value.get('autovacuum_vacuum_scale_factor') ?? 0.2;
  const base = settings.value.get('autovacuum_vacuum_threshold') ?? 50;
  const autovacuumOff = settings.text.get('autovacuum') === 'off';
  if (autovacuumOff) {
    out.push({
      id: 'autovacuum_off:server',
      rule: 'autovacuum_off',
      severity: 'critical',
      category: 'maintenance',
      object: 'setting:autovacuum',
      title: 'autovacuum is off: dead tuples pile up and transaction-ID wraparound is not prevented',
      evidence: {
        values: { autovacuum: 'off' },
        window: { ...window, description: 'pg_settings in the latest sample' },
      },
      fix: { sql: 'ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();', setting: 'autovacuum = on' },
      impact: 'keeps table bloat bounded and protects against wraparound shutdown',
    });
  }
  for (const t of tables) {
    if (!t.present) {
      continue;
    }
    const live = t.g.n_live_tup ?? 0;
    const dead = t.g.n_dead_tup ?? 0;
    const mod = t.g.n_mod_since_analyze ?? 0;
    const name = qualified(t.schema, t.table);
    const obj = `${t.schema}.${t.table}`;
    const lastAnalyze = Math.max(t.g.last_analyze_ms ?? 0, t.g.last_autoanalyze_ms ?? 0) || null;
    const lastVacuum = Math.max(t.g.last_vacuum_ms ?? 0, t.g.last_autovacuum_ms ?? 0) || null;
    const latestWindow = { ...window, description: 'pg_stat_user_tables in the latest sample' };
    // stale statistics: many rows changed since the planner last looked
    const modRatio = live > 0 ? mod / live : mod > 0 ? 1 : 0;
    if (mod >= o.staleMinRows && modRatio >= o.staleModRatio) {
      out.push({
        id: `stale_statistics:${obj}`,
        rule: 'stale_statistics',
        severity: modRatio >= 1 ? 'warning' : 'info',
        category: 'maintenance',
        object: obj,
        title: `Statistics of ${name} are stale: ${mod} rows changed since the last ANALYZE (${(modRatio * 100).toFixed(0)}% of ${live} live rows)`,
        evidence: {
          values: {
            n_mod_since_analyze: mod,
            n_live_tup: live,
            mod_ratio: Number(modRatio.toFixed(3)),
            last_analyze: ago(now, lastAnalyze),
          },
          window: latestWindow,
        },
        fix: { sql: `ANALYZE ${name};`, action: 'analyze' },
        impact:
          'the planner estimates row counts from current data again: fewer bad join orders and wrong scan choices',
      });
    }
    const deadRatio = live + dead > 0 ? dead / (live + dead) : 0;
    if (dead >= o.deadMinTuples && deadRatio >= o.deadRatio) {
      out.push({
        id: `dead_tuples:${obj}`,
        rule: 'dead_tuples',
        severity: deadRatio >= 0.5 ? 'warning' : 'info',
        category: 'maintenance',
        object: obj,
        title: `${name} is ${(deadRatio * 100).toFixed(0)}% dead tuples (${dead} dead, ${live} live)`,
        evidence: {
          values: {
            n_dead_tup: dead,
            n_live_tup: live,
            dead_ratio: Number(deadRatio.toFixed(3)),
            last_vacuum: ago(now, lastVacuum),
          },
          window: latestWindow,
        },
        fix: {
          sql: `VACUUM (ANALYZE) ${name};`,
          action: 'vacuum',
          caveat:
            'VACUUM makes the space reusable, it does not shrink the file; VACUUM FULL or pg_repack does, with locks',
        },
        impact: `scans stop reading ${dead} dead row versions; index-only scans work again once the visibility map is set`,
      });
    }
    // autovacuum should have run: over its own trigger threshold, and nothing ran for a long time
    const threshold = base + scale * live;
    if (
      !autovacuumOff &&
      dead > threshold &&
      dead >= o.deadMinTuples &&
      (lastVacuum === null || now - lastVacuum >= o.vacuumLagMs)
    ) {
      out.push({
        id: `autovacuum_lag:${obj}`,
        rule: 'autovacuum_lag',
        severity: 'warning',
        category: 'maintenance',
        object: obj,
        title: `Autovacuum is lagging on ${name}: ${dead} dead tuples are over its trigger (${Math.round(threshold)}), last vacuum ${ago(now, lastVacuum)}`,
        evidence: {
          values: {
            n_dead_tup: dead,
            autovacuum_trigger: Math.round(threshold),
            last_vacuum: ago(now, lastVacuum),
            autovacuum_count_in_window: t.d.autovacuum_count ?? null,
          },
          window: { ...window, description: 'latest sample; autovacuum runs counted over the window' },
        },
        fix: {
          sql: `VACUUM (ANALYZE) ${name};\nALTER TABLE ${name} SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_cost_limit = 1000);`,
          action: 'vacuum',
          caveat:
            'long transactions (see idle in transaction) and replication slots hold back cleanup: vacuum cannot remove tuples they may still see',
        },
        impact: 'bounded bloat and steady scan times on a frequently written table',
      });
    }
  }
  return out;
}
