/**
 * The recall estimate and its confidence interval, and advice that only moves when an interval
 * clears the target.
 *
 * The unit of sampling is the query vector: each sampled query gives one recall r_i ∈ [0, 1]
 * (|ANN top-k ∩ exact top-k| / k). The k hits of one query are not independent (a query in a
 * badly linked region misses several neighbours at once), so treating the n·k hits as one
 * binomial sample gives intervals that are too narrow, and a normal or bootstrap interval over
 * the r_i collapses to zero width when every sampled query had recall 1. We use the Wilson score
 * interval with a design-effect-adjusted effective sample size (Korn & Graubard 1998, the usual
 * interval for clustered proportions): n_eff = p̂(1 − p̂) / (s² / n), bounded to [n, n·k] — n when
 * hits within a query move together, n·k when they are independent, and n·k when all r_i are
 * equal (s² = 0), so the interval never has zero width.
 */

/** two-sided 95 %: the interval shown */
export const Z95 = 1.959963984540054;
/** two-sided 99 %: the interval the advice moves on (a wrong move needs a 1-in-200 miss) */
export const Z99 = 2.5758293035489004;

export interface RecallEstimate {
  recall: number;
  lower: number;
  upper: number;
  /** number of query vectors */
  n: number;
  /** effective sample size the interval used */
  nEff: number;
}

/** Wilson score interval of a proportion p̂ from an (effective) sample of size n. */
export function wilson(p: number, n: number, z = Z95): { lower: number; upper: number } {
  if (n <= 0) {
    return { lower: 0, upper: 1 };
  }
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/** Mean recall of the per-query recalls with its 95 % interval (k = hits per query). */
export function estimateRecall(perQuery: number[], k: number, z = Z95): RecallEstimate | null {
  const n = perQuery.length;
  if (n === 0) {
    return null;
  }
  const p = perQuery.reduce((a, b) => a + b, 0) / n;
  const s2 = n > 1 ? perQuery.reduce((a, r) => a + (r - p) * (r - p), 0) / (n - 1) : 0;
  const maxN = n * Math.max(1, k);
  let nEff = s2 > 0 ? (p * (1 - p)) / (s2 / n) : maxN;
  nEff = Math.min(maxN, Math.max(n, nEff));
  return { recall: p, ...wilson(p, nEff, z), n, nEff };
}

/** Query vectors needed so a recall near p gets a 95 % half-width of at most h (worst case: hits of one query fully correlated). */
export function samplesFor(p: number, h: number, z = Z95): number {
  return Math.ceil((z * z * p * (1 - p)) / (h * h));
}

export interface CurvePoint {
  /** ef_search / probes value */
  value: number;
  recall: number;
  lower: number;
  upper: number;
}

export interface Advice {
  /** the advised setting, null = no measured setting clears the target */
  value: number | null;
  /** why the advice is what it is (kept, moved up, moved down, undecided) */
  reason: string;
}

/**
 * The smallest setting whose interval lies above the target, with hysteresis: a previous advice is
 * kept until the data prove it wrong. It moves up only when its own interval lies wholly below
 * the target, and down only when a smaller setting's interval lies wholly above the target; a
 * point estimate crossing the target back and forth changes nothing.
 */
export function adviseSetting(curve: CurvePoint[], target: number, previous: number | null | undefined): Advice {
  const pts = [...curve].sort((a, b) => a.value - b.value);
  const cleared = pts.find((p) => p.lower >= target) ?? null;
  if (previous === undefined) {
    if (cleared) {
      return { value: cleared.value, reason: `smallest measured value whose 95 % interval lies above ${target}` };
    }
    const straddle = pts.find((p) => p.upper >= target);
    return { value: null, reason: straddle ? `undecided: the interval at ${straddle.value} contains ${target}; more probe runs or a larger sampleSize will settle it` : `no measured value reaches ${target}` };
  }
  if (previous === null) {
    return cleared ? { value: cleared.value, reason: `interval at ${cleared.value} now lies above ${target}` } : { value: null, reason: `no measured value's interval lies above ${target} yet` };
  }
  const prev = pts.find((p) => p.value === previous);
  if (prev && prev.upper < target) {
    // proven too low: move to the smallest setting that clears the target (or none)
    return cleared ? { value: cleared.value, reason: `interval at ${previous} now lies below ${target}` } : { value: null, reason: `interval at ${previous} now lies below ${target} and no measured value clears it` };
  }
  if (cleared && cleared.value < previous) {
    return { value: cleared.value, reason: `interval at ${cleared.value} lies above ${target}` };
  }
  if (!prev) {
    // the sweep changed and no longer measures the advised value: start over
    return adviseSetting(curve, target, undefined);
  }
  return { value: previous, reason: `kept: no interval has cleared ${target} to justify a change` };
}
