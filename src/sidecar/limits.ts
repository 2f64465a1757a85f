/**
 * Input bounds shared by every transport (HTTP API and Grafana's gRPC plugin protocol): the same
 * request is refused the same way whichever way it comes in.
 */

/** queries in one HTTP /api/v1/query body or one gRPC QueryData request */
export const MAX_QUERIES_PER_REQUEST = 100;

/** Why a set of refIds cannot be answered one answer per refId: empty or repeated ones. */
export function refIdProblems(refIds: string[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const r of refIds) {
    count.set(r, (count.get(r) ?? 0) + 1);
  }
  const out = new Map<string, string>();
  for (const [r, n] of count) {
    if (r === '') {
      out.set(
        r,
        `${n === 1 ? 'a query has' : `${n} queries have`} an empty refId: every query needs its own refId (A, B, …)`
      );
    } else if (n > 1) {
      out.set(
        r,
        `refId ${r.slice(0, 80)} is used by ${n} queries of this request: refIds must be unique, so each answer can be told apart`
      );
    }
  }
  return out;
}
