/**
 * The Neon sampling gate: pgpulse never wakes a suspended Neon compute and never keeps one awake.
 *
 * Before each cycle the sampler asks allow(); the gate answers from the Neon API's
 * endpoint.current_state (fetched at most once per neon.stateInterval; the API call does not
 * touch the compute). The rules (docs/neon.md explains them for users):
 *
 * 1. idle or init → no connection. pgpulse writes the idle-by-design marker (collector
 *    `neon_idle`) so sampler staleness stays 0 and no "stale"/"down" alert fires.
 * 2. active → sample, and after each cycle (observe) check whether anyone but pgpulse used the
 *    compute: the same signals Neon's activity monitor uses (non-idle client backends, the latest
 *    state change of idle ones, new sessions in non-system databases minus pgpulse's own
 *    connections). When nobody else did for `quietMs` (default max(60 s, 2 sampling intervals)),
 *    pgpulse backs off: it stops connecting so the compute can reach its suspend_timeout_seconds.
 * 3. While backing off (markers written, as in 1) sampling resumes when
 *    a. the API shows the endpoint went idle/init and later active again (someone woke it), or
 *    b. the API's last_active moves past the start of the back-off by more than 15 s (someone
 *       else is using it), or
 *    c. it is still active after suspend_timeout + grace (max(60 s, 2 × stateInterval)):
 *       something pgpulse cannot see keeps it awake, so sampling costs nothing extra.
 *    Endpoints with suspend_timeout_seconds = -1 (never suspend) are never backed off.
 * 4. Neon API errors: a wrong key, project or endpoint (HTTP 401/403/404, malformed answer) stops
 *    sampling and says so in health (no marker: the staleness alert fires, correctly — pgpulse is
 *    blind until the config is fixed). A transient error (network, timeout, 5xx, 429) keeps the
 *    last known state for 2 × stateInterval; after that pgpulse samples "blind" at most once per
 *    15 minutes until the API answers again.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config';
import type { TargetContext } from '../collectors/types';
import type { SamplingGate } from '../sampler';
import type { Store } from '../store/store';
import { IDLE_BY_DESIGN } from '../engine/handlers/health';
import { NeonApiError, type NeonEndpoint } from './api-client';
import { NEON_ACTIVITY, activityFields } from './activity-collector';

export const NEON_API = 'neon_api';
export const BLIND_INTERVAL_MS = 15 * 60_000;
export const LAST_ACTIVE_MARGIN_MS = 15_000;
const DEFAULT_SUSPEND_S = 300;

export interface EndpointSource {
  getEndpoint(): Promise<NeonEndpoint>;
}

export interface NeonGateOptions {
  target: TargetConfig;
  client: EndpointSource;
  log?: Logger;
  now?: () => number;
  /** how long only pgpulse may have used the compute before backing off */
  quietMs?: number;
  /** extra wait past suspend_timeout before concluding something else keeps the compute awake */
  graceMs?: number;
  blindIntervalMs?: number;
}

export type GateMode = 'starting' | 'sampling' | 'idle' | 'backoff' | 'api-config-error' | 'api-unavailable';

export interface GateSnapshot {
  mode: GateMode;
  state?: NeonEndpoint['current_state'];
  lastError?: string;
  backoffSince?: number;
  lastOtherActivity?: number;
  ownConnects: number;
  apiCalls: number;
}

/** gates by target object, so the startup hook can hand them the store and the pool */
export const gatesByTarget = new WeakMap<TargetConfig, NeonGate>();

export class NeonGate implements SamplingGate {
  private store: Store | undefined;
  private readonly now: () => number;
  private readonly stateIntervalMs: number;
  readonly quietMs: number;
  private readonly graceMs: number;
  private readonly blindIntervalMs: number;

  private ep: NeonEndpoint | undefined;
  private epAt = 0;
  private nextFetchAt = 0;
  private error: NeonApiError | undefined;
  private fetching: Promise<void> | null = null;

  private mode: GateMode = 'starting';
  private backoffSince: number | undefined;
  private lastOtherActivity: number | undefined;
  private prev: { sessions: number; own: number } | undefined;
  private lastCycleAt: number | undefined;
  private ownConnects = 0;
  private apiCalls = 0;

