/**
 * Server-wide rules: connection saturation, idle-in-transaction sessions, cache hit ratio against
 * the working set, and settings sanity (work_mem against temp spills, maintenance_work_mem for
 * index builds).
 */
import type { ActivityFacts, DatabaseFacts, IndexFacts, SettingFacts, StatementFacts } from '../history';
import type { AdvisorOptions, Finding } from '../types';

const MB = 1 << 20;
const mb = (b: number) => `${Math.round(b / MB)} MB`;

export function serverRules(
  f: {
    activity: ActivityFacts;
    settings: SettingFacts;
    databases: DatabaseFacts[];
    statements: StatementFacts[];
    indexes: IndexFacts[];
  },
  o: AdvisorOptions,
  window: { from: number; to: number; description: string }
): Finding[] {
  const out: Finding[] = [];
  const maxConn = f.settings.value.get('max_connections') ?? null;
  const actWindow = {
    from: f.activity.ts ?? window.to,
    to: f.activity.ts ?? window.to,
    description: 'pg_stat_activity (client backends) in the latest sample',
  };
  if (maxConn && f.activity.ts !== null) {
    const used = f.activity.total;
    const ratio = used / maxConn;
    if (ratio >= o.connectionSaturation) {
      out.push({
        id: 'connection_saturation:server',
        rule: 'connection_saturation',
        severity: ratio >= 0.95 ? 'critical' : 'warning',
        category: 'connections',
        object: 'server',
        title: `${used} of max_connections ${maxConn} client connections in use (${(ratio * 100).toFixed(0)}%)`,
        evidence: {
          values: { client_backends: used, max_connections: maxConn, utilization: Number(ratio.toFixed(3)) },
          window: actWindow,
        },
        fix: {
          setting:
            'put a pooler (PgBouncer, Neon -pooler endpoint) in front of the application; raising max_connections costs memory per backend',
          sql: "SELECT state, count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1;",
        },
        impact: 'new connections stop failing with "too many clients"; fewer backends competing for CPU and memory',
      });
    }
  }
  const idle = f.activity.byState.get('idle in transaction');
  const idleAborted = f.activity.byState.get('idle in transaction (aborted)');
  const idleCount = (idle?.count ?? 0) + (idleAborted?.count ?? 0);
  const idleLongest = Math.max(idle?.longestXactS ?? 0, idleAborted?.longestXactS ?? 0);
  if (idleCount > 0 && idleLongest >= o.idleInTransactionSeconds) {
    const timeout = f.settings.value.get('idle_in_transaction_session_timeout') ?? 0;
    out.push({
      id: 'idle_in_transaction:server',
      rule: 'idle_in_transaction',
      severity: idleLongest >= 3600 ? 'critical' : 'warning',
      category: 'connections',
      object: 'server',
      title: `${idleCount} session(s) idle in transaction, the oldest transaction open for ${Math.round(idleLongest)} s`,
      evidence: {
        values: {
          sessions: idleCount,
          longest_xact_s: Math.round(idleLongest),
          idle_in_transaction_session_timeout_ms: timeout,
        },
        window: actWindow,
      },
      fix: {
        sql: `ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min';\nSELECT pg_reload_conf();`,
        setting:
          'or fix the application path that opens a transaction and waits (missing COMMIT, a request doing I/O inside a transaction)',
        caveat: timeout > 0 ? `a timeout of ${timeout} ms is already set: lower it or find the client` : undefined,
      },
      impact:
        'open transactions hold locks and stop VACUUM from removing dead tuples everywhere; closing them lets cleanup proceed',
    });
  }
  const sharedBuffers = f.settings.value.get('shared_buffers') ?? null;
  for (const d of f.databases) {
    const total = (d.blksHit ?? 0) + (d.blksRead ?? 0);
    if (d.blksHit === null || total < o.cacheMinBlocks) {
      continue;
    }
    const ratio = d.blksHit / total;
    if (ratio < o.cacheHitRatio) {
      const ws = d.sizeBytes;
      const bigger = ws !== null && sharedBuffers !== null && ws > sharedBuffers;
      out.push({
        id: `cache_hit_ratio:${d.datname}`,
        rule: 'cache_hit_ratio',
        severity: ratio < 0.9 ? 'warning' : 'info',
        category: 'memory',
        object: `database:${d.datname}`,
        title: `Cache hit ratio of ${d.datname} is ${(ratio * 100).toFixed(1)}% over the window (${d.blksRead} blocks read from disk)`,
        evidence: {
          values: {
            hit_ratio: Number(ratio.toFixed(4)),
            blks_hit: d.blksHit,
            blks_read: d.blksRead,
            database_bytes: ws,
            shared_buffers_bytes: sharedBuffers,
          },
          window: { ...window, description: `Δblks_hit / (Δblks_hit + Δblks_read), ${window.description}` },
        },
        fix: bigger
          ? {
              setting: `the database (${mb(ws as number)}) is larger than shared_buffers (${mb(sharedBuffers as number)}): raise shared_buffers toward 25% of RAM (restart), or cut the working set (indexes for seq-scanned tables, drop unused indexes)`,
              sql: "ALTER SYSTEM SET shared_buffers = '<25% of RAM>'; -- needs a restart",
            }
          : {
              setting:
                'the data fits in shared_buffers yet is read from disk: look for seq scans of large tables (Table statistics) and missing indexes',
            },
        impact: 'reads served from memory instead of disk; lower and steadier latency',
      });
    }
  }
  // work_mem: statements spilling to temp files
  const workMem = f.settings.value.get('work_mem') ?? null;
  const spilling = f.statements
    .filter((s) => s.tempBlksWritten > 0)
    .sort((a, b) => b.tempBlksWritten - a.tempBlksWritten);
  if (workMem !== null && spilling.length > 0) {
    const blocks = spilling.reduce((a, s) => a + s.tempBlksWritten, 0);
    const top = spilling[0];
    const perCall = (top.tempBlksWritten * 8192) / Math.max(1, top.calls);
    if (blocks * 8192 >= 64 * MB || perCall >= workMem) {
      const suggest = Math.min(Math.max(workMem * 2, Math.ceil(perCall / MB) * MB), 256 * MB);
      out.push({
        id: 'work_mem:server',
        rule: 'work_mem',
        severity: 'info',
        category: 'settings',
        object: 'setting:work_mem',
        title: `${spilling.length} statement(s) spilled ${mb(blocks * 8192)} to temp files with work_mem = ${mb(workMem)}`,
        evidence: {
          values: {
            work_mem_bytes: workMem,
            temp_bytes_written: blocks * 8192,
            statements: spilling.length,
            top_queryid: top.queryid,
            top_temp_bytes_per_call: Math.round(perCall),
          },
          window,
        },
        fix: {
          sql: `ALTER ROLE ${top.username ? `"${top.username.replace(/"/g, '""')}"` : '<app_role>'} SET work_mem = '${Math.round(suggest / MB)}MB';`,
          caveat:
            'work_mem is per sort/hash node per backend: raise it for the role that needs it, not globally, and keep max_connections × work_mem within RAM',
        },
        impact: 'sorts and hashes stay in memory instead of temp files',
      });
    }
  }
  const maint = f.settings.value.get('maintenance_work_mem') ?? null;
  const largest = f.indexes.filter((i) => i.present).reduce((m, i) => Math.max(m, i.sizeBytes ?? 0), 0);
  if (maint !== null && largest > 0 && maint <= 64 * MB && largest >= 16 * maint) {
    out.push({
      id: 'maintenance_work_mem:server',
      rule: 'maintenance_work_mem',
      severity: 'info',
      category: 'settings',
      object: 'setting:maintenance_work_mem',
      title: `maintenance_work_mem is ${mb(maint)} while the largest index is ${mb(largest)}: index builds and vacuums run in many passes`,
      evidence: {
        values: { maintenance_work_mem_bytes: maint, largest_index_bytes: largest },
        window: { ...window, description: 'settings and index sizes in the latest sample' },
      },
      fix: {
        sql: "SET maintenance_work_mem = '1GB'; -- in the session that builds the index\nALTER SYSTEM SET maintenance_work_mem = '512MB'; SELECT pg_reload_conf();",
        caveat: 'autovacuum workers each use up to autovacuum_work_mem (defaults to maintenance_work_mem)',
      },
      impact:
        'faster CREATE INDEX / REINDEX (HNSW builds stay on the fast in-memory path) and fewer index passes per VACUUM',
    });
  }
  return out;
}
