/**
 * The sidecar's history: SQLite (better-sqlite3) in WAL mode. Counters are stored raw and only
 * when they change (plus periodic keyframes), so sampling thousands of statements per cycle writes
 * only what moved; the engine turns raw values into deltas at read time.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from './migrations';
import type { CollectedSample, EntityInfo, LabelFilter, RangeTotal, SampleInfo, SeriesValues, StoredEvent } from './types';

/** a full copy of every value this often, so readers never scan far back to carry values forward */
const KEYFRAME_EVERY = 120;

export function canonicalLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return JSON.stringify(keys.map((k) => [k, labels[k]]));
}

function parseLabels(s: string): Record<string, string> {
  return Object.fromEntries(JSON.parse(s) as Array<[string, string]>);
}

function matches(labels: Record<string, string>, filter: LabelFilter | undefined): boolean {
  if (!filter) {
    return true;
  }
  for (const [k, v] of Object.entries(filter)) {
    if (v !== undefined && labels[k] !== v) {
      return false;
    }
  }
  return true;
}

interface StreamState {
  /** last value written per series id: a value equal to it is not written again */
  last: Map<number, number | null>;
  sinceKeyframe: number;
  epoch: number | null | undefined;
}

export class Store {
  readonly db: Database.Database;
  private readonly targetIds = new Map<string, number>();
  private readonly seriesIds = new Map<string, number>();
  private readonly streams = new Map<string, StreamState>();
  private readonly entityInfo = new Map<string, string>();

