/**
 * Vector advice, each line naming the fix: the smallest ef_search / probes reaching the target
 * recall (from the measured sweep), indexes larger than cache, halfvec for large dimensions,
 * dead tuples, known pgvector bugs, and per query: missing index, misuse, short results.
 */
export interface IndexFacts {
  schema: string;
  table: string;
  index: string;
  amname: string;
  keyType: string;
  dims: number | null;
  sizeBytes: number;
  tableRows: number | null;
  deadTuples: number | null;
  sharedBuffersBytes: number | null;
  lfcBytes: number | null;
  bugs: string[];
  iterativeScan: string | null;
  lists: number | null;
}

export interface ProbePoint {
  schema: string;
  index: string;
  /** 'default' or the swept value */
  setting: string;
  k: number;
  ts: number;
  recall: number | null;
  /** 99 % interval of recall */
  lower: number | null;
  upper: number | null;
  p95: number | null;
  /** the setting's numeric value (default resolved) */
  value: number | null;
  returned: number | null;
}

/** the setting the probes advised (decided at probe time with hysteresis, see recall-stats.ts) */
export interface AdvisedSetting {
  /** null: no measured setting clears the target (or still collecting) */
  value: number | null;
  reason: string;
  param: string;
  collecting?: boolean;
}

/** halfvec halves index size and memory with little recall loss for embeddings this wide */
export const HALFVEC_DIMS = 1024;

const mb = (b: number) => `${(b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0)} MB`;

const iv = (p: ProbePoint) =>
  p.lower !== null && p.upper !== null ? ` (99 % interval ${p.lower.toFixed(3)}–${p.upper.toFixed(3)})` : '';

