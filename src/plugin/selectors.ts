/**
 * Test ids shared by the jest tests and the Playwright end-to-end tests, so both find the same
 * elements the same way. Pure data: no imports.
 */
export const selectors = {
  queryEditor: {
    root: 'pgpulse-query-editor',
    metric: 'pgpulse-query-metric',
    target: 'pgpulse-query-target',
    description: 'pgpulse-query-metric-description',
    /** one per option a metric takes (optionKeys of src/model/options.ts) */
    option: (key: string) => `pgpulse-query-option-${key}`,
    issues: 'pgpulse-query-issues',
    issue: (field: string) => `pgpulse-query-issue-${field}`,
    run: 'pgpulse-query-run',
  },
  configEditor: {
    root: 'pgpulse-config-editor',
    target: 'pgpulse-config-target',
    token: 'pgpulse-config-token',
    sidecarAddress: 'pgpulse-config-sidecar-address',
    help: 'pgpulse-config-help',
    targetsNote: 'pgpulse-config-targets-note',
  },
  variableEditor: {
    root: 'pgpulse-variable-editor',
    resource: 'pgpulse-variable-resource',
    filter: (key: string) => `pgpulse-variable-${key}`,
  },
} as const;
