/**
 * Every statement pgpulse sends starts with this comment, which pg_stat_statements keeps: the
 * sidecar's own queries (collectors, probes, advisors) are recognised and left out of the
 * statement metrics they would otherwise skew on a quiet database.
 */
import type { PoolClient } from 'pg';

export const OWN_QUERY_MARK = '/* pgpulse */ ';

function mark(text: string): string {
  return text.startsWith(OWN_QUERY_MARK) ? text : OWN_QUERY_MARK + text;
}

/** Patch a pooled client once so that every query it sends carries the mark. */
export function markOwnQueries(client: PoolClient): void {
  const c = client as PoolClient & { __pgpulseMarked?: boolean };
  if (c.__pgpulseMarked) {
    return;
  }
  c.__pgpulseMarked = true;
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, ...rest: unknown[]) => {
    if (typeof config === 'string') {
      return original(mark(config), ...rest);
    }
    if (config && typeof config === 'object' && typeof (config as { text?: unknown }).text === 'string') {
      return original({ ...(config as object), text: mark((config as { text: string }).text) }, ...rest);
    }
    return original(config, ...rest);
  };
}
