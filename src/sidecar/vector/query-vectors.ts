/**
 * Probe query vectors: a uniform sample of the table's vectors, each moved off its stored position
 * (see probes.ts for why and docs/vector.md for the measurements).
 *
 * Uniform over the whole table: TABLESAMPLE BERNOULLI keeps each row with the same probability
 * wherever it lives, then the sample is ordered by a seeded hash of the ctid and cut to n — never
 * `LIMIT n` in physical order, which keeps the first pages only (the old sample of a 200k-row table
 * came from 2 heap pages). Above maxExactRows (no recall there, latency only) SYSTEM sampling
 * picks whole pages uniformly so the read stays small.
 */

/** mulberry32: a small seeded PRNG, so one run's query vectors can be rebuilt by tests */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** key types whose text form is a dense '[x,y,…]' array that can be moved */
export function movable(keyType: string): boolean {
  return keyType === 'vector' || keyType === 'halfvec';
}

export function parseDense(text: string): number[] {
  return JSON.parse(text) as number[];
}

export function denseSql(v: number[]): string {
  return `[${v.join(',')}]`;
}

export function l2(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * v moved by `distance` in a uniformly random direction (a normalised Gaussian vector).
 * `distance` is the distance from v to its nearest other stored vector.
 */
export function moveBy(v: number[], distance: number, rnd: () => number): number[] {
  const dir = v.map(() => Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd()));
  const norm = Math.sqrt(dir.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x, i) => x + (distance * dir[i]) / norm);
}

/** the SQL of the uniform sample: rows (ctid, vector text) of the indexed key */
export function sampleSql(
  table: string,
  keySql: string,
  predicate: string | null,
  tableRows: number | null,
  n: number,
  seed: number,
  maxExactRows: number
): string {
  const rows = Math.max(1, tableRows ?? 1000);
  // 3n expected rows: P(fewer than n) is negligible for n ≥ 10 (Chernoff); the caller tops up otherwise
  const pct = Math.min(100, Math.max(0.0001, (100 * n * 3) / rows));
  const method = rows <= maxExactRows ? 'BERNOULLI' : 'SYSTEM';
  const where = `WHERE ${keySql} IS NOT NULL${predicate ? ` AND (${predicate})` : ''}`;
  return `SELECT ctid::text AS id, (${keySql})::text AS q FROM ${table} TABLESAMPLE ${method} (${pct}) REPEATABLE (${seed}) ${where} ORDER BY pg_catalog.md5(ctid::text || '${seed}') LIMIT ${n}`;
}
