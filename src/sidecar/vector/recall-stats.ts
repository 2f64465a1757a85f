/**
 * The recall estimate and its confidence interval, and advice that only moves when an interval
 * clears the target.
 *
 * The unit of sampling is the query vector: each sampled query gives one recall r_i ∈ [0, 1]
 * (|ANN top-k ∩ exact top-k| / k), and the estimate is their mean. The r_i are skewed (most
 * queries find all k neighbours, a few miss many), so intervals built from their sample variance
 * (normal / t, or a design-effect-adjusted Wilson) under-cover at high recall, and a bootstrap
 * collapses to zero width when every sampled query had recall 1. Any variable in [0, 1] with mean p
 * has variance ≤ p(1 − p), so a binomial interval with n = the number of query vectors is
 * conservative whatever the shape of the r_i, and never has zero width.
 *
 * Of the binomial intervals we use Agresti–Coull (Agresti & Coull 1998; recommended with Wilson by
 * Brown, Cai & DasGupta 2001): its centre is Wilson's and its variance is taken at that shrunk
 * centre, so it is a little wider, and its upper bound reaches 1 when only a few neighbours were
 * missed. Wilson's upper bound stays below 1 after a single miss, so on an index whose recall is 1
 * one unlucky query put the truth outside the interval (bench/vector-recall-validation: 17/20 at
 * halfvec-768 ef_search 80).
 *
 * The interval shown is the 99 % one, the level the advice decides on: 95 % intervals covered the
 * independently computed recall in 17–20 of 20 runs per setting (chance alone takes a true 95 %
 * below 19/20 a quarter of the time), too often short of the ≥ 95 % a user can act on.
 */

/** two-sided 95 % (the usual level; tests and docs compare against it) */
export const Z95 = 1.959963984540054;
/** two-sided 99 %: the interval shown, and the one the advice moves on (a wrong move needs a 1-in-200 miss) */
export const Z99 = 2.5758293035489004;
/** the confidence of the interval shown, in the words panels and advice use */
export const SHOWN_LEVEL = '99 %';
/** two-sided 99.9 %: what a move down to a cheaper setting must clear */
export const Z999 = 3.2905267314919255;

export interface RecallEstimate {
  recall: number;
  lower: number;
  upper: number;
  /** number of query vectors */
  n: number;
  /** sample size the interval used (the number of query vectors) */
  nEff: number;
}

/** Agresti–Coull interval of a proportion p̂ from a sample of size n (n + z² trials, z²/2 of them added successes). */
export function agrestiCoull(p: number, n: number, z = Z99): { lower: number; upper: number } {
  if (n <= 0) {
    return { lower: 0, upper: 1 };
  }
  const z2 = z * z;
  const nt = n + z2;
  const pt = (p * n + z2 / 2) / nt;
  const half = z * Math.sqrt((pt * (1 - pt)) / nt);
  return { lower: Math.max(0, pt - half), upper: Math.min(1, pt + half) };
}

/** Mean recall of the per-query recalls with its interval (Agresti–Coull over the n query vectors; 99 % unless z says otherwise). */
export function estimateRecall(perQuery: number[], _k: number, z = Z99): RecallEstimate | null {
  const n = perQuery.length;
  if (n === 0) {
    return null;
  }
  const p = perQuery.reduce((a, b) => a + b, 0) / n;
  return { recall: p, ...agrestiCoull(p, n, z), n, nEff: n };
}

/** Query vectors needed so a recall near p gets a half-width of at most h (99 % unless z says otherwise). */
export function samplesFor(p: number, h: number, z = Z99): number {
  return Math.ceil((z * z * p * (1 - p)) / (h * h));
}

export interface CurvePoint {
  /** ef_search / probes value */
  value: number;
  recall: number;
  lower: number;
  upper: number;
  /** lower bound at 99.9 %: what a move to a smaller value must clear (a move down is optional, so it needs more proof) */
  lowerStrict?: number;
}

export interface Advice {
  /** the advised setting, null = no measured setting clears the target */
  value: number | null;
  /** why the advice is what it is (kept, moved up, moved down, undecided, collecting) */
  reason: string;
  /** no advice yet: too few probe runs pooled */
  collecting?: boolean;
  /** a smaller setting that also clears the target at 99.9 %: shown as a hint, the advice stays */
  cheaper?: number;
}

/**
 * The smallest setting whose interval lies above the target, with hysteresis: a previous advice is
 * kept until the data prove it wrong, i.e. until its own interval lies wholly below the target
 * (then it moves up). It never moves down by itself: when the true recall of several settings sits
 * just above the target, pooled 99.9 % bounds cross it now at one setting, now at the next, and an
 * advice that followed them stepped down run after run (bench/vector-recall-validation,
 * halfvec-768: 160, 80, 40, 20 in 16 runs). A smaller setting that clears the target at 99.9 % is
 * reported as a hint (`cheaper`) instead; a changed index or table starts the advice over.
 */
export function adviseSetting(curve: CurvePoint[], target: number, previous: number | null | undefined): Advice {
  const pts = [...curve].sort((a, b) => a.value - b.value);
  const cleared = pts.find((p) => p.lower >= target) ?? null;
  if (previous === undefined) {
    if (cleared) {
      return {
        value: cleared.value,
        reason: `smallest measured value whose ${SHOWN_LEVEL} interval lies above ${target}`,
      };
    }
    const straddle = pts.find((p) => p.upper >= target);
    return {
      value: null,
      reason: straddle
        ? `undecided: the interval at ${straddle.value} contains ${target}; more probe runs or a larger sampleSize will settle it`
        : `no measured value reaches ${target}`,
    };
  }
  if (previous === null) {
    // from "none" to a value is a change too: it needs the stronger (99.9 %) proof
    const proven = pts.find((p) => (p.lowerStrict ?? p.lower) >= target) ?? null;
    return proven
      ? { value: proven.value, reason: `interval at ${proven.value} now lies above ${target} (99.9 %)` }
      : { value: null, reason: `no measured value's interval lies above ${target} with confidence yet` };
  }
  const prev = pts.find((p) => p.value === previous);
  if (prev && prev.upper < target) {
    // proven too low: move to the smallest setting that clears the target (or none)
    return cleared
      ? { value: cleared.value, reason: `interval at ${previous} now lies below ${target}` }
      : { value: null, reason: `interval at ${previous} now lies below ${target} and no measured value clears it` };
  }
  if (!prev) {
    // the sweep changed and no longer measures the advised value: start over
    return adviseSetting(curve, target, undefined);
  }
  const cheaper = pts.find((p) => p.value < previous && (p.lowerStrict ?? p.lower) >= target);
  return cheaper
    ? {
        value: previous,
        cheaper: cheaper.value,
        reason: `kept; ${cheaper.value} also clears ${target} (99.9 %): lower to it if latency matters`,
      }
    : { value: previous, reason: `kept: no interval has proven it wrong` };
}
