/**
 * Frame → the data-frame JSON the Go SDK decodes (DataFrameFormat JSON, asked for by Grafana
 * builds with SDK >= v0.290). The SDK needs `typeInfo` ({frame, nullable}) on every field — it
 * refuses a field without it — and NaN/±Inf as `entities` beside the values, because JSON has no
 * such numbers. Time values are epoch milliseconds.
 */
import type { Field, Frame } from '../../model/frames';

const goType: Record<Field['type'], string> = {
  time: 'time.Time',
  number: 'float64',
  string: 'string',
  boolean: 'bool',
};

interface Entities {
  NaN?: number[];
  Inf?: number[];
  NegInf?: number[];
}

export function frameToSdkJSON(frame: Frame, refId?: string): Record<string, unknown> {
  const fields = frame.fields ?? [];
  const values: unknown[][] = [];
  const entities: Array<Entities | null> = [];
  let anyEntity = false;
  for (const f of fields) {
    const col: unknown[] = [];
    const ent: Entities = {};
    f.values.forEach((v, i) => {
      if (f.type === 'number' && typeof v === 'number' && !Number.isFinite(v)) {
        const key = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : 'NegInf';
        (ent[key] ??= []).push(i);
        col.push(null);
      } else if (v === null || v === undefined) {
        col.push(null);
      } else if (f.type === 'number' && typeof v !== 'number') {
        // same coercion as the Arrow encoder, so both formats carry the same numbers
        const n = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
        col.push(Number.isFinite(n) ? n : null);
      } else if (f.type === 'string' && typeof v !== 'string') {
        col.push(String(v));
      } else {
        col.push(v);
      }
    });
    values.push(col);
    const has = Object.keys(ent).length > 0;
    anyEntity ||= has;
    entities.push(has ? ent : null);
  }
  return {
    schema: {
      name: frame.name ?? '',
      refId: frame.refId || refId || '',
      ...(frame.meta ? { meta: frame.meta } : {}),
      fields: fields.map((f) => ({
        name: f.name,
        type: f.type,
        typeInfo: {
          frame: goType[f.type],
          ...(f.type === 'number' || f.nullable || f.values.some((v) => v === null || v === undefined)
            ? { nullable: true }
            : {}),
        },
        ...(f.labels ? { labels: f.labels } : {}),
        ...(f.config ? { config: f.config } : {}),
      })),
    },
    data: { values, ...(anyEntity ? { entities } : {}) },
  };
}
