/**
 * Index rules over stored history: unused (no scan across ≥ N days of observed samples, restarts
 * and resets included), duplicate and redundant (prefix) indexes, invalid indexes. Constraint
 * indexes (primary key, unique, exclusion, replica identity) are never proposed for dropping.
 */
import type { IndexFacts } from '../history';
import type { ShapeCache } from '../shape-cache';
import { analyzeIndexDef, qualified, type IndexShape } from '../sql-analysis';
import type { AdvisorOptions, Finding } from '../types';

const MB = 1 << 20;
const fmtBytes = (b: number | null) =>
  b === null ? 'unknown size' : b >= MB ? `${(b / MB).toFixed(1)} MB` : `${Math.round(b / 1024)} kB`;
const days = (ms: number) => (ms / 86_400_000).toFixed(ms < 86_400_000 ? 3 : 1);
/** 9.5 days, 5.0 h, 42 s: the observed span in the unit a person reads */
export const span = (ms: number) =>
  ms >= 86_400_000
    ? `${(ms / 86_400_000).toFixed(1)} days`
    : ms >= 3_600_000
      ? `${(ms / 3_600_000).toFixed(1)} h`
      : `${Math.round(ms / 1000)} s`;

export function isConstraintIndex(info: Record<string, unknown>): boolean {
  return (
    info.is_primary === true || info.is_unique === true || info.is_exclusion === true || info.is_replident === true
  );
}

interface Parsed {
  f: IndexFacts;
  shape: IndexShape | null;
}

export async function parseIndexes(facts: IndexFacts[], shapes?: ShapeCache): Promise<Parsed[]> {
  const out: Parsed[] = [];
  for (const f of facts) {
    const def = f.info.indexdef ? String(f.info.indexdef) : undefined;
    out.push({ f, shape: def ? await (shapes ? shapes.index(def) : analyzeIndexDef(def)) : null });
  }
  return out;
}

export function unusedIndexRule(facts: IndexFacts[], o: AdvisorOptions, now: number): Finding[] {
  const out: Finding[] = [];
  for (const f of facts) {
    if (!f.present || isConstraintIndex(f.info) || f.info.is_valid === false) {
      continue;
    }
    if (f.scans === null || f.scans > 0 || f.observedFrom === null || f.observedTo === null) {
      continue;
    }
    const observed = f.observedTo - f.observedFrom;
    if (observed < o.unusedIndexMinObservedMs || (f.sizeBytes ?? 0) < o.indexSizeFloorBytes) {
      continue;
    }
    const name = qualified(f.schema, f.index);
    out.push({
      id: `unused_index:${f.schema}.${f.index}`,
      rule: 'unused_index',
      severity: (f.sizeBytes ?? 0) >= 100 * MB ? 'warning' : 'info',
      category: 'indexes',
      object: `${f.schema}.${f.index}`,
      title: `Index ${name} on ${f.schema}.${f.table} has not been scanned in ${span(observed)} of observed history`,
      evidence: {
        values: { idx_scan_delta: 0, observed_days: Number(days(observed)), size_bytes: f.sizeBytes },
        window: {
          from: f.observedFrom,
          to: f.observedTo,
          description: `all samples pgpulse kept for this index (${span(observed)}, across restarts and statistics resets)`,
        },
      },
      fix: {
        sql: `DROP INDEX CONCURRENTLY ${name};`,
        caveat: `check replicas and rare jobs (monthly reports) first: their scans do not show on this server. Keep the definition to recreate it: ${String(f.info.indexdef ?? '')}`,
        action: 'drop_index',
      },
      impact: `frees ${fmtBytes(f.sizeBytes)} and removes its cost from every INSERT and non-HOT UPDATE on ${f.schema}.${f.table}`,
    });
    void now;
  }
  return out;
}

function sameKeysPrefix(a: IndexShape, b: IndexShape): boolean {
  // a's key list is a leading prefix of b's
  return a.keys.length <= b.keys.length && a.keys.every((k, i) => b.keys[i] === k);
}

