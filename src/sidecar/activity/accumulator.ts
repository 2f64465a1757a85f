/**
 * The in-memory bucket of the activity sampler: every tick adds its grouped reading, and once per
 * sampling interval the bucket is drained into two store samples (collectors `load` and
 * `load_ticks`) — the store is written once per interval, never every second.
 */
import type { SampleRow } from '../store/types';

/** one group of one tick: active sessions with the same wait event, statement and client */
export interface ActivityRow {
  wait_event_type: string;
  wait_event: string;
  /** null where compute_query_id is off (or the backend has not computed one yet) */
  queryid: string | null;
  datname: string;
  usename: string;
  application_name: string;
  /** a client backend (parallel and autovacuum workers are load too, but never carry a client's statement) */
  client: boolean;
  sessions: number;
}

/** the label columns of the `load` collector */
export const LOAD_KEY = ['wait_event_type', 'wait_event', 'queryid', 'datname', 'usename', 'application_name'] as const;
/** the fields of the `load_ticks` collector */
export const LOAD_TICK_FIELDS = [
  'ticks',
  'skipped',
  'failed',
  'vcpus',
  'client_samples',
  'query_id_missing',
  'compute_query_id_off',
] as const;

export interface DrainedBucket {
  /** one row per group: samples = Σ sessions over the bucket's ticks */
  load: SampleRow[];
  ticks: SampleRow;
}

export class LoadAccumulator {
  private ticks = 0;
  private skipped = 0;
  private failed = 0;
  private clientSamples = 0;
  private missing = 0;
  private readonly cells = new Map<string, { key: Record<string, string>; samples: number }>();

  /** one completed tick: its groups (an empty reading is a tick with no active session) */
  add(rows: readonly ActivityRow[]): void {
    this.ticks++;
    for (const r of rows) {
      const n = Number(r.sessions);
      if (!(n > 0)) {
        continue;
      }
      const key: Record<string, string> = {
        wait_event_type: r.wait_event_type,
        wait_event: r.wait_event,
        queryid: r.queryid ?? '',
        datname: r.datname,
        usename: r.usename,
        application_name: r.application_name,
      };
      const k = LOAD_KEY.map((c) => key[c]).join('\u0000');
      const cell = this.cells.get(k);
      if (cell) {
        cell.samples += n;
      } else {
        this.cells.set(k, { key, samples: n });
      }
      if (r.client) {
        this.clientSamples += n;
        if (r.queryid === null) {
          this.missing += n;
        }
      }
    }
  }

  /** a tick that did not run because the previous one was still running */
  skip(): void {
    this.skipped++;
  }

  /** a tick whose read failed: neither a tick nor load */
  fail(): void {
    this.failed++;
  }

  get empty(): boolean {
    return this.ticks === 0 && this.skipped === 0 && this.failed === 0;
  }

  get tickCount(): number {
    return this.ticks;
  }

  /** the bucket as store rows, and a fresh bucket for what follows */
  drain(extra: { vcpus: number | null; computeQueryIdOff: boolean | null }): DrainedBucket {
    const load: SampleRow[] = [...this.cells.values()].map((c) => ({ key: c.key, values: { samples: c.samples } }));
    const ticks: SampleRow = {
      key: {},
      values: {
        ticks: this.ticks,
        skipped: this.skipped,
        failed: this.failed,
        vcpus: extra.vcpus,
        client_samples: this.clientSamples,
        query_id_missing: this.missing,
        compute_query_id_off: extra.computeQueryIdOff === null ? null : extra.computeQueryIdOff ? 1 : 0,
      },
    };
    this.ticks = 0;
    this.skipped = 0;
    this.failed = 0;
    this.clientSamples = 0;
    this.missing = 0;
    this.cells.clear();
    return { load, ticks };
  }
}
