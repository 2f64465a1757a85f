/**
 * The activity feature (database load, active session history): one ActivitySampler per target
 * next to its TargetSampler, and the engine handlers of the Load metrics.
 */
import type { Feature, Sidecar } from '../feature';
import { parseActivityConfig } from './config';
import {
  dbLoad,
  dbLoadByApplication,
  dbLoadByDatabase,
  dbLoadByUser,
  dbLoadStatements,
  dbLoadVcpuRatio,
  dbLoadVcpus,
  dbLoadWaitEvents,
} from './handlers';
import { ActivitySampler, type ActivityOptions } from './sampler';

export { ActivitySampler } from './sampler';

/** activity samplers by target name, for tests and the bench */
export const activitySamplers = new WeakMap<Sidecar, Map<string, ActivitySampler>>();

function startActivity(s: Sidecar, opts: ActivityOptions): void {
  const mine = new Map<string, ActivitySampler>();
  s.config.targets.forEach((t, i) => {
    // validate now, so a typo stops `pgpulse serve` with the field named
    const cfg = parseActivityConfig(t.activity, `targets[${i}].activity`);
    const main = s.samplers.get(t.name);
    if (!main) {
      return;
    }
    const act = new ActivitySampler(main, s.store, cfg, s.log.child({ target: t.name, part: 'activity' }), opts);
    mine.set(t.name, act);
    // it runs exactly while its target's sampler runs (not for the CLI's one-shot commands), and
    // stops first: its tick borrows the pool the sampler ends
    const start = main.start.bind(main);
    const stop = main.stop.bind(main);
    main.start = () => {
      start();
      act.start();
    };
    main.stop = async () => {
      await act.stop();
      await stop();
    };
  });
  activitySamplers.set(s, mine);
}

/** The feature; tests pass options (a neon_utils stand-in) */
export function activityFeatureWith(opts: ActivityOptions): Feature {
  return {
    ...activityFeature,
    startup: (s) => startActivity(s, opts),
  };
}

export const activityFeature: Feature = {
  name: 'activity',
  handlers: {
    db_load: dbLoad,
    db_load_vcpus: dbLoadVcpus,
    db_load_vcpu_ratio: dbLoadVcpuRatio,
    db_load_wait_events: dbLoadWaitEvents,
    db_load_statements: dbLoadStatements,
    db_load_by_database: dbLoadByDatabase,
    db_load_by_user: dbLoadByUser,
    db_load_by_application: dbLoadByApplication,
  },
  startup: (s) => startActivity(s, {}),
};
