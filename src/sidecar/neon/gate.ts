/**
 * The Neon sampling gate: pgpulse never wakes a suspended Neon compute and never keeps one awake.
 *
 * Before each cycle the sampler asks allow(); the gate answers from the Neon API's
 * endpoint.current_state (fetched at most once per neon.stateInterval; the API call does not
 * touch the compute). The rules (docs/neon.md explains them for users):
 *
 * 1. idle or init → no connection. pgpulse records that it stays away by design
 *    (Store.recordAwayByDesign) so sampler staleness stays 0 and no "stale"/"down" alert fires.
 * 2. active → sample, and after each cycle (observe) check whether anyone but pgpulse used the
 *    compute: the signals Neon's activity monitor uses (non-idle client backends, the latest
 *    state change of idle ones, new sessions in non-system databases minus pgpulse's own
 *    connections, walsenders other than walproposer, subscription workers). Autovacuum keeps a
 *    compute awake too, but it is not a user: it never holds pgpulse's quiet clock. When nobody
 *    else used the compute for `quietMs` (default max(60 s, 2 sampling intervals)), pgpulse backs
 *    off: it stops connecting so the compute can reach its suspend_timeout_seconds.
 *    A wake that Neon's own availability check caused (operation `check_availability` in the
 *    operations API) is treated like a back-off from the start: pgpulse does not connect.
 * 3. While backing off (markers written, as in 1) sampling resumes when
 *    a. the API shows the endpoint went idle/init and later active again (someone woke it), or
 *    b. the API's last_active moves past the start of the back-off by more than 15 s (someone
 *       else may be using it: one probe cycle checks, and backs off again at once when the only
 *       activity was autovacuum or nothing), or
 *    c. it is still active after suspend_timeout + grace (max(60 s, 2 × stateInterval)):
 *       something pgpulse cannot see keeps it awake, so sampling costs nothing extra.
 *    Endpoints with suspend_timeout_seconds = -1 (never suspend) are never backed off.
 * 4. Neon API errors: a wrong key, project or endpoint (HTTP 401/403/404, malformed answer) stops
 *    sampling and says so in health (no marker: the staleness alert fires, correctly — pgpulse is
 *    blind until the config is fixed). A transient error (network, timeout, 5xx, 429) keeps the
 *    last known state for 2 × stateInterval; after that pgpulse samples "blind" at most once per
 *    15 minutes until the API answers again — but only when the last answer said `active`.
 *    Before the first answer, or when the last one said idle/init, nothing connects.
 * 5. The target URL (host ep-…, or options=endpoint=…) and the compute's neon.endpoint_id must
 *    name the configured endpoint; otherwise nothing connects (again) and health says which.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config';
import type { TargetContext } from '../collectors/types';
import type { SamplingGate } from '../sampler';
import { isStoreWriteError } from '../store/faults';
import type { Store } from '../store/store';
import type { CollectedSample } from '../store/types';
import { NeonApiError, type NeonEndpoint, type NeonOperation, type NeonProjectUsage } from './api-client';
import { NEON_ACTIVITY, activityFields, endpointMismatchListeners } from './activity-collector';
import { identityFromUrl, urlEndpointMismatch } from './identity';

export const NEON_API = 'neon_api';
export const BLIND_INTERVAL_MS = 15 * 60_000;
export const LAST_ACTIVE_MARGIN_MS = 15_000;
const DEFAULT_SUSPEND_S = 300;

export interface EndpointSource {
  getEndpoint(): Promise<NeonEndpoint>;
  /** the project's recent operations; without it availability-check wakes are not recognised */
  listOperations?(limit?: number): Promise<NeonOperation[]>;
  /** the project's consumption this period (every plan) */
  getProject?(): Promise<NeonProjectUsage>;
  /** consumption history v2 compute_unit_seconds this billing period (throws NeonApiError) */
  computeUnitSeconds?(periodStart: Date, now: Date, orgId: string): Promise<number>;
}

export const NEON_USAGE = 'neon_usage';

/** neon_usage.consumption_status: why compute_unit_seconds is (not) there */
export const CONSUMPTION_STATUS = {
  read: 0,
  noOrganization: 1,
  plan: 2,
  organization: 3,
  other: 4,
  transient: 5,
} as const;

/** operations that count as Neon's own wake-ups, not a user's */
export const NEON_WAKE_ACTIONS = ['check_availability'];
/** how far back a finished availability check still explains a wake */
const CHECK_WINDOW_MS = 120_000;

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

export type GateMode =
  | 'starting'
  | 'sampling'
  | 'idle'
  | 'backoff'
  | 'neon-check'
  | 'api-config-error'
  | 'api-unavailable';

