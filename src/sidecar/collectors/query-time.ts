/**
 * How long a collector waits for PostgreSQL: the time its connection has a query outstanding,
 * measured on the client (so network round trips are included). Overlapping queries on one
 * connection are queued by pg, so only the union of busy spans counts — never the same wait twice.
 */

interface Queryable {
  query: (...args: any[]) => unknown;
}

/**
 * Start timing every promise-returning `client.query` until the returned stop function is called;
 * stop restores the client and answers the busy time in seconds. Callback-style calls and
 * submittables (cursors) are not timed; the collectors use neither.
 */
export function timeQueries(client: Queryable): () => number {
  const hadOwn = Object.prototype.hasOwnProperty.call(client, 'query');
  const original = client.query;
  let inFlight = 0;
  let since = 0n;
  let busy = 0n;
  const settled = () => {
    if (--inFlight === 0) {
      busy += process.hrtime.bigint() - since;
    }
  };
  client.query = function timedQuery(...args: unknown[]): unknown {
    const r = original.apply(client, args);
    if (r && typeof (r as Promise<unknown>).then === 'function') {
      if (inFlight++ === 0) {
        since = process.hrtime.bigint();
      }
      // a side branch only to time it: the caller still sees (and handles) the rejection
      (r as Promise<unknown>).then(settled, settled);
    }
    return r;
  };
  return () => {
    if (hadOwn) {
      client.query = original;
    } else {
      delete (client as Partial<Queryable>).query;
    }
    return Number(busy) / 1e9;
  };
}
