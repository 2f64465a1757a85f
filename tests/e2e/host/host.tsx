/**
 * The e2e host page: a small Grafana stand-in that loads the BUILT plugin (dist/module.js)
 * through an AMD loader, giving it the real @grafana/data, @grafana/ui, @grafana/runtime and
 * React as its externals. It renders the plugin's ConfigEditor (with Save & test) and
 * QueryEditor, and runs queries the way Grafana's query runner does (filterQuery, then
 * DataSourceWithBackend.query → /api/ds/query), showing the result in @grafana/ui's own
 * PanelChrome, TimeSeries and Table.
 */
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import {
  applyFieldOverrides,
  CoreApp,
  dateTime,
  type DataFrame,
  type DataQueryResponse,
  type DataSourceApi,
  type DataSourceInstanceSettings,
  type DataSourcePlugin,
  type DataSourcePluginMeta,
  type DataSourceSettings,
  FieldType,
  LoadingState,
  type TestDataSourceResponse,
  type TimeRange,
} from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import {
  config,
  setBackendSrv,
  setDataSourceSrv,
  setEchoSrv,
  setTemplateSrv,
  type DataSourceSrv,
  type EchoSrv,
  type TemplateSrv,
} from '@grafana/runtime';
import * as grafanaUi from '@grafana/ui';
import {
  Alert,
  Button,
  ErrorBoundaryAlert,
  Field,
  GlobalStyles,
  Input,
  PanelChrome,
  Stack,
  Table,
  Tag,
  Text,
  ThemeContext,
  TimeSeries,
} from '@grafana/ui';
import i18next from 'i18next';
import * as lodash from 'lodash';
// Grafana's runtime hands plugins its own moment: the host must provide the same module
// eslint-disable-next-line no-restricted-imports
import moment from 'moment';
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as rxjs from 'rxjs';

import uplotCss from 'uplot/dist/uPlot.min.css';

import { HostBackendSrv } from './backendSrv';
import { hostSelectors as H } from './hostSelectors';

declare global {
  interface Window {
    pgpulseAmd: {
      define: (name: string, deps: string[], factory: () => unknown) => void;
      load: (url: string) => Promise<Record<string, unknown>>;
      names: () => string[];
    };
    pgpulseHost?: {
      requests: HostBackendSrv['log'];
      lastResponse?: DataQueryResponse;
      amdModules: string[];
      datasource?: DataSourceApi;
    };
  }
}

const PLUGIN_ID = 'pgpulse-postgres-datasource';
const params = new URLSearchParams(window.location.search);
const DS_UID = params.get('uid') ?? 'pgpulse-e2e';
const APP = (params.get('app') as CoreApp | null) ?? CoreApp.PanelEditor;
const RANGE = params.get('range') ?? '15m';

// 1. The modules Grafana shares with plugins, by the names plugins import them by.
const shared: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  'react/jsx-runtime': jsxRuntime,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUi,
  '@grafana/runtime': grafanaRuntime,
  lodash,
  rxjs,
  '@emotion/css': emotionCss,
  '@emotion/react': emotionReact,
  i18next,
  moment,
};
for (const [name, mod] of Object.entries(shared)) {
  window.pgpulseAmd.define(name, [], () => mod);
}