export interface GateSnapshot {
  mode: GateMode;
  state?: NeonEndpoint['current_state'];
  lastError?: string;
  backoffSince?: number;
  lastOtherActivity?: number;
  ownConnects: number;
  apiCalls: number;
  pooled: boolean;
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
  private prev: { sessions: number; own: number; serverNow: number | null; activeTime: number | null } | undefined;
  private lastCycleAt: number | undefined;
  private ownConnects = 0;
  private apiCalls = 0;
  /** the last API answer said active: only then may a blind cycle run during an API outage */
  private lastKnownActive = false;
  /** wrong endpoint in the URL or the compute's neon.endpoint_id: nothing connects */
  private identityError: string | null;
  /** the back-off was lifted by last_active moving: the next cycle checks who it was */
  private probing = false;
  /** the current back-off is a Neon availability-check wake */
  private neonCheck: NeonOperation | undefined;
  private readonly seenOps = new Set<string>();
  /** pooled by config or by a -pooler host name */
  private readonly pooledByName: boolean;
  /** pooled as seen on the wire (a PgBouncer of one's own has no -pooler name) */
  private pooledSeen = false;
  private nextUsageAt = 0;
  private consumptionAllowed = true;
  /** how the last consumption v2 read went (CONSUMPTION_STATUS), stored with each usage answer */
  private consumptionStatus: number | null = null;
  /** time only pgpulse used the active compute (cumulative, this process) */
  private ownOnlyMs = 0;
  private lastObserveAt: number | undefined;

  constructor(private readonly opts: NeonGateOptions) {
    this.now = opts.now ?? Date.now;
    this.stateIntervalMs = opts.target.neon?.stateInterval ?? 30_000;
    this.quietMs = opts.quietMs ?? Math.max(60_000, 2 * opts.target.intervalMs);
    this.graceMs = opts.graceMs ?? Math.max(60_000, 2 * this.stateIntervalMs);
    this.blindIntervalMs = opts.blindIntervalMs ?? BLIND_INTERVAL_MS;
    const neon = opts.target.neon;
    this.identityError = neon ? urlEndpointMismatch(opts.target.url, neon.endpointId) : null;
    this.pooledByName = neon?.pooled ?? (opts.target.url ? identityFromUrl(opts.target.url).pooled : false);
    gatesByTarget.set(opts.target, this);
    endpointMismatchListeners.set(opts.target, (message) => {
      if (!this.identityError) {
        this.opts.log?.error({ target: opts.target.name }, message);
      }
      this.identityError = message;
    });
  }

