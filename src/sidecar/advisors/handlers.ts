/**
 * Engine handlers: the `recommendations` table (findings open at the end of the range) and the
 * `findings_count` series (open findings per severity at the end of each step).
 */
import type { Frame } from '../../model/frames';
import type { EngineContext } from '../engine/context';
import { seriesFrame, tableFrame } from '../engine/series-frames';
import { findingIntervals, openFindings } from './findings-store';
import { severities, type StoredFinding } from './types';

function evidenceText(f: StoredFinding): string {
  const vals = Object.entries(f.evidence.values)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return vals;
}

export function recommendations(ctx: EngineContext): Frame[] {
  const at = ctx.range.to >= Date.now() - 1000 ? undefined : ctx.range.to;
  let rows = openFindings(ctx.store, ctx.query.target, at);
  const schema = ctx.query.schema;
  const table = ctx.query.table;
  if (schema || table) {
    rows = rows.filter((f) => {
      const [s, rest] = f.object.includes('.')
        ? [f.object.split('.')[0], f.object.slice(f.object.indexOf('.') + 1)]
        : ['', f.object];
      return (
        (!schema || s === schema) &&
        (!table || rest === table || rest.startsWith(`${table}(`) || f.object.includes(`.${table}`))
      );
    });
  }
  const top = rows.slice(0, ctx.query.topN ?? ctx.metric.defaults?.topN ?? 100);
  const col = (
    name: string,
    values: Array<string | number | null>,
    config?: Frame['fields'][number]['config'],
    type: 'string' | 'number' | 'time' = 'string'
  ) => ({
    name,
    type,
    values,
    ...(type === 'number' ? { nullable: true } : {}),
    ...(config ? { config } : {}),
  });
  return [
    tableFrame(
      ctx,
      [
        col(
          'severity',
          top.map((f) => f.severity)
        ),
        col(
          'category',
          top.map((f) => f.category)
        ),
        col(
          'rule',
          top.map((f) => f.rule)
        ),
        col(
          'object',
          top.map((f) => f.object)
        ),
        col(
          'finding',
          top.map((f) => f.title)
        ),
        col('evidence', top.map(evidenceText), { description: 'the numbers behind the finding' }),
        col(
          'window',
          top.map(
            (f) =>
              `${new Date(f.evidence.window.from).toISOString()} – ${new Date(f.evidence.window.to).toISOString()}: ${f.evidence.window.description}`
          )
        ),
        col(
          'fix',
          top.map((f) => [f.fix.sql, f.fix.setting].filter(Boolean).join('\n'))
        ),
        col(
          'caveat',
          top.map((f) => f.fix.caveat ?? '')
        ),
        col(
          'impact',
          top.map((f) => f.impact)
        ),
        col(
          'gain_pct',
          top.map((f) => f.proof?.gainPct ?? null),
          { displayName: 'hypopg gain', unit: 'percent' },
          'number'
        ),
        col(
          'first_seen',
          top.map((f) => f.firstSeen),
          undefined,
          'time'
        ),
        col(
          'last_seen',
          top.map((f) => f.lastSeen),
          undefined,
          'time'
        ),
        col(
          'id',
          top.map((f) => f.id)
        ),
      ],
      'advisor findings open at the end of the range (evaluated periodically from stored history; see each row’s window)'
    ),
  ];
}

export function findingsCount(ctx: EngineContext): Frame[] {
  const intervals = findingIntervals(ctx.store, ctx.query.target, ctx.range.from, ctx.range.to);
  const ends = ctx.grid.starts.map((s) => Math.min(s + ctx.grid.step, ctx.range.to));
  // before the first evaluation there is nothing to count: a gap, not a zero
  const firstEval = Number(ctx.store.kvGet(`advisor:first_eval:${ctx.query.target}`) ?? NaN);
  return severities.map((sev) => {
    const mine = intervals.filter((i) => i.severity === sev);
    const values = ends.map((t) =>
      Number.isFinite(firstEval) && t >= firstEval
        ? mine.filter((i) => i.firstSeen <= t && (i.clearedAt === null || i.clearedAt > t)).length
        : null
    );
    return seriesFrame(
      ctx,
      'findings_count',
      { severity: sev },
      values,
      'open advisor findings at the end of each step'
    );
  });
}
