/**
 * Frame → Arrow IPC *file* bytes, exactly as Grafana's Go SDK reads them (data.UnmarshalArrowFrame
 * uses ipc.NewFileReader, so the stream format would fail).
 *
 * Type choices follow what Grafana accepts: time → Timestamp(ns) without timezone, number →
 * Float64 (always nullable: a gap is a gap, never a silent 0), string → Utf8 (never Dictionary,
 * which Grafana rejects), boolean → Bool. Metadata keys mirror the SDK's own writer: schema
 * `name`, `refId`, `meta`; field `tstype`, `labels`, `config`.
 */
import {
  Bool,
  DataType,
  Field as ArrowField,
  Float64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
  type Data,
} from 'apache-arrow';
import type { Field, Frame } from '../../model/frames';

export class FrameEncodingError extends Error {}

function arrowTypeFor(field: Field): DataType {
  switch (field.type) {
    case 'time':
      return new TimestampNanosecond();
    case 'number':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'boolean':
      return new Bool();
    default:
      throw new FrameEncodingError(
        `field "${String((field as Field).name)}": unsupported type "${String((field as Field).type)}"`
      );
  }
}

/** Coerce each value to what the column holds; anything unusable becomes null (and the column nullable). */
function normaliseValues(field: Field): Array<number | string | boolean | null> {
  const out: Array<number | string | boolean | null> = new Array(field.values.length);
  for (let i = 0; i < field.values.length; i++) {
    const v = field.values[i];
    if (v === null || v === undefined) {
      out[i] = null;
      continue;
    }
    switch (field.type) {
      case 'time': {
        // The nanosecond builder takes epoch milliseconds; whole milliseconds keep BigInt conversion exact.
        const n = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
        out[i] = Number.isFinite(n) ? Math.round(n) : null;
        break;
      }
      case 'number': {
        const n = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
        // NaN and ±Inf are legal Float64 values; Grafana shows them as such. Non-numeric strings are not.
        out[i] = typeof v === 'string' && Number.isNaN(n) ? null : n;
        break;
      }
      case 'string':
        out[i] = typeof v === 'string' ? v : String(v);
        break;
      case 'boolean':
        out[i] = typeof v === 'boolean' ? v : Boolean(v);
        break;
    }
  }
  return out;
}

function fieldMetadata(field: Field): Map<string, string> {
  const md = new Map<string, string>([['tstype', field.type]]);
  if (field.labels && Object.keys(field.labels).length > 0) {
    md.set('labels', JSON.stringify(field.labels));
  }
  if (field.config && Object.keys(field.config).length > 0) {
    md.set('config', JSON.stringify(field.config));
  }
  return md;
}

function schemaMetadata(frame: Frame): Map<string, string> {
  const md = new Map<string, string>([
    ['name', frame.name ?? ''],
    ['refId', frame.refId ?? ''],
  ]);
  if (frame.meta && Object.keys(frame.meta).length > 0) {
    md.set('meta', JSON.stringify(frame.meta));
  }
  return md;
}

/** Encode one frame as an Arrow IPC file (bytes start and end with "ARROW1"). */
export function frameToArrow(frame: Frame, refId?: string): Uint8Array {
  const withRef: Frame = refId !== undefined && !frame.refId ? { ...frame, refId } : frame;
  const fields = withRef.fields ?? [];
  const length = fields.length === 0 ? 0 : fields[0].values.length;
  const arrowFields: ArrowField[] = [];
  const children: Data[] = [];
  for (const f of fields) {
    if (f.values.length !== length) {
      throw new FrameEncodingError(
        `frame "${withRef.name ?? ''}": field "${f.name}" has ${f.values.length} values but "${fields[0].name}" has ${length}; every field of a frame needs the same length`
      );
    }
    const type = arrowTypeFor(f);
    const values = normaliseValues(f);
    const hasNull = values.some((v) => v === null);
    // Numbers are always nullable (gaps); time only when the engine says so or a value is missing.
    const nullable = f.type === 'number' ? true : Boolean(f.nullable) || hasNull;
    arrowFields.push(new ArrowField(f.name, type, nullable, fieldMetadata(f)));
    children.push(vectorFromArray(values as never[], type).data[0] as Data);
  }
  const schema = new Schema(arrowFields, schemaMetadata(withRef));
  const data = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  const table = new Table([new RecordBatch(schema, data)]);
  return tableToIPC(table, 'file');
}
