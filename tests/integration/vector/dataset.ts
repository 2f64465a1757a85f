/**
 * A reproducible clustered dataset: `n` vectors of `dims` dimensions around `clusters` random
 * centres (mulberry32 PRNG, Box–Muller noise), and brute-force exact neighbours in JS with the
 * same float32 arithmetic pgvector uses, so tests judge the sidecar against an independent answer.
 */
import { seeded } from '../../../src/sidecar/vector/query-vectors';

/** the sidecar's own seeded generator: test datasets are reproducible with the same code */
export const rng = seeded;

export function clustered(n: number, dims: number, clusters: number, seed = 42, spread = 0.15): Float32Array[] {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, () => r() * 2 - 1));
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(r() * clusters)];
    return Float32Array.from({ length: dims }, (_, d) => c[d] + gauss() * spread);
  });
}

export function toSql(v: Float32Array): string {
  return `[${Array.from(v).join(',')}]`;
}

/** squared L2 in float32 steps, as pgvector's vector_l2_squared_distance */
export function l2sq(a: Float32Array, b: Float32Array): number {
  const acc = new Float32Array(1);
  for (let i = 0; i < a.length; i++) {
    const d = Math.fround(a[i] - b[i]);
    acc[0] = Math.fround(acc[0] + Math.fround(d * d));
  }
  return acc[0];
}

/** ids of the k nearest vectors by L2 (ties broken by id) */
export function exactTopK(q: Float32Array, ids: number[], vecs: Float32Array[], k: number): number[] {
  const d = vecs.map((v, i) => ({ id: ids[i], d: l2sq(q, v) }));
  d.sort((a, b) => a.d - b.d || a.id - b.id);
  return d.slice(0, k).map((x) => x.id);
}