  /** the sampler's connections go through a transaction pooler (PgBouncer) */
  get pooled(): boolean {
    return this.pooledByName || this.pooledSeen;
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
      pooled: this.pooled,
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
      this.lastKnownActive = ep.current_state === 'active';
      if (prevState !== ep.current_state) {
        if (prevState !== undefined) {
          this.event({
            ts: now,
            kind: 'neon_state',
            title: `Neon compute ${ep.current_state}`,
            text: `the Neon API reports ${prevState} → ${ep.current_state}${ep.last_active ? ` (last_active ${ep.last_active})` : ''}`,
            tags: ['pgpulse', 'neon', ep.current_state],
          });
        }
        await this.readOperations(now);
      }
      if (prevState !== 'active' && ep.current_state === 'active') {
        // woken by someone else (pgpulse never connects to an idle compute)
        const check = this.recentCheck(now);
        if (check) {
          // Neon's own availability check: not a user, so pgpulse does not prolong the wake
          this.neonCheck = check;
          this.backoffSince = Math.max(now, Date.parse(check.updated_at) || now);
          this.probing = false;
          this.opts.log?.info(
            { target: name, operation: check.id },
            'Neon woke the compute for an availability check: pgpulse stays away'
          );
        } else {
          this.resetActivity(now);
        }
      }
      this.record({
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
              neon_check: this.neonCheck ? 1 : 0,
              own_only_ms: this.ownOnlyMs,
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
      const wait = err.retryAfterSeconds
        ? Math.max(this.stateIntervalMs, err.retryAfterSeconds * 1000)
        : this.stateIntervalMs;
      this.nextFetchAt = now + wait;
      this.record({ target: name, collector: NEON_API, ts: now, ok: false, rows: [], error: err.message });
      return;
    }
    if (now >= this.nextUsageAt) {
      await this.readUsage(now);
    }
  }

  /** the project's consumption (never touches the compute), at most once per usageInterval */
  private async readUsage(now: number): Promise<void> {
    const client = this.opts.client;
    if (!client.getProject) {
      return;
    }
    const name = this.opts.target.name;
    this.nextUsageAt = now + (this.opts.target.neon?.usageInterval ?? 15 * 60_000);
    try {
      this.apiCalls++;
      const p = await client.getProject();
      const start = Date.parse(p.consumption_period_start);
      const end = Date.parse(p.consumption_period_end);
      let cus: number | null = null;
      // consumption v2 needs the organization: the configured one, else the project's own
      const orgId = this.opts.target.neon?.orgId ?? p.org_id;
      if (this.consumptionAllowed && client.computeUnitSeconds && Number.isFinite(start) && !orgId) {
        this.consumptionAllowed = false;
        this.consumptionStatus = CONSUMPTION_STATUS.noOrganization;
        this.opts.log?.info(
          { target: name },
          'Neon consumption history v2 needs an organization id and the project has none: set neon.orgId (org-…) to read compute_unit_seconds; compute_time_seconds is used meanwhile'
        );
      }
      if (this.consumptionAllowed && client.computeUnitSeconds && Number.isFinite(start) && orgId) {
        this.apiCalls++;
        try {
          cus = await client.computeUnitSeconds(new Date(start), new Date(now), orgId);
          this.consumptionStatus = CONSUMPTION_STATUS.read;
        } catch (e) {
          // 403 (plan), 404 (organization), 406 (range): asking again will not help; anything else: next time
          if (e instanceof NeonApiError && e.kind === 'config') {
            this.consumptionAllowed = false;
            this.consumptionStatus =
              e.status === 403
                ? CONSUMPTION_STATUS.plan
                : e.status === 404
                  ? CONSUMPTION_STATUS.organization
                  : CONSUMPTION_STATUS.other;
            this.opts.log?.warn({ target: name }, `Neon consumption history v2 not read: ${e.message}`);
          } else {
            this.consumptionStatus = CONSUMPTION_STATUS.transient;
          }
        }
      }
      this.record({
        target: name,
        collector: NEON_USAGE,
        ts: now,
        ok: true,
        rows: [
          {
            key: {},
            values: {
              compute_time_seconds: p.compute_time_seconds,
              active_time_seconds: p.active_time_seconds,
              cpu_used_sec: p.cpu_used_sec,
              period_start_ms: Number.isFinite(start) ? start : null,
              period_end_ms: Number.isFinite(end) ? end : null,
              compute_unit_seconds: cus,
              consumption_status: this.consumptionStatus,
              allowance_cu_hours: this.opts.target.neon?.computeAllowanceCuHours ?? null,
              min_cu: this.ep?.autoscaling_limit_min_cu ?? null,
            },
          },
        ],
      });
    } catch (e) {
      this.nextUsageAt = now + this.stateIntervalMs * 4;
      this.opts.log?.warn({ target: name }, `Neon project consumption not readable: ${(e as Error).message}`);
      this.record({ target: name, collector: NEON_USAGE, ts: now, ok: false, rows: [], error: (e as Error).message });
    }
  }

  /** The gate's own samples; a store that cannot keep them reports that itself, the gate goes on. */
  private record(sample: CollectedSample): void {
    try {
      this.store?.writeSample(sample);
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
    }
  }

  private event(ev: { ts: number; kind: string; title: string; text?: string; tags?: string[] }): void {
    try {
      this.store?.addEvent(this.opts.target.name, ev);
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
    }
  }

  private resetActivity(now: number): void {
    this.backoffSince = undefined;
    this.neonCheck = undefined;
    this.probing = false;
    this.lastOtherActivity = now;
    this.prev = undefined;
  }

  private ops: NeonOperation[] = [];

  /** reads the project's recent operations and records start/suspend/check ones as events */
  private async readOperations(now: number): Promise<void> {
    if (!this.opts.client.listOperations) {
      return;
    }
    const epId = this.opts.target.neon?.endpointId;
    try {
      this.apiCalls++;
      this.ops = (await this.opts.client.listOperations(20)).filter((o) => !o.endpoint_id || o.endpoint_id === epId);
    } catch (e) {
      this.opts.log?.warn({ target: this.opts.target.name }, `Neon operations not readable: ${(e as Error).message}`);
      return;
    }
    for (const o of this.ops) {
      if (this.seenOps.has(o.id) || !['start_compute', 'suspend_compute', ...NEON_WAKE_ACTIONS].includes(o.action)) {
        continue;
      }
      this.seenOps.add(o.id);
      const ts = Date.parse(o.created_at) || now;
      this.event({
        ts,
        kind: `neon_${o.action}`,
        title: `Neon ${o.action.replace(/_/g, ' ')} (${o.status})`,
        text: `operation ${o.id}${o.total_duration_ms !== undefined ? `, ${o.total_duration_ms} ms` : ''}`,
        tags: ['pgpulse', 'neon', o.action],
      });
    }
  }

  /** an availability check by Neon that explains the current wake, if any */
  private recentCheck(now: number): NeonOperation | undefined {
    return this.ops.find((o) => {
      if (!NEON_WAKE_ACTIONS.includes(o.action)) {
        return false;
      }
      if (['scheduling', 'running'].includes(o.status)) {
        return true;
      }
      const end = Date.parse(o.updated_at);
      return Number.isFinite(end) && now - end <= CHECK_WINDOW_MS + this.stateIntervalMs;
    });
  }

  /** pgpulse stays away on purpose now: sampler staleness must not count it (health reads it back) */
  private marker(now: number): void {
    try {
      this.store?.recordAwayByDesign(this.opts.target.name, now);
    } catch (e) {
      if (!isStoreWriteError(e)) {
        throw e;
      }
    }
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
    if (this.identityError) {
      this.mode = 'api-config-error';
      return { allowed: false, reason: this.identityError };
    }
    if (this.error?.kind === 'config') {
      this.mode = 'api-config-error';
      return {
        allowed: false,
        reason: `${this.error.message} — pgpulse does not connect to a Neon compute whose state it cannot read`,
      };
    }
    const known = this.ep && (!this.error || now - this.epAt <= 2 * this.stateIntervalMs) ? this.ep : undefined;
    if (!known) {
      this.mode = 'api-unavailable';
      const why = this.error?.message ?? 'Neon API not asked yet';
      if (!this.lastKnownActive) {
        // never connect on a guess that may wake the compute: before the first answer, or after one that said idle
        return {
          allowed: false,
          reason: `${why}; pgpulse does not connect until the Neon API says the compute is active (${this.ep ? `it last said ${this.ep.current_state}` : 'no answer yet'})`,
        };
      }
      if (this.lastCycleAt === undefined || now - this.lastCycleAt >= this.blindIntervalMs) {
        this.lastCycleAt = now;
        return { allowed: true };
      }
      return {
        allowed: false,
        reason: `${why}; compute state unknown (last seen active), so pgpulse samples at most once per ${Math.round(this.blindIntervalMs / 60_000)} min until the API answers`,
      };
    }
    if (known.current_state !== 'active') {
      this.mode = 'idle';
      this.backoffSince = undefined;
      this.neonCheck = undefined;
      this.probing = false;
      this.marker(now);
      return {
        allowed: false,
        byDesign: true,
        reason: `Neon compute is ${known.current_state} (scale to zero by design): pgpulse does not connect until it is active again`,
      };
    }
    if (this.backoffSince !== undefined) {
      const lastActive = known.last_active ? Date.parse(known.last_active) : NaN;
      const suspendMs = this.suspendMs;
      if (Number.isFinite(lastActive) && lastActive > this.backoffSince + LAST_ACTIVE_MARGIN_MS) {
        // last_active also moves for autovacuum: one probe cycle tells whether a user is there
        this.opts.log?.info(
          { target: this.opts.target.name },
          'Neon API last_active moved: another client may use the compute, one probe cycle checks'
        );
        this.backoffSince = undefined;
        this.neonCheck = undefined;
        this.probing = true;
      } else if (suspendMs === null || now - this.backoffSince > suspendMs + this.graceMs) {
        this.opts.log?.info(
          { target: this.opts.target.name },
          'Neon compute stayed active past its suspend timeout: something else keeps it awake, sampling resumes'
        );
        this.resetActivity(now);
      } else if (this.neonCheck) {
        this.mode = 'neon-check';
        this.marker(now);
        return {
          allowed: false,
          byDesign: true,
          reason: `Neon woke the compute for its own availability check (operation ${this.neonCheck.id}): pgpulse stays away so the wake is not prolonged`,
        };
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

  /**
   * One-off connections (actions, doctor): only while the API says, freshly, that the compute is
   * active — never on a guess, never during an outage, whatever the back-off state.
   */
  async mayContact(target: TargetConfig): Promise<{ allowed: boolean; reason?: string }> {
    void target;
    await this.refresh(this.now());
    const now = this.now();
    if (this.identityError) {
      return { allowed: false, reason: this.identityError };
    }
    if (this.error && (this.error.kind === 'config' || !this.ep || now - this.epAt > 2 * this.stateIntervalMs)) {
      return {
        allowed: false,
        reason: `${this.error.message}; pgpulse does not connect to a Neon compute whose state it cannot read`,
      };
    }
    if (!this.ep) {
      return {
        allowed: false,
        reason: 'Neon API not asked yet: pgpulse does not connect to a compute that may be idle',
      };
    }
    if (this.ep.current_state !== 'active') {
      return {
        allowed: false,
        reason: `Neon compute is ${this.ep.current_state} (scaled to zero): connecting would wake it, so pgpulse does not`,
      };
    }
    return { allowed: true };
  }

  /**
   * The 1 s activity sampler: only while the last allow() let a regular cycle through on a fresh
   * `active` answer and no back-off has started since (observe() may start one after any cycle).
   * Blind cycles during an API outage do not extend to it: once per 15 minutes is not every second.
   */
  mayRideAlong(target: TargetConfig): boolean {
    void target;
    const now = this.now();
    return (
      this.mode === 'sampling' &&
      this.backoffSince === undefined &&
      !this.identityError &&
      this.ep?.current_state === 'active' &&
      (!this.error || now - this.epAt <= 2 * this.stateIntervalMs)
    );
  }

  observe(target: TargetConfig, ctx: TargetContext): void {
    const store = this.store ?? ctx.store;
    const now = this.now();
    if (this.lastOtherActivity === undefined) {
      this.lastOtherActivity = now; // conservative: the quiet clock starts at the first cycle
    }
    const probing = this.probing;
    this.probing = false;
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
    if (v.pooled === 1) {
      this.pooledSeen = true;
    }
    const before = this.lastOtherActivity;
    // walsenders and subscription workers keep the compute awake anyway: sampling costs nothing then
    if ((v.others_active ?? 0) > 0 || (v.walsenders ?? 0) > 0 || (v.subscription_workers ?? 0) > 0) {
      this.lastOtherActivity = now;
    } else if (v.others_last_idle_change_ms != null && v.server_now_ms != null) {
      // translate the server's clock to ours through the server's "now" in the same reading
      const local = now - Math.max(0, v.server_now_ms - v.others_last_idle_change_ms);
      this.lastOtherActivity = Math.max(this.lastOtherActivity, local);
    }
    const sessions = v.sessions_user_dbs;
    const counted = v.own_db_counted ? 1 : 0;
    // Direct: every pool connect is a new server session. Behind PgBouncer a client connect opens
    // no session; ours is new only when our server backend started after the previous reading.
    const ownNew = (prev: { own: number; serverNow: number | null }) =>
      !counted
        ? 0
        : this.pooled
          ? v.own_backend_start_ms != null && prev.serverNow != null && v.own_backend_start_ms > prev.serverNow
            ? 1
            : 0
          : this.ownConnects - prev.own;
    if (sessions != null) {
      if (this.prev && sessions >= this.prev.sessions && sessions - this.prev.sessions - ownNew(this.prev) > 0) {
        this.lastOtherActivity = now; // someone connected (and maybe left) between two cycles
      }
      // our own statements move active_time when we sit in a counted database: only usable otherwise
      if (
        !counted &&
        this.prev?.activeTime != null &&
        v.active_time_user_dbs_ms != null &&
        v.active_time_user_dbs_ms > this.prev.activeTime
      ) {
        this.lastOtherActivity = now;
      }
      this.prev = {
        sessions,
        own: this.ownConnects,
        serverNow: v.server_now_ms,
        activeTime: v.active_time_user_dbs_ms,
      };
    }
    // time only pgpulse was there: since the later of the previous cycle and the last other client
    if (this.lastObserveAt !== undefined && this.lastOtherActivity === before) {
      // capped at two intervals: a gap in sampling (back-off, idle) is not pgpulse's time
      this.ownOnlyMs += Math.min(
        2 * target.intervalMs,
        Math.max(0, now - Math.max(this.lastObserveAt, this.lastOtherActivity))
      );
    }
    this.lastObserveAt = now;
    if (probing && this.lastOtherActivity === before && this.suspendMs !== null) {
      // last_active moved but nobody but pgpulse (and perhaps autovacuum) is here: straight back
      this.backoffSince = now;
      this.opts.log?.info(
        { target: target.name, autovacuum: v.autovacuum_workers ?? 0 },
        'probe cycle found no other client (last_active moved for autovacuum or Neon itself): backing off again'
      );
      return;
    }
    if (this.suspendMs !== null && this.backoffSince === undefined && now - this.lastOtherActivity >= this.quietMs) {
      this.backoffSince = now;
      this.opts.log?.info(
        { target: target.name, quietSeconds: Math.round((now - this.lastOtherActivity) / 1000) },
        'only pgpulse used the Neon compute recently: backing off so it can scale to zero'
      );
    }
  }
}
