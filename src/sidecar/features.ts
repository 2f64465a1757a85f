/**
 * What the sidecar is made of: every feature, in startup order. app.ts assembles this list for
 * sampling, routes and startup; each query worker assembles it too (its engine computes with the
 * same handlers), picking the features the sidecar was started with by name.
 */
import { actionsFeature } from './actions';
import { activityFeature } from './activity';
import { advisorsFeature } from './advisors';
import { coreFeature } from './core';
import type { Feature } from './feature';
import { neonFeature } from './neon';
import { plansFeature } from './plans';
import { vectorFeature } from './vector';

// actions start before advisors: the advisor's stop runs first, then the runners close
export const sidecarFeatures: readonly Feature[] = [
  coreFeature,
  vectorFeature,
  neonFeature,
  actionsFeature,
  advisorsFeature,
  plansFeature,
  activityFeature,
];
