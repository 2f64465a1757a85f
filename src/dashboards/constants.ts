/**
 * Names the provisioned dashboards, alert rules, datasource and compose file agree on.
 * Changing one of these breaks saved links and alert history, so they are fixed here once.
 */
export const PLUGIN_ID = 'pgpulse-postgres-datasource';

/** The provisioned datasource's fixed uid (provisioning/datasources/pgpulse.yaml). */
export const DATASOURCE_UID = 'pgpulse';
export const DATASOURCE_NAME = 'pgpulse';

/** Panels follow the dashboard's datasource variable so one dashboard serves several pgpulse datasources. */
export const PANEL_DATASOURCE = { type: PLUGIN_ID, uid: '${datasource}' };
/** Alert rules and the datasource variable's default point at the provisioned datasource itself. */
export const FIXED_DATASOURCE = { type: PLUGIN_ID, uid: DATASOURCE_UID };

/** The target name the sidecar gives DATABASE_URL (ARCHITECTURE.md, Interfaces). */
export const DEFAULT_TARGET = 'default';

/** Every pgpulse dashboard carries this tag: the dashboard links list them by it. */
export const DASHBOARD_TAG = 'pgpulse';
/** Folder of the dashboards and the alert rule group, matched by title (see provisioning/dashboards/pgpulse.yaml). */
export const FOLDER_TITLE = 'pgpulse';

export const DASHBOARD_UIDS = {
  overview: 'pgpulse-overview',
  queries: 'pgpulse-queries',
  indexes: 'pgpulse-indexes-tables',
  vitals: 'pgpulse-vitals',
  load: 'pgpulse-load',
  vector: 'pgpulse-vector-search',
  neon: 'pgpulse-neon',
  /** on a Prometheus datasource, not pgpulse (boards/fleet.ts) */
  fleet: 'pgpulse-fleet',
} as const;

/**
 * A variable value meaning "no filter". Grafana's All option interpolates to it; the frontend
 * drops any filter field equal to it before the query leaves the browser (see the report / contract).
 */
export const ALL_VALUE = '*';