export function indexAdvice(
  f: IndexFacts,
  points: ProbePoint[],
  targetRecall: number,
  advised?: AdvisedSetting
): string[] & { best: number | null } {
  const out = [] as unknown as string[] & { best: number | null };
  out.best = null;
  const param = f.amname === 'ivfflat' ? 'ivfflat.probes' : 'hnsw.ef_search';
  const measured = points.filter((p) => p.recall !== null);
  if (measured.length > 0 && advised) {
    const dflt = points.find((p) => p.setting === 'default');
    if (advised.value !== null) {
      out.best = advised.value;
      const best = measured.filter((p) => p.value === advised.value).sort((a) => (a.setting === 'default' ? 1 : -1))[0];
      const at = best ? `recall ${(best.recall as number).toFixed(3)}${iv(best)}` : 'the target';
      if (dflt && dflt.value !== null && dflt.value < advised.value) {
        out.push(
          `recall@${dflt.k} ${(dflt.recall as number).toFixed(3)}${iv(dflt)} at the session ${param}=${dflt.value} does not reach ${targetRecall} with confidence: SET ${param} = ${advised.value} (reaches ${at}; ${advised.reason})`
        );
      } else if (dflt && dflt.value !== null && advised.value < dflt.value) {
        out.push(
          `${param} = ${advised.value} already reaches ${at} ≥ ${targetRecall}: lower it from ${dflt.value} for faster queries if latency matters (${advised.reason})`
        );
      }
    } else if (advised.collecting) {
      out.push(`no ${param} advice yet: ${advised.reason}`);
    } else {
      const top = [...measured].sort((a, b) => (b.recall as number) - (a.recall as number))[0];
      out.push(
        `no measured ${param} reaches recall ${targetRecall} with confidence (best ${(top.recall as number).toFixed(3)}${iv(top)} at ${top.value}; ${advised.reason}): ${
          f.amname === 'ivfflat'
            ? 'raise ivfflat.probes further or rebuild with lists ≈ rows/1000'
            : 'raise hnsw.ef_search further, or rebuild with larger m / ef_construction'
        }`
      );
    }
  } else if (points.length > 0 && measured.length === 0) {
    out.push('recall not measured (exact scan skipped or timed out): see the probe status');
  }
  const short = points.find((p) => p.returned !== null && p.returned < p.k);
  if (short) {
    out.push(
      `the ANN query at ${param}=${short.value} returned ${short.returned?.toFixed(1)} rows on average, fewer than k=${short.k}: raise ${param} to at least k${f.amname === 'hnsw' ? ' or enable hnsw.iterative_scan (pgvector 0.8+)' : ''}`
    );
  }
  if (f.sharedBuffersBytes && f.sizeBytes > f.sharedBuffersBytes) {
    const lfc = f.lfcBytes ? ` and the Neon local file cache (${mb(f.lfcBytes)})` : '';
    const fitsLfc = f.lfcBytes !== null && f.sizeBytes <= f.lfcBytes;
    out.push(
      `index (${mb(f.sizeBytes)}) is larger than shared_buffers (${mb(f.sharedBuffersBytes)})${fitsLfc ? ` but fits the Neon LFC (${mb(f.lfcBytes as number)})` : lfc}: ANN search slows sharply once the graph no longer stays in memory; raise shared_buffers / compute size${
        f.keyType === 'vector' ? ', or index a halfvec cast to halve it' : ''
      }`
    );
  }
  if (f.keyType === 'vector' && f.dims !== null && f.dims >= HALFVEC_DIMS) {
    out.push(
      `${f.dims} dimensions as vector (4 bytes each): an index on (column::halfvec(${f.dims})) is half the size with little recall loss; query with the same cast`
    );
  }
  if (f.tableRows !== null && f.deadTuples !== null && f.tableRows > 0 && f.deadTuples / f.tableRows > 0.1) {
    const pct = Math.round((100 * f.deadTuples) / f.tableRows);
    // before 0.8.4 vacuuming an HNSW index can corrupt it: the fix is the upgrade first, not VACUUM
    const vacuumBug = f.amname === 'hnsw' && f.bugs.some((b) => b.includes('HNSW vacuum'));
    out.push(
      vacuumBug
        ? `${pct}% dead tuples: they take ${param} slots until VACUUM, but HNSW vacuum on this pgvector version can corrupt the index: upgrade pgvector to 0.8.4+ (ALTER EXTENSION vector UPDATE) before VACUUM ${f.schema}.${f.table}, then REINDEX INDEX CONCURRENTLY ${f.schema}.${f.index}`
        : `${pct}% dead tuples: they take ${param} slots until VACUUM (HNSW vacuum is slow: schedule it)`
    );
  }
  if (f.amname === 'ivfflat' && f.lists !== null && f.tableRows !== null && f.tableRows > 0) {
    const ideal = f.tableRows <= 1_000_000 ? f.tableRows / 1000 : Math.sqrt(f.tableRows);
    if (f.lists > ideal * 4 || f.lists < ideal / 4) {
      out.push(
        `lists = ${f.lists} for ${Math.round(f.tableRows)} rows (guidance ≈ ${Math.max(1, Math.round(ideal))}): rebuild the index when convenient`
      );
    }
  }
  out.push(...f.bugs);
  return out;
}

/** Advice for one classified vector query (info from the vector collector) and its range figures. */
export function queryAdvice(
  info: Record<string, any>,
  rowsPerCall: number | null,
  kDefault: number,
  iterativeScan: string | null
): string[] {
  const out: string[] = [...((info.problems as string[] | undefined) ?? [])];
  if (
    info.explain_index === null &&
    typeof info.explain === 'string' &&
    info.explain.startsWith('EXPLAIN:') &&
    (info.problems ?? []).length === 0
  ) {
    out.push(
      'EXPLAIN shows no ANN index scan although the query matches an index: the planner prefers another plan (small table, selective filter, or ivfflat.probes = lists)'
    );
  }
  const k = typeof info.limit === 'number' ? info.limit : kDefault;
  if (info.hasFilter && rowsPerCall !== null && rowsPerCall < k && info.expected_index) {
    out.push(
      `filtered query returns ${rowsPerCall.toFixed(1)} rows per call, fewer than k=${k}${typeof info.limit === 'number' ? '' : ' (assumed: the LIMIT is a parameter)'}: the index hands back at most ef_search candidates before the filter; ${
        iterativeScan && iterativeScan !== 'off'
          ? 'raise hnsw.max_scan_tuples'
          : 'SET hnsw.iterative_scan = relaxed_order (pgvector 0.8+) or raise hnsw.ef_search'
      }`
    );
  }
  return out;
}