export function duplicateIndexRule(
  parsed: Parsed[],
  o: AdvisorOptions,
  window: { from: number; to: number }
): Finding[] {
  const out: Finding[] = [];
  const live = parsed.filter((p) => p.f.present && p.shape && p.f.info.is_valid !== false);
  const byTable = new Map<string, Parsed[]>();
  for (const p of live) {
    const k = `${p.f.datname}|${p.f.schema}.${p.f.table}`;
    byTable.set(k, [...(byTable.get(k) ?? []), p]);
  }
  const reported = new Set<string>();
  for (const group of byTable.values()) {
    for (const a of group) {
      for (const b of group) {
        if (a === b || !a.shape || !b.shape) {
          continue;
        }
        const sa = a.shape;
        const sb = b.shape;
        if (sa.method !== sb.method || sa.predicate !== sb.predicate) {
          continue;
        }
        const exact =
          sa.keys.length === sb.keys.length && sameKeysPrefix(sa, sb) && sa.include.join(',') === sb.include.join(',');
        // prefix redundancy holds for btree only: its leading columns serve the shorter index's queries
        const prefix = !exact && sa.method === 'btree' && sa.keys.length < sb.keys.length && sameKeysPrefix(sa, sb);
        if (!exact && !prefix) {
          continue;
        }
        // the one to drop: never a constraint index; for exact pairs the non-unique, then the one with fewer scans, then by name
        let drop = a;
        let keep = b;
        if (exact) {
          const ca = isConstraintIndex(a.f.info);
          const cb = isConstraintIndex(b.f.info);
          if (ca && cb) {
            continue;
          }
          if (
            ca ||
            (!cb &&
              ((a.f.scans ?? 0) > (b.f.scans ?? 0) || ((a.f.scans ?? 0) === (b.f.scans ?? 0) && a.f.index < b.f.index)))
          ) {
            drop = b;
            keep = a;
          }
        } else if (isConstraintIndex(a.f.info)) {
          continue; // a unique prefix enforces something the longer index does not
        }
        const id = `${exact ? 'duplicate_index' : 'redundant_index'}:${drop.f.schema}.${drop.f.index}`;
        if (reported.has(id) || (drop.f.sizeBytes ?? 0) < o.indexSizeFloorBytes) {
          continue;
        }
        reported.add(id);
        const dropName = qualified(drop.f.schema, drop.f.index);
        const keepName = qualified(keep.f.schema, keep.f.index);
        out.push({
          id,
          rule: exact ? 'duplicate_index' : 'redundant_index',
          severity: 'warning',
          category: 'indexes',
          object: `${drop.f.schema}.${drop.f.index}`,
          title: exact
            ? `Index ${dropName} duplicates ${keepName} (same table, columns, method and predicate)`
            : `Index ${dropName} is a prefix of ${keepName}: the longer index serves its queries`,
          evidence: {
            values: {
              index: drop.f.index,
              same_as: keep.f.index,
              definition: String(drop.f.info.indexdef ?? ''),
              other_definition: String(keep.f.info.indexdef ?? ''),
              size_bytes: drop.f.sizeBytes,
              scans_observed: drop.f.scans,
              other_scans_observed: keep.f.scans,
            },
            window: {
              ...window,
              description: 'index definitions from the latest sample; scans over the stored history',
            },
          },
          fix: {
            sql: `DROP INDEX CONCURRENTLY ${dropName};`,
            caveat: exact
              ? undefined
              : `queries that now use ${dropName} will use ${keepName}, which is larger: check their latency after dropping`,
            action: 'drop_index',
          },
          impact: `frees ${fmtBytes(drop.f.sizeBytes)} and one index update per write on ${drop.f.schema}.${drop.f.table}`,
        });
      }
    }
  }
  return out;
}

export function invalidIndexRule(facts: IndexFacts[], window: { from: number; to: number }): Finding[] {
  return facts
    .filter((f) => f.present && f.info.is_valid === false)
    .map((f) => {
      const name = qualified(f.schema, f.index);
      const def = String(f.info.indexdef ?? '');
      return {
        id: `invalid_index:${f.schema}.${f.index}`,
        rule: 'invalid_index',
        severity: 'warning' as const,
        category: 'indexes' as const,
        object: `${f.schema}.${f.index}`,
        title: `Index ${name} is invalid (a CREATE INDEX CONCURRENTLY or REINDEX that failed): it is never used but still updated on every write`,
        evidence: {
          values: { indisvalid: false, size_bytes: f.sizeBytes, definition: def },
          window: {
            ...window,
            description:
              'pg_index.indisvalid in the latest sample (a build in progress is also invalid until it finishes)',
          },
        },
        fix: {
          sql: `DROP INDEX CONCURRENTLY ${name};\n${def.replace(/^CREATE (UNIQUE )?INDEX /i, (m) => m.replace('INDEX ', 'INDEX CONCURRENTLY '))};`,
          caveat:
            f.info.is_unique === true
              ? 'a unique build usually fails on duplicate keys: remove the duplicates first or the rebuild fails again'
              : 'or: REINDEX INDEX CONCURRENTLY ' + name,
          action: 'reindex' as const,
        },
        impact: `removes write overhead of a useless ${fmtBytes(f.sizeBytes)} index; rebuilt, it serves the queries it was made for`,
      };
    });
}