// 2. Grafana services the plugin reaches through @grafana/runtime.
const backendSrv = new HostBackendSrv();
setBackendSrv(backendSrv.asBackendSrv());
// Dashboard variables from the URL, as Grafana reads them (?var-name=value).
const variables: Record<string, string> = {};
params.forEach((v, k) => {
  if (k.startsWith('var-')) {
    variables[k.slice(4)] = v;
  }
});
setTemplateSrv({
  getVariables: () => Object.keys(variables).map((name) => ({ name, label: name, type: 'custom' })),
  replace: (target?: string) => (target ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => variables[a ?? b] ?? m),
  containsTemplate: (t?: string) => /\$\w|\$\{/.test(t ?? ''),
  updateTimeRange: () => {},
} as unknown as TemplateSrv);
setEchoSrv({
  addEvent: () => {},
  logDebug: () => {},
  isEnabled: () => false,
  addBackend: () => {},
} as unknown as EchoSrv);

function relativeRange(): TimeRange {
  const to = dateTime();
  const m = /^(\d+)([smh])$/.exec(RANGE) ?? ['', '15', 'm'];
  const from = dateTime(to).subtract(Number(m[1]), m[2] as 's' | 'm' | 'h');
  return { from, to, raw: { from: `now-${RANGE}`, to: 'now' } };
}

function toInstanceSettings(s: DataSourceSettings, meta: DataSourcePluginMeta): DataSourceInstanceSettings {
  return {
    id: s.id,
    uid: s.uid,
    type: s.type,
    name: s.name,
    meta,
    jsonData: s.jsonData,
    access: 'proxy',
    readOnly: false,
  };
}

interface Loaded {
  plugin: DataSourcePlugin<DataSourceApi>;
  meta: DataSourcePluginMeta;
  settings: DataSourceSettings;
}

function App({ loaded }: { loaded: Loaded }) {
  const { plugin, meta } = loaded;
  const [settings, setSettings] = React.useState<DataSourceSettings>(loaded.settings);
  const [ds, setDs] = React.useState<DataSourceApi>(
    () => new plugin.DataSourceClass(toInstanceSettings(loaded.settings, meta))
  );
  const [health, setHealth] = React.useState<TestDataSourceResponse & { pending?: boolean }>();
  const [query, setQuery] = React.useState<Record<string, unknown>>(() => ({
    refId: 'A',
    ...(ds.getDefaultQuery?.(APP) ?? {}),
  }));
  const [result, setResult] = React.useState<{
    state: LoadingState;
    frames: DataFrame[];
    error?: string;
    range: TimeRange;
  }>();
  const queryRef = React.useRef(query);
  queryRef.current = query;

  React.useEffect(() => {
    setDataSourceSrv({
      get: async () => ds,
      getInstanceSettings: () => toInstanceSettings(settings, meta),
      getList: () => [toInstanceSettings(settings, meta)],
      reload: async () => {},
      registerRuntimeDataSource: () => {},
    } as unknown as DataSourceSrv);
  }, [ds, settings, meta]);

  const saveAndTest = async () => {
    setHealth({ status: 'info', message: 'Testing…', pending: true });
    // Grafana saves first (secure fields become "configured"), reloads the instance, then tests.
    const saved = await backendSrv.put<{ datasource: DataSourceSettings }>(
      `/api/datasources/uid/${settings.uid}`,
      settings
    );
    setSettings(saved.datasource);
    const next = new plugin.DataSourceClass(toInstanceSettings(saved.datasource, meta));
    setDs(next);
    try {
      setHealth(await next.testDatasource());
    } catch (e) {
      setHealth({ status: 'error', message: (e as Error).message ?? String(e) });
    }
  };

  const run = React.useCallback(() => {
    const q = queryRef.current;
    const range = relativeRange();
    const targets = [q].filter((t) => (ds.filterQuery ? ds.filterQuery(t as never) : true));
    setResult({ state: LoadingState.Loading, frames: [], range });
    const intervalMs = Math.max(1000, Math.round((range.to.valueOf() - range.from.valueOf()) / 600 / 1000) * 1000);
    const rsp = ds.query({
      requestId: `host-${Date.now()}`,
      interval: `${intervalMs / 1000}s`,
      intervalMs,
      maxDataPoints: 600,
      range,
      rangeRaw: range.raw,
      scopedVars: {},
      targets: targets as never,
      timezone: 'utc',
      app: APP,
      startTime: Date.now(),
    } as never);
    const obs = rxjs.isObservable(rsp) ? rsp : rxjs.from(rsp as Promise<DataQueryResponse>);
    obs.subscribe({
      next: (r: DataQueryResponse) => {
        window.pgpulseHost!.lastResponse = r;
        const frames = applyFieldOverrides({
          data: r.data as DataFrame[],
          fieldConfig: { defaults: {}, overrides: [] },
          replaceVariables: (v: string) => v,
          theme: config.theme2,
          timeZone: 'utc',
        });
        const error = r.errors?.map((e) => e.message).join('; ') || r.error?.message;
        setResult({ state: error ? LoadingState.Error : LoadingState.Done, frames, error, range });
      },
      error: (e: unknown) =>
        setResult({ state: LoadingState.Error, frames: [], error: String((e as Error)?.message ?? e), range }),
    });
  }, [ds]);

  // A panel runs its query when it opens, as Grafana's panel editor does.
  const ranOnce = React.useRef(false);
  React.useEffect(() => {
    if (!ranOnce.current) {
      ranOnce.current = true;
      run();
    }
  }, [run]);

  window.pgpulseHost!.datasource = ds;
  const ConfigEditor = plugin.components.ConfigEditor!;
  const QueryEditor = plugin.components.QueryEditor!;

  return (
    <div style={{ padding: 24, maxWidth: 1200 }}>
      <Stack direction="column" gap={3}>
        <Stack direction="row" alignItems="center" gap={2}>
          <img src={`/public/plugins/${PLUGIN_ID}/${meta.info.logos.small}`} width={40} height={40} alt="" />
          <div>
            <Text element="h1" variant="h3">
              {settings.name}
            </Text>
            <Text color="secondary" variant="bodySmall">
              Type: {meta.name} · {meta.id} {meta.info.version}
            </Text>
          </div>
        </Stack>

        <section>
          <Text element="h2" variant="h4">
            Settings
          </Text>
          <Field label="Name">
            <Input
              value={settings.name}
              width={40}
              onChange={(e) => setSettings({ ...settings, name: e.currentTarget.value })}
            />
          </Field>
          <ErrorBoundaryAlert>
            <ConfigEditor options={settings} onOptionsChange={setSettings} />
          </ErrorBoundaryAlert>
          <Stack direction="column" gap={2}>
            {health && !health.pending && (
              <div data-testid={H.health} data-status={health.status}>
                <Alert severity={health.status === 'success' ? 'success' : 'error'} title={health.message}>
                  {health.details && typeof health.details === 'object' && 'message' in health.details
                    ? String(health.details.message)
                    : null}
                </Alert>
              </div>
            )}
            <div>
              <Button data-testid={H.saveAndTest} onClick={saveAndTest} disabled={health?.pending}>
                Save &amp; test
              </Button>
            </div>
          </Stack>
        </section>

        <section>
          <Stack direction="row" alignItems="center" justifyContent="space-between">
            <Text element="h2" variant="h4">
              Query ({APP})
            </Text>
            <Stack direction="row" alignItems="center" gap={1}>
              <Text color="secondary" variant="bodySmall">
                Last {RANGE}
              </Text>
              <Button data-testid={H.refresh} icon="sync" variant="secondary" size="sm" onClick={run}>
                Refresh
              </Button>
            </Stack>
          </Stack>
          <div style={{ margin: '8px 0 16px' }}>
            <ErrorBoundaryAlert>
              <QueryEditor
                query={query as never}
                datasource={ds}
                app={APP}
                onChange={(q: unknown) => setQuery(q as Record<string, unknown>)}
                onRunQuery={() => setTimeout(run, 0)}
              />
            </ErrorBoundaryAlert>
          </div>
          <Panel result={result} />
        </section>

        <VariablesSection ds={ds} />
        <AnnotationsSection ds={ds} />
      </Stack>
    </div>
  );
}

/** Grafana's "Query" variable editor page: the plugin's own editor and a preview of the values. */
function VariablesSection({ ds }: { ds: DataSourceApi }) {
  const support = ds.variables as unknown as
    | { editor: React.ComponentType<any>; query: (r: unknown) => rxjs.Observable<DataQueryResponse> }
    | undefined;
  const [vq, setVq] = React.useState<Record<string, unknown>>({ refId: 'PgpulseVariableQuery', resource: 'databases' });
  const [values, setValues] = React.useState<string[] | undefined>();
  const [error, setError] = React.useState<string | undefined>();
  React.useEffect(() => {
    if (!support) {
      return;
    }
    const sub = support
      .query({ targets: [vq], range: relativeRange(), scopedVars: {}, app: CoreApp.Dashboard, requestId: 'variable' })
      .subscribe({
        next: (r) => {
          const frame = (r.data as DataFrame[])[0];
          const text = frame?.fields.find((f) => f.name === 'text');
          setValues(text ? Array.from(text.values as ArrayLike<string>) : []);
          setError(undefined);
        },
        error: (e: unknown) =>
          setError(String((e as { data?: { error?: string } })?.data?.error ?? (e as Error)?.message ?? e)),
      });
    return () => sub.unsubscribe();
  }, [support, vq]);
  if (!support) {
    return null;
  }
  const Editor = support.editor;
  return (
    <section data-testid={H.variables}>
      <Text element="h2" variant="h4">
        Variable (query)
      </Text>
      <div style={{ margin: '8px 0' }}>
        <Editor query={vq} onChange={(q: Record<string, unknown>) => setVq(q)} onRunQuery={() => {}} datasource={ds} />
      </div>
      <Field label="Preview of values">
        <div data-testid={H.variablePreview}>
          {error ? (
            <Alert severity="error" title={error} />
          ) : (
            <Stack direction="row" gap={1} wrap="wrap">
              {(values ?? []).map((v) => (
                <Tag key={v} name={v} colorIndex={9} data-testid={H.variableValue} />
              ))}
            </Stack>
          )}
        </div>
      </Field>
    </section>
  );
}

/**
 * Grafana's annotation query for this datasource, as the dashboard runs it: the plugin's
 * prepareAnnotation/prepareQuery, then query(), then frames → events by field name.
 */
function AnnotationsSection({ ds }: { ds: DataSourceApi }) {
  const support = ds.annotations;
  const [events, setEvents] = React.useState<Array<{ time: number; title: string; text: string; tags: string[] }>>();
  const run = () => {
    if (!support) {
      return;
    }
    const anno = support.prepareAnnotation!({
      name: 'pgpulse events',
      enable: true,
      iconColor: 'orange',
      target: support.getDefaultQuery?.(),
    } as never) as never;
    const query = support.prepareQuery!(anno);
    if (!query) {
      setEvents([]);
      return;
    }
    const range = relativeRange();
    const rsp = ds.query({
      requestId: 'annotations',
      interval: '15s',
      intervalMs: 15000,
      range,
      scopedVars: {},
      targets: [query],
      timezone: 'utc',
      app: CoreApp.Dashboard,
      startTime: Date.now(),
    } as never);
    (rxjs.isObservable(rsp) ? rsp : rxjs.from(rsp as Promise<DataQueryResponse>)).subscribe((r: DataQueryResponse) => {
      const out: Array<{ time: number; title: string; text: string; tags: string[] }> = [];
      for (const f of r.data as DataFrame[]) {
        const col = (n: string) => f.fields.find((x) => x.name === n)?.values as ArrayLike<unknown> | undefined;
        const time = col('time');
        for (let i = 0; i < f.length; i++) {
          const tags = col('tags')?.[i];
          out.push({
            time: Number(time?.[i]),
            title: String(col('title')?.[i] ?? ''),
            text: String(col('text')?.[i] ?? ''),
            tags: Array.isArray(tags)
              ? tags.map(String)
              : String(tags ?? '')
                  .split(',')
                  .filter(Boolean),
          });
        }
      }
      setEvents(out);
    });
  };
  if (!support) {
    return null;
  }
  return (
    <section data-testid={H.annotations}>
      <Stack direction="row" alignItems="center" gap={2}>
        <Text element="h2" variant="h4">
          Annotations
        </Text>
        <Button data-testid={H.runAnnotations} size="sm" variant="secondary" icon="comment-alt" onClick={run}>
          Show pgpulse events
        </Button>
      </Stack>
      {events && (
        <ul style={{ listStyle: 'none', padding: 0, marginTop: 8 }}>
          {events.length === 0 && <Text color="secondary">No events in the last {RANGE}</Text>}
          {events.map((e, i) => (
            <li key={i} data-testid={H.annotation} data-time={e.time} style={{ marginBottom: 6 }}>
              <Stack direction="row" gap={1} alignItems="center">
                <Text variant="bodySmall" color="secondary">
                  {dateTime(e.time).utc().format('HH:mm:ss')}
                </Text>
                <Text>{e.title}</Text>
                {e.tags.map((t) => (
                  <Tag key={t} name={t} />
                ))}
              </Stack>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function isTable(frames: DataFrame[]): boolean {
  return frames.some(
    (f) => (f.meta?.type as string | undefined) === 'table' || !f.fields.some((x) => x.type === FieldType.time)
  );
}

function Panel({
  result,
}: {
  result?: { state: LoadingState; frames: DataFrame[]; error?: string; range: TimeRange };
}) {
  const width = 1150;
  const height = 420;
  const frames = result?.frames ?? [];
  const table = isTable(frames);
  return (
    <div data-testid={H.panel} data-state={result?.state ?? 'NotStarted'}>
      <PanelChrome
        title="Panel"
        width={width}
        height={height}
        loadingState={result?.state}
        statusMessage={result?.error}
      >
        {(w, h) => {
          if (!result) {
            return <Text color="secondary">Pick a metric to run a query.</Text>;
          }
          if (result.error) {
            return (
              <div data-testid={H.panelError}>
                <Alert severity="error" title="Query error">
                  {result.error}
                </Alert>
              </div>
            );
          }
          if (frames.length === 0 || frames.every((f) => f.length === 0)) {
            return <Text color="secondary">No data</Text>;
          }
          if (table) {
            const f = frames.find((x) => x.length > 0) ?? frames[0];
            return (
              <div data-testid={H.tableViz}>
                <Table data={f} width={w} height={h} />
              </div>
            );
          }
          return (
            <div data-testid={H.seriesViz}>
              <TimeSeries
                frames={frames}
                width={w}
                height={h}
                timeRange={result.range}
                timeZone="utc"
                legend={{
                  showLegend: true,
                  displayMode: 'table' as never,
                  placement: 'bottom' as never,
                  calcs: ['lastNotNull', 'max'],
                }}
              />
            </div>
          );
        }}
      </PanelChrome>
      <FrameSummary frames={frames} />
    </div>
  );
}

/** A plain-text account of what came back, for the test to compare against PostgreSQL. */
function FrameSummary({ frames }: { frames: DataFrame[] }) {
  const summary = frames.map((f) => ({
    name: f.name ?? '',
    refId: f.refId,
    type: f.meta?.type ?? '',
    length: f.length,
    fields: f.fields.map((x) => ({
      name: x.name,
      type: x.type,
      labels: x.labels ?? {},
      unit: x.config.unit ?? '',
      min: x.config.min,
      max: x.config.max,
      displayName: x.config.displayName,
      values: Array.from(x.values as ArrayLike<unknown>),
    })),
  }));
  return (
    <details style={{ marginTop: 8 }}>
      <summary>
        <Text variant="bodySmall" color="secondary">
          {frames.length} frame(s), {frames.reduce((n, f) => n + f.length, 0)} row(s)
        </Text>
      </summary>
      <pre data-testid={H.frameSummary} style={{ maxHeight: 200, overflow: 'auto' }}>
        {JSON.stringify(summary)}
      </pre>
    </details>
  );
}

async function main() {
  // Grafana's app bundle loads uPlot's stylesheet globally; the graph needs it.
  const style = document.createElement('style');
  style.textContent = uplotCss;
  document.head.appendChild(style);
  window.pgpulseHost = { requests: backendSrv.log, amdModules: window.pgpulseAmd.names() };
  const rootEl = document.getElementById('root')!;
  const root = createRoot(rootEl);
  const wrap = (node: React.ReactNode) => (
    <ThemeContext.Provider value={config.theme2}>
      <GlobalStyles />
      {node}
    </ThemeContext.Provider>
  );
  try {
    const [mod, meta, settings] = await Promise.all([
      window.pgpulseAmd.load(`/public/plugins/${PLUGIN_ID}/module.js`),
      backendSrv.get<DataSourcePluginMeta>(`/public/plugins/${PLUGIN_ID}/plugin.json`),
      backendSrv.get<DataSourceSettings>(`/api/datasources/uid/${DS_UID}`),
    ]);
    const plugin = mod.plugin as DataSourcePlugin<DataSourceApi>;
    if (!plugin || !plugin.DataSourceClass) {
      throw new Error('dist/module.js exports no DataSourcePlugin named "plugin"');
    }
    plugin.meta = meta;
    root.render(
      wrap(
        <>
          <span data-testid={H.ready} hidden />
          <App loaded={{ plugin, meta, settings }} />
        </>
      )
    );
  } catch (e) {
    root.render(
      wrap(
        <div data-testid={H.loadError} style={{ padding: 24 }}>
          <Alert severity="error" title="The plugin failed to load">
            {String((e as Error)?.stack ?? e)}
          </Alert>
        </div>
      )
    );
  }
}

main();
