/**
 * Why probes could not measure: a failed probe run (the sample's error) or indexes whose probe
 * failed (e.g. no SELECT on the table, with the GRANT that fixes it). Health, doctor and the
 * recall panels say the same thing.
 */
import type { Store } from '../store/store';

export function probeProblems(store: Store, target: string): string[] {
  const last = store.lastSample(target, 'vector_probe', false);
  if (!last) {
    return [];
  }
  if (!last.ok) {
    const err = (
      store.db.prepare('SELECT error FROM sample WHERE id = ?').get(last.id) as { error: string | null } | undefined
    )?.error;
    return [`vector probes failed: ${err ?? 'unknown error'}`];
  }
  const lastOk = store.lastSample(target, 'vector_probe', true);
  if (!lastOk || lastOk.id !== last.id) {
    return [];
  }
  const run = store.entities(target, 'vector_probe', { object: 'run' })[0];
  const probes = (run?.info.probes as Array<{ index: string; status: string }> | undefined) ?? [];
  return probes
    .filter((p) => p.status.startsWith('permission denied') || p.status.startsWith('error:'))
    .map((p) => `vector probe of ${p.index}: ${p.status}`);
}
