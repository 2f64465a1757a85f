/**
 * `pgpulse doctor`, `pgpulse advise`, `pgpulse report` and `pgpulse act`. Each returns an exit
 * code: 0 fine, 1 the check/command found a failure, 2 bad usage or configuration.
 */
import { ConfigError, loadConfig, parseDuration } from '../config';
import { oneShotLogger } from './console-log';
import { NoSidecarError, openClient, parseFlags, Progress, UsageError, type AdvisorClient } from './support';
import { diagnose, doctorText } from './doctor';
import { buildReport, postWebhook, reportMarkdown } from './report';

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}
function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
}

async function guarded(name: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UsageError) {
      err(`pgpulse ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err(e.message);
      return 2;
    }
    if (e instanceof NoSidecarError) {
      err(`pgpulse ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/** The one check of a --target against the configured names: the name, or a usage error listing them. */
function knownTarget(names: readonly string[], wanted: string): string {
  if (!names.includes(wanted)) {
    throw new UsageError(`unknown target "${wanted}": configured targets are ${names.join(', ')}`);
  }
  return wanted;
}

const targetNames = (config: { targets: Array<{ name: string }> }) => config.targets.map((t) => t.name);

function pickTargets(client: { targets: string[] }, wanted: string | undefined): string[] {
  return wanted ? [knownTarget(client.targets, wanted)] : client.targets;
}

function waitMs(v: string | undefined): number {
  if (v === undefined) {
    return 2000;
  }
  try {
    return parseDuration(v);
  } catch (e) {
    throw new UsageError(`--wait: ${(e as Error).message}`);
  }
}

export async function runDoctor(argv: string[]): Promise<number> {
  return guarded('doctor', async () => {
    const f = parseFlags(argv, ['target'], ['json']);
    const config = loadConfig(process.env);
    const wanted = f.values.get('target');
    const target = wanted ? knownTarget(targetNames(config), wanted) : undefined;
    const progress = new Progress();
    const d = await diagnose(config, target ? [target] : undefined, progress);
    out(f.bool.has('json') ? JSON.stringify({ targets: d }, null, 2) : doctorText(d));
    return d.some((t) => !t.reachable || t.checks.some((c) => c.status === 'fail')) ? 1 : 0;
  });
}

async function withClient<T>(argv: Flags, fn: (c: AdvisorClient, progress: Progress) => Promise<T>): Promise<T> {
  const progress = new Progress();
  const client = await openClient({
    progress,
    sample: !argv.bool.has('no-sample'),
    waitMs: waitMs(argv.values.get('wait')),
    noRemote: argv.bool.has('local'),
    sidecar: argv.values.get('sidecar'),
  });
  try {
    return await fn(client, progress);
  } finally {
    progress.done();
    await client.close();
  }
}
type Flags = ReturnType<typeof parseFlags>;

export async function runAdvise(argv: string[]): Promise<number> {
  return guarded('advise', async () => {
    const f = parseFlags(argv, ['target', 'wait', 'severity', 'sidecar'], ['json', 'no-sample', 'local']);
    const severity = f.values.get('severity');
    if (severity && !['critical', 'warning', 'info'].includes(severity)) {
      throw new UsageError('--severity must be critical, warning or info');
    }
    return withClient(f, async (client, progress) => {
      const results = [];
      for (const t of pickTargets(client, f.values.get('target'))) {
        progress.step(`evaluating ${t}`);
        const r = await client.recommendations(t, true);
        results.push({ target: t, ...r, findings: r.findings.filter((x) => !severity || x.severity === severity) });
      }
      progress.done();
      // like grep and linters: 1 when there is something to act on
      const code = results.some((r) => r.findings.length > 0) ? 1 : 0;
      if (f.bool.has('json')) {
        out(JSON.stringify({ source: client.mode, targets: results }, null, 2));
        return code;
      }
      for (const r of results) {
        out(
          `target ${r.target}: health score ${r.healthScore}/100, ${r.findings.length} finding(s)${client.mode === 'remote' ? ' (from the running sidecar)' : ''}`
        );
        for (const n of r.notes) {
          out(`  note: ${n}`);
        }
        for (const x of r.findings) {
          out('');
          out(`[${x.severity}] ${x.title}`);
          out(`  id: ${x.id}`);
          out(
            `  evidence: ${Object.entries(x.evidence.values as Record<string, unknown>)
              .filter(([, v]) => v !== null && v !== '')
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')}`
          );
          out(`  window: ${x.evidence.window.description}`);
          out(`  impact: ${x.impact}`);
          if (x.fix.sql) {
            out(
              `  fix:\n${String(x.fix.sql)
                .split('\n')
                .map((l: string) => `    ${l}`)
                .join('\n')}`
            );
          }
          if (x.fix.setting) {
            out(`  setting: ${x.fix.setting}`);
          }
          if (x.fix.caveat) {
            out(`  caveat: ${x.fix.caveat}`);
          }
        }
        out('');
      }
      return code;
    });
  });
}

export async function runReport(argv: string[]): Promise<number> {
  return guarded('report', async () => {
    const f = parseFlags(
      argv,
      ['target', 'format', 'window', 'webhook', 'wait', 'sidecar'],
      ['no-sample', 'local', 'json']
    );
    const format = f.bool.has('json') ? 'json' : (f.values.get('format') ?? 'md');
    if (format !== 'md' && format !== 'json' && format !== 'html') {
      throw new UsageError('--format must be md, json or html');
    }
    let windowMs = 86_400_000;
    if (f.values.get('window')) {
      try {
        windowMs = parseDuration(f.values.get('window') as string);
      } catch (e) {
        throw new UsageError(`--window: ${(e as Error).message}`);
      }
    }
    const webhook = f.values.get('webhook');
    return withClient(f, async (client, progress) => {
      const reports = [];
      for (const t of pickTargets(client, f.values.get('target'))) {
        progress.step(`building the report for ${t}`);
        reports.push(await buildReport(client, t, windowMs, true));
      }
      if (format === 'html') {
        const { reportCharts, reportHtml } = await import('./report-html');
        const items = [];
        for (const r of reports) {
          progress.step(`charts for ${r.target}`);
          items.push({
            report: r,
            charts: await reportCharts(client, r.target, Date.parse(r.window.from), Date.parse(r.window.to)),
          });
        }
        progress.done();
        out(reportHtml(items));
      } else {
        progress.done();
        out(
          format === 'json'
            ? JSON.stringify(reports.length === 1 ? reports[0] : { reports }, null, 2)
            : reports.map(reportMarkdown).join('\n---\n\n')
        );
      }
      let code = 0;
      if (webhook) {
        for (const r of reports) {
          try {
            const res = await postWebhook(webhook, r);
            err(`report for ${r.target} posted to ${res.where}: HTTP ${res.status}`);
            if (!res.ok) {
              code = 1;
            }
          } catch (e) {
            err(`report for ${r.target}: webhook failed: ${(e as Error).message}`);
            code = 1;
          }
        }
      }
      return code;
    });
  });
}

/** `pgpulse act ACTION [--pid N | --table s.t | --index s.i | --finding ID | --queryid Q --params JSON] [--execute]` — dry-run unless --execute. */
export async function runAct(argv: string[]): Promise<number> {
  return guarded('act', async () => {
    const f = parseFlags(
      argv,
      ['target', 'pid', 'table', 'index', 'finding', 'queryid', 'database', 'params'],
      ['execute', 'json']
    );
    const action = f.positional[0];
    if (!action) {
      throw new UsageError(
        'usage: pgpulse act cancel|terminate|analyze|vacuum|reindex|create_index|explain_analyze [--target T] [--pid N] [--table schema.table] [--index schema.index] [--finding ID] [--queryid Q [--database D] --params \'[42, "x"]\'] [--execute] [--json]'
      );
    }
    const pid = f.values.get('pid');
    if (pid !== undefined && !/^\d+$/.test(pid)) {
      throw new UsageError('--pid must be a process id (a whole number)');
    }
    const config = loadConfig(process.env);
    const target = knownTarget(targetNames(config), f.values.get('target') ?? config.targets[0].name);
    const { actionRunners } = await import('../actions');
    const { startSidecar } = await import('../app');
    const sc = await startSidecar({
      config,
      http: false,
      grpc: false,
      sampling: false,
      background: false,
      logger: oneShotLogger(),
    });
    try {
      const runner = actionRunners(sc).get(target);
      if (!runner) {
        throw new UsageError(`target ${target} has no action runner`);
      }
      const req: Record<string, unknown> = { action, dryRun: !f.bool.has('execute') };
      if (pid) {
        req.pid = Number(pid);
      }
      for (const k of ['table', 'index', 'finding', 'queryid', 'database']) {
        if (f.values.has(k)) {
          req[k] = f.values.get(k);
        }
      }
      const params = f.values.get('params');
      if (params !== undefined) {
        try {
          req.params = JSON.parse(params);
        } catch {
          throw new UsageError(
            '--params must be a JSON array of the values for $1, $2, …, e.g. --params \'[42, "shipped"]\''
          );
        }
      }
      const o = await runner.run(req, 'cli');
      if (f.bool.has('json')) {
        out(JSON.stringify(o, null, 2));
      } else {
        out(`${o.status}: ${o.message}`);
        if (o.sql) {
          out(o.sql);
        }
        if (o.auditId) {
          out(`(audit id ${o.auditId})`);
        }
      }
      return o.status === 'done' || o.status === 'dry_run' || o.status === 'running' ? 0 : 1;
    } finally {
      await sc.stop();
    }
  });
}
