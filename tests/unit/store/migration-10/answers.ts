/**
 * What a store answers, as JSON: every read the engine makes of a stream (samples, last sample,
 * matrix, walked and running range totals, value ends, step sums, range start, entities) over a
 * fixed set of ranges and grids. build.ts records it with the code from before migration 10; the
 * test asks the same of the migrated file. Only the Store's public reads: both versions have them.
 */
import type { Store } from '../../../../src/sidecar/store/store';

/** the streams build.ts writes, with the fields their reads ask for */
export const STREAMS: Array<{ target: string; collector: string; fields: string[] }> = [
  { target: 't', collector: 'x', fields: ['c', 'd', 'g', '_epoch'] },
  { target: 't', collector: 'y', fields: ['c', 'd', 'g'] },
  { target: 'u', collector: 'p', fields: ['n', 'm'] },
  { target: 'u', collector: 'q', fields: ['n', 'm'] },
];

const COUNTERS = ['c', 'd', 'n'];

export function storeAnswers(store: Store, end: number): unknown {
  const ranges: Array<[number, number]> = [
    [0, 1e12],
    [end - 30_000, end],
    [end - 200_000, end - 90_000],
    [50_000, 140_000],
    [123_456, 287_654],
  ];
  const out: Record<string, unknown> = { targets: store.targets() };
  for (const { target, collector, fields } of STREAMS) {
    const counters = fields.filter((f) => COUNTERS.includes(f));
    const stream: Record<string, unknown> = {
      lastOk: store.lastSample(target, collector, true),
      lastAny: store.lastSample(target, collector, false),
      entities: store.entities(target, collector),
    };
    for (const [from, to] of ranges) {
      const samples = store.samples(target, collector, from, to);
      const step = Math.max(1000, Math.floor((to - Math.max(from, 0)) / 37 / 1000) * 1000);
      const lo = Math.max(from, 0);
      const starts: number[] = [];
      for (let s = lo; s < Math.min(to, end); s += step) {
        starts.push(s);
      }
      stream[`${from}-${to}`] = {
        samples,
        matrix: store.matrix(target, collector, fields, undefined, samples),
        rangeTotals: store.rangeTotals(target, collector, counters, undefined, samples),
        rangeTotalsBetween: store.rangeTotalsBetween(target, collector, counters, undefined, from, to) ?? null,
        valueEnds: store.valueEnds(target, collector, fields, from, to, true) ?? null,
        stepEnd:
          store.stepTotals(target, collector, counters, undefined, { from, to }, { starts, step }, 'end', 1e6) ?? null,
        stepSpread:
          store.stepTotals(
            target,
            collector,
            counters,
            undefined,
            { from, to },
            { starts, step },
            'spread',
            1e6,
            true
          ) ?? null,
        rangeStart: store.rangeStart(target, collector, from, to) ?? null,
      };
    }
    out[`${target}/${collector}`] = stream;
  }
  // through JSON: what the file records is what is compared
  return JSON.parse(JSON.stringify(out));
}