  constructor(private readonly opts: NeonGateOptions) {
    this.now = opts.now ?? Date.now;
    this.stateIntervalMs = opts.target.neon?.stateInterval ?? 30_000;
    this.quietMs = opts.quietMs ?? Math.max(60_000, 2 * opts.target.intervalMs);
    this.graceMs = opts.graceMs ?? Math.max(60_000, 2 * this.stateIntervalMs);
    this.blindIntervalMs = opts.blindIntervalMs ?? BLIND_INTERVAL_MS;
    gatesByTarget.set(opts.target, this);
  }

  /** the store to write markers and API answers to (set by the startup hook) */
  attach(store: Store): void {
    this.store = store;
  }

  /** the sampler's pool opened a connection (counted so pgpulse's own sessions are not "others") */
  noteOwnConnect(): void {
    this.ownConnects++;
  }

  snapshot(): GateSnapshot {
    return {
      mode: this.mode,
      state: this.ep?.current_state,
      lastError: this.error?.message,
      backoffSince: this.backoffSince,
      lastOtherActivity: this.lastOtherActivity,
      ownConnects: this.ownConnects,
      apiCalls: this.apiCalls,
    };
  }

  private get suspendMs(): number | null {
    const s = this.ep?.suspend_timeout_seconds ?? 0;
    if (s < 0) {
      return null; // never suspends
    }
    return (s === 0 ? DEFAULT_SUSPEND_S : s) * 1000;
  }

  private async refresh(now: number): Promise<void> {
    if (now < this.nextFetchAt) {
      return;
    }
    if (!this.fetching) {
      this.fetching = this.fetch(now).finally(() => {
        this.fetching = null;
      });
    }
    await this.fetching;
  }

  private async fetch(now: number): Promise<void> {
    const name = this.opts.target.name;
    this.apiCalls++;
    try {
      const ep = await this.opts.client.getEndpoint();
      const prevState = this.ep?.current_state;
      if (this.error) {
        this.opts.log?.info({ target: name }, 'Neon API answers again');
      }
      this.ep = ep;
      this.epAt = now;
      this.error = undefined;
      this.nextFetchAt = now + this.stateIntervalMs;
      if (prevState !== undefined && prevState !== 'active' && ep.current_state === 'active') {
        // woken by someone else (pgpulse never connects to an idle compute): start a fresh quiet clock
        this.resetActivity(now);
      }
      this.store?.writeSample({
        target: name,
        collector: NEON_API,
        ts: now,
        ok: true,
        rows: [
          {
            key: {},
            values: {
              active: ep.current_state === 'active' ? 1 : 0,
              idle: ep.current_state === 'idle' ? 1 : 0,
              init: ep.current_state === 'init' ? 1 : 0,
              suspend_timeout_s: ep.suspend_timeout_seconds,
              min_cu: ep.autoscaling_limit_min_cu,
              max_cu: ep.autoscaling_limit_max_cu,
              last_active_ms: ep.last_active ? Date.parse(ep.last_active) || null : null,
              state_interval_ms: this.stateIntervalMs,
              backoff: this.backoffSince !== undefined ? 1 : 0,
            },
          },
        ],
      });
    } catch (e) {
      const err = e instanceof NeonApiError ? e : new NeonApiError(`Neon API: ${(e as Error).message}`, 'transient');
      if (!this.error || this.error.message !== err.message) {
        this.opts.log?.warn({ target: name }, err.message);
      }
      this.error = err;
      const wait = err.retryAfterSeconds ? Math.max(this.stateIntervalMs, err.retryAfterSeconds * 1000) : this.stateIntervalMs;
      this.nextFetchAt = now + wait;
      this.store?.writeSample({ target: name, collector: NEON_API, ts: now, ok: false, rows: [], error: err.message });
    }
  }

  private resetActivity(now: number): void {
    this.backoffSince = undefined;
    this.lastOtherActivity = now;
    this.prev = undefined;
  }

  private marker(now: number): void {
    this.store?.writeSample({ target: this.opts.target.name, collector: IDLE_BY_DESIGN, ts: now, ok: true, rows: [] });
  }

