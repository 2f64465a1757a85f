/**
 * The audit trail of actions: every request, valid or not (dry-run, refused with the reason, done,
 * failed, skipped by PostgreSQL) is a row in the
 * store and an event (annotation) — what, when, which trigger, and the result.
 */
import type { Store } from '../store/store';

/** skipped: PostgreSQL ran the statement but skipped the work with a WARNING (e.g. no permission to VACUUM) */
export type AuditStatus = 'dry_run' | 'refused' | 'running' | 'done' | 'failed' | 'skipped';

export interface AuditEntry {
  id: number;
  target: string;
  ts: number;
  action: string;
  object: string;
  trigger: string;
  dryRun: boolean;
  sql: string;
  status: AuditStatus;
  result: string;
  finishedTs: number | null;
}

export function auditStart(
  store: Store,
  target: string,
  e: {
    ts: number;
    action: string;
    object: string;
    trigger: string;
    dryRun: boolean;
    sql: string;
    status: AuditStatus;
    result?: string;
  }
): number {
  const finished = e.status === 'running' ? null : e.ts;
  const id = Number(
    store.db
      .prepare(
        'INSERT INTO action_audit (target_id, ts, action, object, trigger, dry_run, sql, status, result, finished_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
      )
      .run(
        store.targetId(target),
        e.ts,
        e.action,
        e.object,
        e.trigger,
        e.dryRun ? 1 : 0,
        e.sql,
        e.status,
        e.result ?? '',
        finished
      ).lastInsertRowid
  );
  if (e.status !== 'running') {
    annotate(store, target, { ...e, id, result: e.result ?? '' });
  }
  return id;
}

export function auditFinish(
  store: Store,
  target: string,
  id: number,
  status: AuditStatus,
  result: string,
  ts = Date.now()
): void {
  store.db
    .prepare('UPDATE action_audit SET status = ?, result = ?, finished_ts = ? WHERE id = ?')
    .run(status, result, ts, id);
  const row = auditEntry(store, id);
  if (row) {
    annotate(store, target, { ...row, ts });
  }
}

function annotate(
  store: Store,
  target: string,
  e: {
    id: number;
    ts: number;
    action: string;
    object: string;
    trigger: string;
    dryRun: boolean;
    sql: string;
    status: string;
    result: string;
  }
): void {
  const verb = e.dryRun ? 'dry-run' : e.status;
  store.addEvent(target, {
    ts: e.ts,
    kind: 'action',
    title: `action ${e.action} ${e.object}: ${verb}`,
    text: `trigger: ${e.trigger}\n${e.sql}${e.result ? `\nresult: ${e.result}` : ''}\naudit id ${e.id}`,
    tags: ['pgpulse', 'action', e.action, e.status, e.trigger.split(':')[0]],
  });
}

interface Row {
  id: number;
  ts: number;
  action: string;
  object: string;
  trigger: string;
  dry_run: number;
  sql: string;
  status: AuditStatus;
  result: string;
  finished_ts: number | null;
  name: string;
}

const toEntry = (r: Row): AuditEntry => ({
  id: r.id,
  target: r.name,
  ts: r.ts,
  action: r.action,
  object: r.object,
  trigger: r.trigger,
  dryRun: r.dry_run === 1,
  sql: r.sql,
  status: r.status,
  result: r.result,
  finishedTs: r.finished_ts,
});

export function auditEntry(store: Store, id: number): AuditEntry | undefined {
  const r = store.db
    .prepare('SELECT a.*, t.name FROM action_audit a JOIN target t ON t.id = a.target_id WHERE a.id = ?')
    .get(id) as Row | undefined;
  return r ? toEntry(r) : undefined;
}

export function auditList(store: Store, target: string, from: number, to: number, limit = 500): AuditEntry[] {
  return (
    store.db
      .prepare(
        'SELECT a.*, t.name FROM action_audit a JOIN target t ON t.id = a.target_id WHERE a.target_id = ? AND a.ts >= ? AND a.ts <= ? ORDER BY a.ts DESC, a.id DESC LIMIT ?'
      )
      .all(store.targetId(target), from, to, limit) as Row[]
  ).map(toEntry);
}
