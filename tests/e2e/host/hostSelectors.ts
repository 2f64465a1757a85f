/** Test ids of the host page itself (the plugin's own are in src/plugin/selectors.ts). */
export const hostSelectors = {
  ready: 'host-ready',
  loadError: 'host-load-error',
  saveAndTest: 'host-save-and-test',
  refresh: 'host-refresh',
  health: 'host-health',
  panel: 'host-panel',
  panelError: 'host-panel-error',
  tableViz: 'host-table-viz',
  seriesViz: 'host-series-viz',
  frameSummary: 'host-frame-summary',
  requests: 'host-requests',
} as const;