  /**
   * byDesign: true when pgpulse stays away on purpose (idle endpoint, back-off): health may say
   * "ok, idle by design" instead of an error.
   */
  async allow(target: TargetConfig): Promise<{ allowed: boolean; reason?: string; byDesign?: boolean }> {
    void target;
    const now0 = this.now();
    await this.refresh(now0);
    const now = this.now();
    if (this.error?.kind === 'config') {
      this.mode = 'api-config-error';
      return { allowed: false, reason: `${this.error.message} — pgpulse does not connect to a Neon compute whose state it cannot read` };
    }
    const known = this.ep && (!this.error || now - this.epAt <= 2 * this.stateIntervalMs) ? this.ep : undefined;
    if (!known) {
      this.mode = 'api-unavailable';
      if (this.lastCycleAt === undefined || now - this.lastCycleAt >= this.blindIntervalMs) {
        this.lastCycleAt = now;
        return { allowed: true };
      }
      return {
        allowed: false,
        reason: `${this.error?.message ?? 'Neon API not asked yet'}; compute state unknown, so pgpulse samples at most once per ${Math.round(this.blindIntervalMs / 60_000)} min until the API answers`,
      };
    }
    if (known.current_state !== 'active') {
      this.mode = 'idle';
      this.backoffSince = undefined;
      this.marker(now);
      return { allowed: false, byDesign: true, reason: `Neon compute is ${known.current_state} (scale to zero by design): pgpulse does not connect until it is active again` };
    }
    if (this.backoffSince !== undefined) {
      const lastActive = known.last_active ? Date.parse(known.last_active) : NaN;
      const suspendMs = this.suspendMs;
      if (Number.isFinite(lastActive) && lastActive > this.backoffSince + LAST_ACTIVE_MARGIN_MS) {
        this.opts.log?.info({ target: this.opts.target.name }, 'Neon API last_active moved: another client uses the compute, sampling resumes');
        this.resetActivity(now);
      } else if (suspendMs === null || now - this.backoffSince > suspendMs + this.graceMs) {
        this.opts.log?.info({ target: this.opts.target.name }, 'Neon compute stayed active past its suspend timeout: something else keeps it awake, sampling resumes');
        this.resetActivity(now);
      } else {
        this.mode = 'backoff';
        this.marker(now);
        return {
          allowed: false,
          byDesign: true,
          reason: `backing off: only pgpulse used the Neon compute for ${Math.round(this.quietMs / 1000)} s, so pgpulse stays away until it suspends (suspend_timeout ${Math.round(suspendMs / 1000)} s) or another client uses it`,
        };
      }
    }
    this.mode = 'sampling';
    this.lastCycleAt = now;
    return { allowed: true };
  }

  observe(target: TargetConfig, ctx: TargetContext): void {
    const store = this.store ?? ctx.store;
    const now = this.now();
    if (this.lastOtherActivity === undefined) {
      this.lastOtherActivity = now; // conservative: the quiet clock starts at the first cycle
    }
    const sample = store.lastSample(target.name, NEON_ACTIVITY);
    if (!sample || (this.lastCycleAt !== undefined && sample.ts < this.lastCycleAt)) {
      // no fresh activity reading this cycle: we cannot tell, so assume someone else is there
      this.lastOtherActivity = now;
      this.prev = undefined;
      return;
    }
    const v: Record<string, number | null> = {};
    for (const s of store.matrix(target.name, NEON_ACTIVITY, [...activityFields], undefined, [sample])) {
      v[s.field] = s.values[0];
    }
    if ((v.others_active ?? 0) > 0) {
      this.lastOtherActivity = now;
    } else if (v.others_last_idle_change_ms != null && v.server_now_ms != null) {
      // translate the server's clock to ours through the server's "now" in the same reading
      const local = now - Math.max(0, v.server_now_ms - v.others_last_idle_change_ms);
      this.lastOtherActivity = Math.max(this.lastOtherActivity, local);
    }
    const sessions = v.sessions_user_dbs;
    const own = v.own_db_counted ? this.ownConnects : 0;
    if (sessions != null) {
      if (this.prev && sessions >= this.prev.sessions && sessions - this.prev.sessions - (own - this.prev.own) > 0) {
        this.lastOtherActivity = now; // someone connected (and maybe left) between two cycles
      }
      this.prev = { sessions, own };
    }
    if (this.suspendMs !== null && this.backoffSince === undefined && now - this.lastOtherActivity >= this.quietMs) {
      this.backoffSince = now;
      this.opts.log?.info(
        { target: target.name, quietSeconds: Math.round((now - this.lastOtherActivity) / 1000) },
        'only pgpulse used the Neon compute recently: backing off so it can scale to zero',
      );
    }
  }
}
