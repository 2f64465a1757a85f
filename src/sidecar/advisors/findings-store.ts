/**
 * Findings over time: which are open, when each was first and last seen, and when it cleared.
 * A finding that appears or clears becomes an event (a Grafana annotation).
 */
import type { Store } from '../store/store';
import type { Finding, StoredFinding } from './types';

interface Row {
  id: string;
  data: string;
  first_seen: number;
  last_seen: number;
  cleared_at: number | null;
}

function toStored(r: Row): StoredFinding {
  return {
    ...(JSON.parse(r.data) as Finding),
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    clearedAt: r.cleared_at,
  };
}

export function recordFindings(
  store: Store,
  target: string,
  findings: Finding[],
  now: number
): { raised: Finding[]; cleared: StoredFinding[] } {
  const tid = store.targetId(target);
  const open = new Map(
    (
      store.db
        .prepare(
          'SELECT id, data, first_seen, last_seen, cleared_at FROM advisor_finding WHERE target_id = ? AND cleared_at IS NULL'
        )
        .all(tid) as Row[]
    ).map((r) => [r.id, r])
  );
  const raised: Finding[] = [];
  const cleared: StoredFinding[] = [];
  const upsert = store.db.prepare(
    `INSERT INTO advisor_finding (target_id, id, rule, severity, category, object, data, first_seen, last_seen, cleared_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
     ON CONFLICT (target_id, id) DO UPDATE SET rule = excluded.rule, severity = excluded.severity, category = excluded.category,
       object = excluded.object, data = excluded.data, last_seen = excluded.last_seen,
       first_seen = CASE WHEN advisor_finding.cleared_at IS NULL THEN advisor_finding.first_seen ELSE excluded.first_seen END,
       cleared_at = NULL`
  );
  const clear = store.db.prepare('UPDATE advisor_finding SET cleared_at = ? WHERE target_id = ? AND id = ?');
  store.db.transaction(() => {
    const seen = new Set<string>();
    for (const f of findings) {
      if (seen.has(f.id)) {
        continue;
      }
      seen.add(f.id);
      upsert.run(tid, f.id, f.rule, f.severity, f.category, f.object, JSON.stringify(f), now, now);
      if (!open.has(f.id)) {
        raised.push(f);
        store.addEvent(target, {
          ts: now,
          kind: 'finding_raised',
          title: `[${f.severity}] ${f.title}`,
          text: [f.impact, f.fix.sql ?? f.fix.setting ?? ''].filter(Boolean).join('\n'),
          tags: ['pgpulse', 'advisor', f.category, f.severity, f.rule],
        });
      }
    }
    for (const [id, r] of open) {
      if (!seen.has(id)) {
        clear.run(now, tid, id);
        const s = toStored({ ...r, cleared_at: now });
        cleared.push(s);
        store.addEvent(target, {
          ts: now,
          kind: 'finding_cleared',
          title: `resolved: ${s.title}`,
          text: `first seen ${new Date(s.firstSeen).toISOString()}`,
          tags: ['pgpulse', 'advisor', s.category, s.rule],
        });
      }
    }
  })();
  return { raised, cleared };
}

/** Findings open at `at` (default: now, i.e. not cleared). */
export function openFindings(store: Store, target: string, at?: number): StoredFinding[] {
  const tid = store.targetId(target);
  const rows =
    at === undefined
      ? (store.db
          .prepare(
            'SELECT id, data, first_seen, last_seen, cleared_at FROM advisor_finding WHERE target_id = ? AND cleared_at IS NULL'
          )
          .all(tid) as Row[])
      : (store.db
          .prepare(
            'SELECT id, data, first_seen, last_seen, cleared_at FROM advisor_finding WHERE target_id = ? AND first_seen <= ? AND (cleared_at IS NULL OR cleared_at > ?)'
          )
          .all(tid, at, at) as Row[]);
  return rows.map(toStored).sort(bySeverity);
}

/** Every finding whose open interval touches [from, to]: for counting per step. */
export function findingIntervals(
  store: Store,
  target: string,
  from: number,
  to: number
): Array<{ severity: string; firstSeen: number; clearedAt: number | null }> {
  return (
    store.db
      .prepare(
        'SELECT severity, first_seen, cleared_at FROM advisor_finding WHERE target_id = ? AND first_seen <= ? AND (cleared_at IS NULL OR cleared_at > ?)'
      )
      .all(store.targetId(target), to, from) as Array<{
      severity: string;
      first_seen: number;
      cleared_at: number | null;
    }>
  ).map((r) => ({ severity: r.severity, firstSeen: r.first_seen, clearedAt: r.cleared_at }));
}

export function findingById(store: Store, target: string, id: string): StoredFinding | undefined {
  const r = store.db
    .prepare('SELECT id, data, first_seen, last_seen, cleared_at FROM advisor_finding WHERE target_id = ? AND id = ?')
    .get(store.targetId(target), id) as Row | undefined;
  return r ? toStored(r) : undefined;
}

const RANK: Record<string, number> = { critical: 0, warning: 1, info: 2 };
export function bySeverity(
  a: { severity: string; category: string; id: string },
  b: { severity: string; category: string; id: string }
): number {
  return (
    (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3) ||
    a.category.localeCompare(b.category) ||
    a.id.localeCompare(b.id)
  );
}

/** 100 minus weighted findings: critical 20, warning 8, info 2; never below 0. */
export function healthScore(findings: Array<{ severity: string }>): number {
  const w: Record<string, number> = { critical: 20, warning: 8, info: 2 };
  return Math.max(0, 100 - findings.reduce((a, f) => a + (w[f.severity] ?? 0), 0));
}
