/**
 * The plugin as a person uses it, in a real browser: the built dist/module.js loaded by the host
 * page with the real @grafana/* packages, Save & test and queries going through the Grafana API
 * stand-in over gRPC to the real sidecar, which samples a real PostgreSQL. What the page shows
 * is compared with what PostgreSQL itself reports.
 */
import { expect, test as base, type Page } from '@playwright/test';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { selectors } from '../../src/plugin/selectors';
import { hostSelectors as H } from './host/hostSelectors';
import { launchBackend, type RemoteBackend } from './support/backend-client';
import { startGrafanaStandIn, type GrafanaStandIn } from './support/grafana-standin';
import { tableTruth } from './support/seed';

const Q = selectors.queryEditor;
const C = selectors.configEditor;
const SHOTS = resolve(__dirname, '../../test-results/screenshots');
mkdirSync(SHOTS, { recursive: true });

interface Env {
  backend: RemoteBackend;
  /** a datasource whose token is already saved, pointing at target "default" */
  grafana: GrafanaStandIn;
}

const test = base.extend<{ host: Page }, { env: Env }>({
  env: [
    async ({}, use) => {
      const backend = await launchBackend();
      const grafana = await startGrafanaStandIn({
        grpcAddress: backend.grpcAddress,
        jsonData: { target: 'default' },
        token: backend.token,
      });
      await use({ backend, grafana });
      await grafana.close();
      await backend.stop();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  host: async ({ page, env }, use) => {
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(env.grafana.url + '/');
    await expect(page.getByTestId(H.loadError)).toHaveCount(0);
    await page.getByTestId(H.ready).waitFor({ state: 'attached' });
    await use(page);
  },
});

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Pick an option from a Combobox the way a person does: open it, type, click the option. */
async function pick(page: Page, testId: string, text: string, option = new RegExp(text)) {
  const input = page.getByTestId(testId);
  await input.click();
  await input.fill(text);
  await page.getByRole('option', { name: option }).first().click();
}

interface FrameSummary {
  name: string;
  type: string;
  length: number;
  fields: Array<{
    name: string;
    type: string;
    labels: Record<string, string>;
    min?: number;
    max?: number;
    displayName?: string;
    values: unknown[];
  }>;
}

async function frames(page: Page): Promise<FrameSummary[]> {
  const text = await page.getByTestId(H.frameSummary).textContent();
  return JSON.parse(text || '[]') as FrameSummary[];
}

function lastNumber(values: unknown[]): number | undefined {
  for (let i = values.length - 1; i >= 0; i--) {
    if (typeof values[i] === 'number') {
      return values[i] as number;
    }
  }
  return undefined;
}

test.describe('pgpulse in a Grafana host', () => {
  test('dist/ is an installable plugin: AMD module.js with only Grafana’s externals, assets copied', async () => {
    const dist = resolve(__dirname, '../../dist');
    const moduleJs = readFileSync(join(dist, 'module.js'), 'utf8');
    const deps = JSON.parse(/^define\((\[[^\]]*\])/.exec(moduleJs)?.[1] ?? 'null') as string[] | null;
    expect(deps).not.toBeNull();
    const allowed = [
      'react',
      'react-dom',
      'react/jsx-runtime',
      '@grafana/data',
      '@grafana/ui',
      '@grafana/runtime',
      'lodash',
      'rxjs',
      '@emotion/react',
      '@emotion/css',
      'i18next',
      'moment',
      'd3',
    ];
    expect(deps!.filter((d) => !allowed.includes(d))).toEqual([]);
    // nothing from the Node sidecar reached the browser bundle
    expect(moduleJs).not.toMatch(/better-sqlite3|@grpc\/grpc-js|node:child_process|require\("fs"\)/);
    const pj = JSON.parse(readFileSync(join(dist, 'plugin.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8'));
    expect(pj.info.version).toBe(pkg.version);
    expect(pj.info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const f of ['img/logo.svg', 'CHANGELOG.md']) {
      expect(existsSync(join(dist, f))).toBe(true);
    }
  });

  test('plugin loads from dist/module.js with Grafana’s shared modules', async ({ host }) => {
    const modules = await host.evaluate(() => window.pgpulseHost?.amdModules ?? []);
    expect(modules).toEqual(expect.arrayContaining(['react', '@grafana/data', '@grafana/ui', '@grafana/runtime']));
    await expect(host.getByTestId(C.root)).toBeVisible();
    await expect(host.getByTestId(Q.root)).toBeVisible();
    await expect(host.getByTestId(C.token)).toHaveValue('configured');
    await shot(host, '01-loaded');
  });

  test('Save & test shows CheckHealth: a wrong token is refused, the right one connects', async ({ host, env }) => {
    await host.getByRole('button', { name: 'Reset' }).click();
    await host.getByTestId(C.token).fill('not-the-token');
    await host.getByTestId(H.saveAndTest).click();
    const health = host.getByTestId(H.health);
    await expect(health).toHaveAttribute('data-status', 'error');
    await expect(health).toContainText(/token/i);
    await expect(health).not.toContainText('not-the-token');
    await shot(host, '02-health-wrong-token');
    // opening the target list with the refused token explains why it is empty
    await host.getByTestId(C.target).click();
    await expect(host.getByTestId(C.targetsNote)).toContainText(/refused the token/);
    await host.keyboard.press('Escape');

    await host.getByRole('button', { name: 'Reset' }).click();
    await host.getByTestId(C.token).fill(env.backend.token);
    await host.getByTestId(H.saveAndTest).click();
    await expect(health).toHaveAttribute('data-status', 'success');
    // with a token the sidecar accepts saved, the target list loads from it: pick from that list
    // (while the stored token is refused the list cannot load and only typing works)
    await pick(host, C.target, 'default', /^default/);
    await host.getByTestId(H.saveAndTest).click();
    await expect(health).toHaveAttribute('data-status', 'success');
    const version = (
      await env.backend.query<{ server_version: string }>('SHOW server_version')
    )[0].server_version.split(/[ .]/)[0];
    await expect(health).toContainText(version);
    // the saved token is accepted: no stale 'refused the token' hint, and extensions that are simply
    // not installed on this plain PostgreSQL (pgvector, neon) are not listed as problems
    await expect(host.getByTestId(C.targetsNote)).toHaveCount(0);
    await expect(health).not.toContainText(/collector unavailable/i);
    expect(env.grafana.stored()).toEqual({ jsonData: { target: 'default' }, token: env.backend.token });
    await shot(host, '03-health-ok');
  });

  test('cache hit ratio: the axis is bounded to 0–100 %, not left to auto-scale past 100 %', async ({ host }) => {
    await expect(host.getByTestId(Q.root)).toBeVisible();
    await expect(async () => {
      await host.getByTestId(H.refresh).click();
      await expect(host.getByTestId(H.panel)).toHaveAttribute('data-state', 'Done');
      const ratios = (await frames(host)).flatMap((f) => f.fields.filter((x) => x.type === 'number'));
      expect(ratios.length).toBeGreaterThan(0);
      for (const f of ratios) {
        expect([f.min, f.max]).toEqual([0, 1]);
      }
    }).toPass({ timeout: 60_000 });
  });

  test('dead tuples of a picked table: the series shows what pg_stat_user_tables says', async ({ host, env }) => {
    await pick(host, Q.metric, 'Dead tuples');
    await expect(host.getByTestId(Q.description)).toContainText('n_dead_tup');
    await pick(host, Q.option('table'), 'orders', /^orders/);
    await expect(async () => {
      await host.getByTestId(H.refresh).click();
      await expect(host.getByTestId(H.panel)).toHaveAttribute('data-state', 'Done');
      const truth = await tableTruth(env.backend.query, 'orders');
      const series = (await frames(host)).flatMap((f) => f.fields.filter((x) => x.type === 'number'));
      expect(series.length).toBeGreaterThan(0);
      // only the picked table comes back, and its latest value is PostgreSQL's own count
      for (const s of series) {
        expect(s.labels.relname ?? 'orders').toBe('orders');
      }
      expect(lastNumber(series[0].values)).toBe(truth.n_dead_tup);
      await expect(host.getByTestId(H.seriesViz)).toContainText(String(truth.n_dead_tup));
    }).toPass({ timeout: 60_000 });
    await shot(host, '04-dead-tuples-series');
  });

  test('table statistics for a picked table: the row shows PostgreSQL’s live tuples', async ({ host, env }) => {
    await pick(host, Q.metric, 'Table statistics');
    await pick(host, Q.option('table'), 'orders', /^orders/);
    await expect(async () => {
      await host.getByTestId(H.refresh).click();
      await expect(host.getByTestId(H.panel)).toHaveAttribute('data-state', 'Done');
      const truth = await tableTruth(env.backend.query, 'orders');
      const [frame] = (await frames(host)).filter((f) => f.length > 0);
      expect(frame).toBeDefined();
      const names = frame.fields.find((f) => f.type === 'string' && f.values.includes('orders'))!;
      expect(names).toBeDefined();
      expect(new Set(names.values)).toEqual(new Set(['orders']));
      const live = frame.fields.find((f) => /live/i.test(f.name) && f.type === 'number');
      expect(live?.values[names.values.indexOf('orders')]).toBe(truth.n_live_tup);
      const row = host.getByTestId(H.tableViz).getByRole('row').filter({ hasText: 'orders' }).first();
      await expect(row).toContainText(String(truth.n_live_tup));
      // one style of column title: every column has a display name, none is a raw snake_case name
      for (const f of frame.fields) {
        expect(f.displayName ?? f.name).not.toMatch(/_/);
      }
      await expect(host.getByTestId(H.tableViz)).toContainText('Live tuples');
    }).toPass({ timeout: 60_000 });
    await shot(host, '05-table-stats');
  });

  test('invalid combinations are explained before anything runs', async ({ host, env }) => {
    await pick(host, Q.metric, 'Index scans');
    // the invalid query itself never reaches Grafana (counting calls raced with the metric's own query)
    const invalidSent = () =>
      env.grafana.calls.some(
        (c) => c.grpc === 'QueryData' && (c.queries ?? []).some((q) => q.index !== undefined && q.table === undefined)
      );
    await pick(host, Q.option('index'), 'orders_customer_idx', /^orders_customer_idx/);
    await expect(host.getByTestId(Q.issue('index'))).toContainText('Index needs a table');
    // the previous metric's data does not stay under the message
    await expect(async () => expect((await frames(host)).length).toBe(0)).toPass({ timeout: 10_000 });
    // the picked index name is shown whole, not clipped
    await expect(host.getByTestId(Q.option('index'))).toHaveValue('orders_customer_idx');
    const clipped = await host
      .getByTestId(Q.option('index'))
      .evaluate((el) => (el as HTMLInputElement).scrollWidth > (el as HTMLInputElement).clientWidth);
    expect(clipped).toBe(false);
    await shot(host, '06-index-without-table');
    expect(invalidSent()).toBe(false);
    // fixing it runs the query
    await pick(host, Q.option('table'), 'orders', /^orders/);
    await expect(host.getByTestId(Q.issues)).toHaveCount(0);
    await expect(host.getByTestId(H.panel)).toHaveAttribute('data-state', 'Done');
  });

  test('alert rule editing refuses a table metric inline', async ({ page, env }) => {
    await page.goto(env.grafana.url + '/?app=unified-alerting');
    await page.getByTestId(H.ready).waitFor({ state: 'attached' });
    await pick(page, Q.metric, 'Top queries');
    await expect(page.getByTestId(Q.issue('metric'))).toContainText('alert rules need a time series');
    await shot(page, '07-alerting-table-metric');
  });

  test('query variables list what PostgreSQL has', async ({ host, env }) => {
    const V = selectors.variableEditor;
    await pick(host, V.resource, 'Tables');
    await expect(host.getByTestId(V.filter('schema'))).toBeVisible();
    const truth = (
      await env.backend.query<{ relname: string }>('SELECT relname FROM pg_stat_user_tables ORDER BY relname')
    ).map((r) => r.relname);
    expect(truth).toEqual(['customers', 'orders']);
    await expect(async () => {
      const shown = await host.getByTestId(H.variablePreview).getByTestId(H.variableValue).allTextContents();
      expect([...shown].sort()).toEqual(truth);
    }).toPass({ timeout: 30_000 });
    await host.getByTestId(H.variables).scrollIntoViewIfNeeded();
    await shot(host, '08-variable-tables');
  });

  test('annotations show an index created while the sidecar samples', async ({ host, env }) => {
    const [{ t0 }] = await env.backend.query<{ t0: Date }>('SELECT now() AS t0');
    await env.backend.query('CREATE INDEX orders_note_idx ON orders (note)');
    const [{ t1 }] = await env.backend.query<{ t1: Date }>('SELECT now() AS t1');
    const event = host.getByTestId(H.annotation).filter({ hasText: 'orders_note_idx' });
    await expect(async () => {
      await host.getByTestId(H.runAnnotations).click();
      await expect(event).toHaveCount(1, { timeout: 2_000 });
    }).toPass({ timeout: 60_000 });
    // the event is placed when the sidecar saw the index: after it was created, not before
    const at = Number(await event.getAttribute('data-time'));
    expect(at).toBeGreaterThanOrEqual(t0.getTime() - 1_000);
    const [{ now }] = await env.backend.query<{ now: Date }>('SELECT now()');
    expect(at).toBeLessThanOrEqual(now.getTime() + 1_000);
    expect(t1.getTime()).toBeGreaterThanOrEqual(t0.getTime());
    await expect(event).toContainText('index');
    await host.getByTestId(H.annotations).scrollIntoViewIfNeeded();
    await shot(host, '09-annotations-index-created');
  });

  test('a dashboard variable in the table picker is replaced before the query runs', async ({ page, env }) => {
    await page.goto(env.grafana.url + '/?var-tbl=orders');
    await page.getByTestId(H.ready).waitFor({ state: 'attached' });
    await pick(page, Q.metric, 'Dead tuples');
    await pick(page, Q.option('table'), '$tbl', /^\$tbl/);
    await expect(page.getByTestId(Q.option('table'))).toHaveValue('$tbl');
    await expect(async () => {
      await page.getByTestId(H.refresh).click();
      await expect(page.getByTestId(H.panel)).toHaveAttribute('data-state', 'Done');
      const truth = await tableTruth(env.backend.query, 'orders');
      const series = (await frames(page)).flatMap((f) => f.fields.filter((x) => x.type === 'number'));
      expect(series.map((x) => x.labels.relname)).toEqual(['orders']);
      expect(lastNumber(series[0].values)).toBe(truth.n_dead_tup);
    }).toPass({ timeout: 60_000 });
    // what went over the wire is the interpolated value, never the variable
    const last = env.grafana.calls.filter((c) => c.grpc === 'QueryData').pop()!;
    expect(last.queries?.[0]).toMatchObject({ metric: 'dead_tuples', table: 'orders' });
    await shot(page, '10-template-variable');
  });
});
