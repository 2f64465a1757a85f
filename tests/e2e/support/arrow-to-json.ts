/**
 * What Grafana's /api/ds/query does with a plugin's answer: decode each Arrow IPC file frame and
 * return it as data-frame JSON ({schema, data}), which the frontend's toDataQueryResponse reads.
 * Written independently of the sidecar's encoder, against the Arrow format only.
 */
import { DataType, tableFromIPC, type Field as ArrowField } from 'apache-arrow';

export interface FrameJSONOut {
  schema: {
    name?: string;
    refId?: string;
    meta?: unknown;
    fields: Array<{
      name: string;
      type: string;
      labels?: Record<string, string>;
      config?: Record<string, unknown>;
      typeInfo?: { frame: string; nullable?: boolean };
    }>;
  };
  data: { values: unknown[][] };
}

function grafanaType(f: ArrowField): { type: string; frame: string } {
  const t = f.type;
  if (DataType.isTimestamp(t)) {
    return { type: 'time', frame: 'time.Time' };
  }
  if (DataType.isFloat(t)) {
    return { type: 'number', frame: 'float64' };
  }
  if (DataType.isInt(t)) {
    return { type: 'number', frame: `${t.isSigned ? '' : 'u'}int${t.bitWidth}` };
  }
  if (DataType.isBool(t)) {
    return { type: 'boolean', frame: 'bool' };
  }
  if (DataType.isUtf8(t)) {
    return { type: 'string', frame: 'string' };
  }
  throw new Error(`Grafana cannot read Arrow type ${String(t)} (field "${f.name}")`);
}

function parseJSON(s: string | undefined): unknown {
  if (s === undefined || s === '') {
    return undefined;
  }
  return JSON.parse(s);
}

export function arrowFrameToJSON(bytes: Uint8Array): FrameJSONOut {
  const head = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  const tail = Buffer.from(bytes.subarray(bytes.length - 6)).toString('latin1');
  if (head !== 'ARROW1' || tail !== 'ARROW1') {
    throw new Error('frame is not an Arrow IPC *file* (Grafana reads frames with ipc.NewFileReader)');
  }
  const table = tableFromIPC(bytes);
  const md = table.schema.metadata;
  const fields = table.schema.fields.map((f, i) => {
    const { type, frame } = grafanaType(f);
    const labels = parseJSON(f.metadata.get('labels')) as Record<string, string> | undefined;
    const config = parseJSON(f.metadata.get('config')) as Record<string, unknown> | undefined;
    const col = table.getChildAt(i)!;
    const values: unknown[] = [];
    for (let r = 0; r < table.numRows; r++) {
      const v = col.get(r);
      if (v === null || v === undefined) {
        values.push(null);
      } else if (type === 'time') {
        // Grafana's JSON carries epoch milliseconds; arrow-js yields ms (number) or ns (bigint).
        values.push(typeof v === 'bigint' ? Number(v / 1_000_000n) : Number(v));
      } else if (typeof v === 'bigint') {
        values.push(Number(v));
      } else {
        values.push(v);
      }
    }
    return {
      field: {
        name: f.name,
        type,
        typeInfo: { frame, nullable: f.nullable },
        ...(labels ? { labels } : {}),
        ...(config ? { config } : {}),
      },
      values,
    };
  });
  return {
    schema: {
      name: md.get('name') ?? undefined,
      refId: md.get('refId') ?? undefined,
      meta: parseJSON(md.get('meta')),
      fields: fields.map((f) => f.field),
    },
    data: { values: fields.map((f) => f.values) },
  };
}
