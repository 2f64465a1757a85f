/**
 * Time range parsing and sanity checks for queries: epoch ms, ISO strings, or Grafana-style
 * relative times ("now", "now-6h").
 */
const REL = /^now(?:-(\d+)(ms|s|m|h|d|w))?$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** the longest range a query may span: past retention there is nothing to read anyway */
export const MAX_RANGE_MS = 400 * 86_400_000;

/** JavaScript's Date range (±8.64e15 ms): a time past it cannot even be printed */
export const MAX_EPOCH_MS = 8.64e15;

function inDateRange(t: number, field: string, v: unknown): number {
  if (!Number.isFinite(t) || Math.abs(t) > MAX_EPOCH_MS) {
    throw new RangeError(
      `${field}: ${JSON.stringify(v)?.slice(0, 60)} is outside the range of a time (±${MAX_EPOCH_MS} ms around 1970): send epoch milliseconds, an ISO 8601 time or now-<n><unit>`
    );
  }
  return t;
}

export function parseTime(v: unknown, field: string, now = Date.now()): number {
  if (typeof v === 'number' && Number.isFinite(v)) {
    return inDateRange(v, field, v);
  }
  if (typeof v === 'string' && v.trim() !== '') {
    const s = v.trim();
    if (/^-?\d+$/.test(s)) {
      return inDateRange(Number(s), field, v);
    }
    const m = REL.exec(s);
    if (m) {
      return inDateRange(now - (m[1] ? Number(m[1]) * UNIT[m[2]] : 0), field, v);
    }
    const t = Date.parse(s);
    if (!Number.isNaN(t)) {
      return t;
    }
  }
  throw new RangeError(
    `${field}: expected epoch milliseconds, an ISO 8601 time or now-<n><unit> (e.g. now-1h), got ${JSON.stringify(v)?.slice(0, 60)}`
  );
}

export function checkRange(from: number, to: number): string | null {
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    return 'time range: from and to must be finite numbers';
  }
  if (from >= to) {
    return `time range is inverted or empty: from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`;
  }
  if (to - from > MAX_RANGE_MS) {
    return `time range of ${Math.round((to - from) / 86_400_000)} days is too long: pgpulse answers at most 400 days`;
  }
  if (from < 0 || to > Date.now() + 366 * 86_400_000) {
    return 'time range is outside any stored history (before 1970 or more than a year ahead)';
  }
  return null;
}

/** from/to as a request gives them (absent: the defaults), parsed and checked: the range, or why not */
export function parseRange(
  from: unknown,
  to: unknown,
  defaults: { from: string; to?: string }
): { from: number; to: number } | { error: string } {
  let range: { from: number; to: number };
  try {
    range = { from: parseTime(from ?? defaults.from, 'from'), to: parseTime(to ?? defaults.to ?? 'now', 'to') };
  } catch (e) {
    return { error: (e as Error).message };
  }
  const bad = checkRange(range.from, range.to);
  return bad ? { error: bad } : range;
}
