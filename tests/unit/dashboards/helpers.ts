/**
 * Readers shared by the dashboard tests: the committed provisioning files and every pgpulse
 * query inside them (panel targets, annotations, alert rule data).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const PLUGIN_ID = JSON.parse(readFileSync(join(ROOT, 'plugin.json'), 'utf8')).id as string;

export function readRepoFile(rel: string): string {
  return readFileSync(join(ROOT, rel), 'utf8');
}

export function readYaml<T = any>(rel: string): T {
  return parse(readRepoFile(rel)) as T;
}

export interface CommittedDashboard {
  file: string;
  json: any;
}

export function committedDashboards(): CommittedDashboard[] {
  const dir = join(ROOT, 'provisioning', 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: `provisioning/dashboards/${f}`, json: JSON.parse(readFileSync(join(dir, f), 'utf8')) }));
}

/** Every panel, including those nested in collapsed rows. */
export function panelsOf(d: any): any[] {
  const out: any[] = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    for (const inner of p.panels ?? []) {
      out.push(inner);
    }
  }
  return out;
}

export interface FoundQuery {
  where: string;
  query: Record<string, unknown>;
}

/** Panel targets and annotation targets that go to the pgpulse datasource. */
export function dashboardQueries(): FoundQuery[] {
  const out: FoundQuery[] = [];
  for (const { file, json } of committedDashboards()) {
    for (const p of panelsOf(json)) {
      for (const t of p.targets ?? []) {
        if (t.datasource?.type === PLUGIN_ID) {
          out.push({ where: `${file} panel ${p.id} "${p.title}" ${t.refId}`, query: t });
        }
      }
    }
    for (const a of json.annotations?.list ?? []) {
      if (a.datasource?.type === PLUGIN_ID) {
        out.push({ where: `${file} annotation "${a.name}"`, query: a.target });
      }
    }
  }
  return out;
}

export function alertRules(): any[] {
  const f = readYaml('provisioning/alerting/rules.yaml');
  return (f.groups ?? []).flatMap((g: any) => g.rules ?? []);
}

/**
 * Dashboard variables replaced by values of the right shape, and an All value ("*") dropped, as
 * the frontend does before a query leaves the browser.
 */
export function interpolate(q: Record<string, unknown>, vars: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) {
    if (k === 'datasource') {
      continue;
    }
    if (typeof v === 'string') {
      const replaced = v.replace(/\$\{?(\w+)\}?/g, (m, name: string) => (name in vars ? vars[name] : m));
      // the sidecar drops an All value and an empty one (an empty text box variable) before validating
      if (replaced === '*' || replaced === '') {
        continue;
      }
      out[k] = replaced;
    } else {
      out[k] = v;
    }
  }
  return out;
}
