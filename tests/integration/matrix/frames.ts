/** Reading query answers in matrix suites: a table frame as rows, failing on a per-refId error. */
import assert from 'node:assert/strict';

export function tableRows(res: any, refId: string): Array<Record<string, unknown>> {
  const r = res.results[refId];
  assert.equal(r.error, undefined, `query ${refId} failed: ${r.error}`);
  const f = r.frames[0];
  const names = f.schema.fields.map((x: any) => x.name);
  const n = f.data.values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((name: string, j: number) => [name, f.data.values[j][i]]))
  );
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