  static open(dataDir: string): Store {
    mkdirSync(dataDir, { recursive: true });
    return new Store(join(dataDir, 'pgpulse.db'));
  }

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a crash loses at most the last transaction (the sample in flight), never corrupts.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (const m of migrations) {
      if (m.version > current) {
        this.db.transaction(() => {
          this.db.exec(m.sql);
          this.db.pragma(`user_version = ${m.version}`);
        })();
      }
    }
  }

  close(): void {
    if (this.db.open) {
      this.db.close();
    }
  }

  targetId(name: string): number {
    let id = this.targetIds.get(name);
    if (id === undefined) {
      this.db.prepare('INSERT OR IGNORE INTO target (name) VALUES (?)').run(name);
      id = (this.db.prepare('SELECT id FROM target WHERE name = ?').get(name) as { id: number }).id;
      this.targetIds.set(name, id);
    }
    return id;
  }

  targets(): string[] {
    return (this.db.prepare('SELECT name FROM target ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
  }

  private seriesId(targetId: number, collector: string, labels: string, field: string): number {
    const k = `${targetId}\u0000${collector}\u0000${labels}\u0000${field}`;
    let id = this.seriesIds.get(k);
    if (id === undefined) {
      this.db.prepare('INSERT OR IGNORE INTO series (target_id, collector, labels, field) VALUES (?, ?, ?, ?)').run(targetId, collector, labels, field);
      id = (this.db.prepare('SELECT id FROM series WHERE target_id = ? AND collector = ? AND labels = ? AND field = ?').get(targetId, collector, labels, field) as { id: number }).id;
      this.seriesIds.set(k, id);
    }
    return id;
  }

  /** Write one collector cycle atomically. Returns the sample id and how many points were stored. */
  writeSample(s: CollectedSample): { sampleId: number; points: number; keyframe: boolean } {
    const targetId = this.targetId(s.target);
    const streamKey = `${targetId}\u0000${s.collector}`;
    let st = this.streams.get(streamKey);
    if (!st) {
      st = { last: new Map(), sinceKeyframe: KEYFRAME_EVERY, epoch: undefined };
      this.streams.set(streamKey, st);
    }
    const state = st;
    const epochChanged = s.ok && state.epoch !== undefined && (s.epoch ?? null) !== state.epoch;
    const keyframe = s.ok && (state.sinceKeyframe >= KEYFRAME_EVERY || epochChanged);
    const insertSample = this.db.prepare(
      'INSERT INTO sample (target_id, collector, ts, ok, epoch, keyframe, duration_ms, rows, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertPoint = this.db.prepare('INSERT OR REPLACE INTO point (series_id, sample_id, value) VALUES (?, ?, ?)');
    const upsertEntity = this.db.prepare(
      `INSERT INTO entity (target_id, collector, labels, info, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (target_id, collector, labels) DO UPDATE SET info = coalesce(excluded.info, entity.info), last_seen = excluded.last_seen`,
    );
    let points = 0;
    const run = this.db.transaction(() => {
      const sampleId = Number(
        insertSample.run(targetId, s.collector, s.ts, s.ok ? 1 : 0, s.epoch ?? null, keyframe ? 1 : 0, s.durationMs ?? null, s.rows.length, s.error ?? null).lastInsertRowid,
      );
      if (!s.ok) {
        return sampleId;
      }
      const seen = new Set<number>();
      for (const row of s.rows) {
        const labels = canonicalLabels(row.key);
        for (const [field, raw] of Object.entries(row.values)) {
          const value = raw === null || raw === undefined || !Number.isFinite(raw) ? null : raw;
          const id = this.seriesId(targetId, s.collector, labels, field);
          seen.add(id);
          const prev = state.last.get(id);
          if (keyframe || prev === undefined || prev !== value) {
            insertPoint.run(id, sampleId, value);
            state.last.set(id, value);
            points++;
          }
        }
        const entityKey = `${streamKey}\u0000${labels}`;
        const info = row.info ? JSON.stringify(row.info) : null;
        const known = this.entityInfo.get(entityKey);
        // last_seen is refreshed at keyframes only: exact enough for "gone since", and no write per row per cycle
        if (known === undefined || (info !== null && known !== info) || keyframe) {
          upsertEntity.run(targetId, s.collector, labels, info, s.ts, s.ts);
          this.entityInfo.set(entityKey, info ?? known ?? '');
        }
      }
      // A row that vanished (a state with no backends, a deallocated statement) gets an explicit null,
      // otherwise readers would carry its last value forward.
      for (const [id, v] of state.last) {
        if (!seen.has(id) && v !== null) {
          insertPoint.run(id, sampleId, null);
          state.last.set(id, null);
          points++;
        }
      }
      return sampleId;
    });
    const sampleId = run();
    if (s.ok) {
      state.sinceKeyframe = keyframe ? 1 : state.sinceKeyframe + 1;
      state.epoch = s.epoch ?? null;
    }
    return { sampleId, points, keyframe };
  }

  /** Samples of a collector with ts in [from, to], preceded by the last sample before `from` (deltas need it). */
  samples(target: string, collector: string, from: number, to: number): SampleInfo[] {
    const targetId = this.targetId(target);
    const before = this.db
      .prepare('SELECT id, ts, ok, epoch FROM sample WHERE target_id = ? AND collector = ? AND ts < ? AND ok = 1 ORDER BY ts DESC LIMIT 1')
      .get(targetId, collector, from) as { id: number; ts: number; ok: number; epoch: number | null } | undefined;
    const rows = this.db
      .prepare('SELECT id, ts, ok, epoch FROM sample WHERE target_id = ? AND collector = ? AND ts >= ? AND ts <= ? ORDER BY ts, id')
      .all(targetId, collector, from, to) as Array<{ id: number; ts: number; ok: number; epoch: number | null }>;
    const all = before ? [before, ...rows] : rows;
    return all.map((r) => ({ id: r.id, ts: r.ts, ok: r.ok === 1, epoch: r.epoch }));
  }

  lastSample(target: string, collector: string, okOnly = true): SampleInfo | undefined {
    const r = this.db
      .prepare(`SELECT id, ts, ok, epoch FROM sample WHERE target_id = ? AND collector = ? ${okOnly ? 'AND ok = 1' : ''} ORDER BY ts DESC, id DESC LIMIT 1`)
      .get(this.targetId(target), collector) as { id: number; ts: number; ok: number; epoch: number | null } | undefined;
    return r ? { id: r.id, ts: r.ts, ok: r.ok === 1, epoch: r.epoch } : undefined;
  }

  /**
   * Values of the matching series at each of `samples` (ascending), carried forward from the last
   * stored point. Failed samples yield null.
   */
  matrix(target: string, collector: string, fields: string[], filter: LabelFilter | undefined, samples: SampleInfo[]): SeriesValues[] {
    if (samples.length === 0 || fields.length === 0) {
      return [];
    }
    const loaded = this.loadPoints(target, collector, fields, filter, samples);
    if (!loaded) {
      return [];
    }
    const { series, keyframes } = loaded;
    return series.map((s) => {
      const pts = s.points;
      const values: Array<number | null> = new Array(samples.length).fill(null);
      let p = 0;
      let k = 0;
      let current: number | null = null;
      for (let j = 0; j < samples.length; j++) {
        const sm = samples[j];
        for (;;) {
          const nextPoint = p < pts.length && pts[p][0] <= sm.id ? pts[p][0] : Infinity;
          const nextKf = k < keyframes.length && keyframes[k] <= sm.id ? keyframes[k] : Infinity;
          if (nextPoint === Infinity && nextKf === Infinity) {
            break;
          }
          if (nextKf < nextPoint) {
            current = null;
            k++;
          } else {
            if (nextKf === nextPoint) {
              k++;
            }
            current = pts[p][1];
            p++;
          }
        }
        values[j] = sm.ok ? current : null;
      }
      return { labels: s.parsed, field: s.field, values };
    });
  }

  /**
   * The matching series with their stored points (ascending) from the last keyframe at or before
   * the first sample up to the last one, and the keyframes in between: what carrying values
   * forward needs. A keyframe holds every row present at that moment, so a series without a point
   * there had vanished (e.g. while the sidecar was down) and its older value must not be carried past it.
   */
  private loadPoints(target: string, collector: string, fields: string[], filter: LabelFilter | undefined, samples: SampleInfo[]) {
    const targetId = this.targetId(target);
    const first = samples[0].id;
    const last = samples[samples.length - 1].id;
    const kf = this.db
      .prepare('SELECT max(id) AS id FROM sample WHERE target_id = ? AND collector = ? AND keyframe = 1 AND id <= ?')
      .get(targetId, collector, first) as { id: number | null };
    const from = kf.id ?? 0;
    const placeholders = fields.map(() => '?').join(',');
    const series = (
      this.db.prepare(`SELECT id, labels, field FROM series WHERE target_id = ? AND collector = ? AND field IN (${placeholders})`).all(targetId, collector, ...fields) as Array<{
        id: number;
        labels: string;
        field: string;
      }>
    )
      .map((x) => ({ ...x, parsed: parseLabels(x.labels), points: [] as Array<[number, number | null]> }))
      .filter((x) => matches(x.parsed, filter));
    if (series.length === 0) {
      return undefined;
    }
    const byId = new Map(series.map((x) => [x.id, x]));
    const stmt = this.db.prepare(
      `SELECT p.series_id AS s, p.sample_id AS k, p.value AS v FROM series s JOIN point p ON p.series_id = s.id AND p.sample_id BETWEEN ? AND ?
       WHERE s.target_id = ? AND s.collector = ? AND s.field IN (${placeholders})`,
    );
    for (const r of stmt.iterate(from, last, targetId, collector, ...fields) as Iterable<{ s: number; k: number; v: number | null }>) {
      byId.get(r.s)?.points.push([r.k, r.v]);
    }
    for (const x of series) {
      x.points.sort((a, b) => a[0] - b[0]);
    }
    const keyframes = (
      this.db.prepare('SELECT id FROM sample WHERE target_id = ? AND collector = ? AND keyframe = 1 AND id > ? AND id <= ? ORDER BY id').all(targetId, collector, from, last) as Array<{
        id: number;
      }>
    ).map((r) => r.id);
    return { series, keyframes };
  }

  /**
   * Σ of reset-aware counter deltas per series over `samples` (as samples() returns them), walking
   * only the stored points: the same totals as taking deltas of matrix() sample by sample, without
   * materialising a value per series per sample (what makes 24 h "top queries" fast).
   */
  rangeTotals(target: string, collector: string, fields: string[], filter: LabelFilter | undefined, samples: SampleInfo[]): RangeTotal[] {
    if (samples.length < 2 || fields.length === 0) {
      return [];
    }
    const loaded = this.loadPoints(target, collector, [...fields, '_epoch'], filter, samples);
    if (!loaded) {
      return [];
    }
    const { series, keyframes } = loaded;
    const first = samples[0].id;
    // for each sample in the range: the epoch of the ok sample before it (deltas pair consecutive ok samples)
    const prevOk = new Map<number, { epoch: number | null; id: number }>();
    let lastOk: { epoch: number | null; id: number } | undefined;
    for (const sm of samples) {
      if (!sm.ok) {
        continue;
      }
      if (lastOk) {
        prevOk.set(sm.id, lastOk);
      }
      lastOk = { epoch: sm.epoch, id: sm.id };
    }
    const epochOf = new Map(samples.map((sm) => [sm.id, sm.epoch]));
    const hasOkAfterFirst = samples.some((sm) => sm.ok && sm.id > first);
    /** the value timeline of one series as [sample id, value] events, keyframe gaps included */
    const events = (pts: Array<[number, number | null]>): Array<[number, number | null]> => {
      const out: Array<[number, number | null]> = [];
      let p = 0;
      let k = 0;
      while (p < pts.length || k < keyframes.length) {
        const np = p < pts.length ? pts[p][0] : Infinity;
        const nk = k < keyframes.length ? keyframes[k] : Infinity;
        if (nk < np) {
          out.push([nk, null]);
          k++;
        } else {
          if (nk === np) {
            k++;
          }
          out.push(pts[p]);
          p++;
        }
      }
      return out;
    };
    // row epochs: the sample ids at which a row's epoch changed
    const rowResets = new Map<string, Set<number>>();
    for (const x of series) {
      if (x.field !== '_epoch') {
        continue;
      }
      const set = new Set<number>();
      let cur: number | null = null;
      for (const [id, v] of events(x.points)) {
        if (cur !== null && v !== null && v !== cur && id >= first) {
          set.add(id);
        }
        cur = v;
      }
      rowResets.set(x.labels, set);
    }
    const out: RangeTotal[] = [];
    for (const x of series) {
      if (x.field === '_epoch') {
        continue;
      }
      let cur: number | null = null;
      let total = 0;
      let seen = false;
      let startChecked = false;
      const resets = rowResets.get(x.labels);
      let timeline = events(x.points);
      if (resets && resets.size > 0) {
        // a row epoch that changed while the counter kept its value: reset and regrown to the same number
        const have = new Set(timeline.map((e) => e[0]));
        const extra = [...resets].filter((id) => !have.has(id)).map((id): [number, number | null | 'same'] => [id, 'same']);
        timeline = [...timeline, ...extra].sort((a, b) => a[0] - b[0]) as Array<[number, number | null]>;
      }
      for (const [id, raw] of timeline as Array<[number, number | null | 'same']>) {
        const v: number | null = raw === 'same' ? cur : raw;
        if (id > first && !startChecked) {
          // the row already existed when the range began and lived on into it
          seen ||= cur !== null && hasOkAfterFirst;
          startChecked = true;
        }
        const before = prevOk.get(id);
        if (id > first && before && v !== null && epochOf.has(id)) {
          const reset = cur === null || v < cur || epochOf.get(id) !== before.epoch || (resets?.has(id) ?? false);
          total += reset ? v : v - cur!;
          seen = true;
        }
        cur = v;
      }
      if (!startChecked) {
        seen ||= cur !== null && hasOkAfterFirst;
      }
      out.push({ labels: x.parsed, field: x.field, total, seen });
    }
    return out;
  }

  entities(target: string, collector: string, filter?: LabelFilter): EntityInfo[] {
    const rows = this.db
      .prepare('SELECT labels, info, first_seen, last_seen FROM entity WHERE target_id = ? AND collector = ?')
      .all(this.targetId(target), collector) as Array<{ labels: string; info: string | null; first_seen: number; last_seen: number }>;
    return rows
      .map((r) => ({ labels: parseLabels(r.labels), info: r.info ? (JSON.parse(r.info) as Record<string, unknown>) : {}, firstSeen: r.first_seen, lastSeen: r.last_seen }))
      .filter((e) => matches(e.labels, filter));
  }

  knownQueryIds(target: string): Set<string> {
    const rows = this.db.prepare('SELECT queryid FROM statement_text WHERE target_id = ?').all(this.targetId(target)) as Array<{ queryid: string }>;
    return new Set(rows.map((r) => r.queryid));
  }

  putStatementTexts(target: string, texts: Array<{ queryid: string; text: string }>, ts: number): void {
    const targetId = this.targetId(target);
    const stmt = this.db.prepare('INSERT OR IGNORE INTO statement_text (target_id, queryid, text, first_seen) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const t of texts) {
        stmt.run(targetId, t.queryid, t.text, ts);
      }
    })();
  }

  statementTexts(target: string, queryids?: string[]): Map<string, string> {
    const targetId = this.targetId(target);
    const rows = queryids
      ? queryids.map((q) => this.db.prepare('SELECT queryid, text FROM statement_text WHERE target_id = ? AND queryid = ?').get(targetId, q) as { queryid: string; text: string } | undefined)
      : (this.db.prepare('SELECT queryid, text FROM statement_text WHERE target_id = ?').all(targetId) as Array<{ queryid: string; text: string }>);
    const out = new Map<string, string>();
    for (const r of rows) {
      if (r) {
        out.set(r.queryid, r.text);
      }
    }
    return out;
  }

  addEvent(target: string, ev: { ts: number; kind: string; title: string; text?: string; tags?: string[] }): number {
    return Number(
      this.db
        .prepare('INSERT INTO event (target_id, ts, kind, title, text, tags) VALUES (?, ?, ?, ?, ?, ?)')
        .run(this.targetId(target), ev.ts, ev.kind, ev.title, ev.text ?? '', JSON.stringify(ev.tags ?? [])).lastInsertRowid,
    );
  }

  events(target: string, from: number, to: number, kinds?: string[]): StoredEvent[] {
    const rows = this.db
      .prepare('SELECT id, ts, kind, title, text, tags FROM event WHERE target_id = ? AND ts >= ? AND ts <= ? ORDER BY ts')
      .all(this.targetId(target), from, to) as Array<{ id: number; ts: number; kind: string; title: string; text: string; tags: string }>;
    return rows
      .filter((r) => !kinds || kinds.includes(r.kind))
      .map((r) => ({ id: r.id, target, ts: r.ts, kind: r.kind, title: r.title, text: r.text, tags: JSON.parse(r.tags) as string[] }));
  }

  kvGet(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  kvSet(key: string, value: string): void {
    this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * Retention and downsampling. A removed sample's points move to the next kept sample when that
   * one has none for the series, so carried-forward values (and counter deltas across the kept
   * samples) stay exact.
   */
  compact(now: number, opts: { retentionMs: number; downsampleAfterMs: number; downsampleStepMs: number }): { removed: number } {
    let removed = 0;
    const streams = this.db.prepare('SELECT DISTINCT target_id, collector FROM sample').all() as Array<{ target_id: number; collector: string }>;
    const movePoints = this.db.prepare('UPDATE OR IGNORE point SET sample_id = ? WHERE sample_id = ?');
    const dropPoints = this.db.prepare('DELETE FROM point WHERE sample_id = ?');
    const dropSample = this.db.prepare('DELETE FROM sample WHERE id = ?');
    const markKeyframe = this.db.prepare('UPDATE sample SET keyframe = 1 WHERE id = ?');
    for (const { target_id, collector } of streams) {
      const old = this.db
        .prepare('SELECT id, ts, ok, epoch, keyframe FROM sample WHERE target_id = ? AND collector = ? AND ts < ? ORDER BY ts, id')
        .all(target_id, collector, now - opts.downsampleAfterMs) as Array<{ id: number; ts: number; ok: number; epoch: number | null; keyframe: number }>;
      if (old.length === 0) {
        continue;
      }
      const next = this.db
        .prepare('SELECT id FROM sample WHERE target_id = ? AND collector = ? AND ts >= ? AND ok = 1 ORDER BY ts, id LIMIT 1')
        .get(target_id, collector, now - opts.downsampleAfterMs) as { id: number } | undefined;
      // decide what stays: nothing past retention; otherwise the last ok sample of each step, epoch
      // boundaries and failures (they mark gaps)
      const keep = new Set<number>();
      const lastInBucket = new Map<number, number>();
      let prevEpoch: number | null | undefined;
      for (const s of old) {
        if (s.ts < now - opts.retentionMs) {
          continue;
        }
        if (s.ok === 0) {
          keep.add(s.id);
          continue;
        }
        if (prevEpoch !== undefined && s.epoch !== prevEpoch) {
          keep.add(s.id);
        }
        prevEpoch = s.epoch;
        lastInBucket.set(Math.floor(s.ts / opts.downsampleStepMs), s.id);
      }
      for (const id of lastInBucket.values()) {
        keep.add(id);
      }
      this.db.transaction(() => {
        let target: number | undefined = next?.id;
        for (let i = old.length - 1; i >= 0; i--) {
          const s = old[i];
          if (keep.has(s.id)) {
            if (s.ok === 1) {
              target = s.id;
            }
            continue;
          }
          if (target !== undefined) {
            movePoints.run(target, s.id);
            if (s.keyframe === 1) {
              markKeyframe.run(target);
            }
          }
          dropPoints.run(s.id);
          dropSample.run(s.id);
          removed++;
        }
        // the oldest surviving sample must be self-contained
        if (target !== undefined) {
          markKeyframe.run(target);
        }
      })();
    }
    this.db.prepare('DELETE FROM event WHERE ts < ?').run(now - opts.retentionMs);
    return { removed };
  }
}
