/**
 * The health report as one self-contained HTML file to share: inline CSS, charts as inline SVG,
 * no script, nothing fetched from the network. Numbers are the report's own (the same as
 * `--format json`); the charts plot the API's series over the report window.
 */
import type { Frame } from '../../model/frames';
import type { AdvisorClient } from './support';
import { fmt as fmtValue, type HealthReport } from './report';

export interface ChartSeries {
  label: string;
  points: Array<[number, number | null]>;
}

export interface Chart {
  id: string;
  title: string;
  unit: 'ratio' | 'rate' | 'count' | 's';
  series: ChartSeries[];
}

const CHARTS: Array<{ id: string; title: string; unit: Chart['unit'] }> = [
  { id: 'cache_hit_ratio', title: 'Cache hit ratio', unit: 'ratio' },
  { id: 'tps', title: 'Transactions per second', unit: 'rate' },
  { id: 'connections', title: 'Connections by state', unit: 'count' },
  { id: 'longest_query_seconds', title: 'Longest query (s)', unit: 's' },
];

function seriesOf(frames: Frame[]): ChartSeries[] {
  return frames.map((f) => {
    const t = f.fields.find((x) => x.type === 'time');
    const v = f.fields.find((x) => x.type === 'number');
    const label = v?.config?.displayNameFromDS ?? v?.config?.displayName ?? f.name ?? '';
    return {
      label,
      points: (t?.values ?? []).map((ts, i) => [
        Number(ts),
        typeof v?.values[i] === 'number' ? (v.values[i] as number) : null,
      ]),
    };
  });
}

export async function reportCharts(client: AdvisorClient, target: string, from: number, to: number): Promise<Chart[]> {
  const res = await client.query(
    target,
    from,
    to,
    CHARTS.map((c) => ({ refId: c.id, metric: c.id, maxDataPoints: 120 }))
  );
  return CHARTS.map((c) => ({ ...c, series: seriesOf(res[c.id]?.frames ?? []) }));
}

export const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string
  );

function fmtAxis(v: number, unit: Chart['unit']): string {
  if (unit === 'ratio') {
    return `${(v * 100).toFixed(1)}%`;
  }
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toFixed(2)).toString();
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** A line chart: one polyline per series, broken at gaps (null stays a gap, never a zero). */
export function svgChart(c: Chart, from: number, to: number, w = 640, h = 180): string {
  const pad = { l: 56, r: 10, t: 10, b: 22 };
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1]).filter((v): v is number => v !== null));
  if (ys.length === 0) {
    return `<p class="muted">no data in this window</p>`;
  }
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (c.unit === 'ratio') {
    hi = Math.min(1, Math.max(hi, lo + 0.001));
  }
  if (hi === lo) {
    hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  }
  lo = c.unit === 'ratio' ? lo : Math.min(0, lo);
  const x = (t: number) => pad.l + ((t - from) / Math.max(1, to - from)) * (w - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  const paths = c.series.slice(0, COLORS.length).map((s, i) => {
    const segs: string[] = [];
    let cur: string[] = [];
    for (const [t, v] of s.points) {
      if (v === null) {
        if (cur.length) {
          segs.push(cur.join(' '));
        }
        cur = [];
      } else {
        cur.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      }
    }
    if (cur.length) {
      segs.push(cur.join(' '));
    }
    return segs
      .map((pts) =>
        pts.includes(' ')
          ? `<polyline fill="none" stroke="${COLORS[i]}" stroke-width="1.5" points="${pts}"/>`
          : `<circle r="2" fill="${COLORS[i]}" cx="${pts.split(',')[0]}" cy="${pts.split(',')[1]}"/>`
      )
      .join('');
  });
  const time = (t: number) => new Date(t).toISOString().slice(11, 16);
  const legend = c.series
    .slice(0, COLORS.length)
    .map((s, i) => `<span><i style="background:${COLORS[i]}"></i>${esc(s.label)}</span>`)
    .join(' ');
  return (
    `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${esc(c.title)}">` +
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#999"/>` +
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="#999"/>` +
    `<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end">${esc(fmtAxis(hi, c.unit))}</text>` +
    `<text x="${pad.l - 4}" y="${h - pad.b}" text-anchor="end">${esc(fmtAxis(lo, c.unit))}</text>` +
    `<text x="${pad.l}" y="${h - 6}">${time(from)}</text><text x="${w - pad.r}" y="${h - 6}" text-anchor="end">${time(to)} UTC</text>` +
    paths.join('') +
    `</svg><div class="legend">${legend}</div>`
  );
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px ui-monospace,monospace}pre{background:#f6f6f6;padding:8px;overflow:auto}
.muted{color:#777}.critical{color:#b00}.warning{color:#a60}.info{color:#06c}svg text{font:11px sans-serif;fill:#555}
.legend span{margin-right:1em;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.score{font-size:1.3em;font-weight:bold}`;

/** One document for one or more targets' reports. */
export function reportHtml(items: Array<{ report: HealthReport; charts: Chart[] }>): string {
  const title = `pgpulse health report — ${items.map((i) => i.report.target).join(', ')}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<style>${CSS}</style></head><body>`,
    ...items.map(
      (i) => `<section data-target="${esc(i.report.target)}">\n${reportSection(i.report, i.charts)}\n</section>`
    ),
    '</body></html>',
    '',
  ].join('\n');
}

function reportSection(r: HealthReport, charts: Chart[]): string {
  const from = Date.parse(r.window.from);
  const to = Date.parse(r.window.to);
  const h: string[] = [];
  h.push(`<h1>pgpulse health report — ${esc(r.target)}</h1>`);
  h.push(
    `<p class="muted">Window ${esc(r.window.from)} → ${esc(r.window.to)} · generated ${esc(r.generatedAt)} · findings evaluated ${esc(r.evaluatedAt ?? 'never')}</p>`
  );
  h.push(
    `<p><span class="score" data-health-score="${r.healthScore}">Health score ${r.healthScore}/100</span> — ${r.counts.critical ?? 0} critical, ${r.counts.warning ?? 0} warning, ${r.counts.info ?? 0} info</p>`
  );
  h.push('<h2>Numbers</h2><table><tr><th>Metric</th><th>Value</th><th>How</th></tr>');
  for (const m of r.metrics) {
    h.push(
      `<tr data-metric="${esc(m.id)}" data-value="${m.value ?? ''}"><td>${esc(m.label)}</td><td class="n">${esc(fmtValue(m.value, m.unit))}</td><td class="muted">${esc(m.how)}</td></tr>`
    );
  }
  h.push('</table>');
  for (const c of charts) {
    h.push(`<h2>${esc(c.title)}</h2>`, svgChart(c, from, to));
  }
  h.push('<h2>Top statements by total time</h2>');
  if (r.topQueries.length === 0) {
    h.push('<p class="muted">no statements in this window</p>');
  } else {
    h.push('<table><tr><th>queryid</th><th>calls</th><th>total ms</th><th>mean ms</th><th>query</th></tr>');
    for (const q of r.topQueries) {
      h.push(
        `<tr data-queryid="${esc(q.queryid)}"><td><code>${esc(q.queryid)}</code></td><td class="n">${q.calls}</td><td class="n">${q.total_ms.toFixed(0)}</td><td class="n">${q.mean_ms === null ? '' : q.mean_ms.toFixed(2)}</td><td><code>${esc(q.query)}</code></td></tr>`
      );
    }
    h.push('</table>');
  }
  h.push('<h2>Findings</h2>');
  if (r.findings.length === 0) {
    h.push('<p>No open findings.</p>');
  }
  for (const f of r.findings) {
    const fix = f.fix as { sql?: string; setting?: string; caveat?: string };
    const ev = f.evidence as { values: Record<string, unknown>; window: { description: string } };
    h.push(`<h3 class="${esc(f.severity)}" data-finding="${esc(f.id)}">[${esc(f.severity)}] ${esc(f.title)}</h3><ul>`);
    h.push(`<li>id <code>${esc(f.id)}</code> · ${esc(f.category)} · ${esc(f.object)}</li>`);
    h.push(
      `<li>evidence: ${esc(
        Object.entries(ev.values ?? {})
          .filter(([, v]) => v !== null && v !== '')
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')
      )} (${esc(ev.window?.description)})</li>`
    );
    h.push(`<li>impact: ${esc(f.impact)}</li>`);
    if (fix.setting) {
      h.push(`<li>setting: ${esc(fix.setting)}</li>`);
    }
    if (fix.caveat) {
      h.push(`<li>caveat: ${esc(fix.caveat)}</li>`);
    }
    h.push('</ul>');
    if (fix.sql) {
      h.push(`<pre>${esc(fix.sql)}</pre>`);
    }
  }
  for (const n of r.notes) {
    h.push(`<p class="muted">note: ${esc(n)}</p>`);
  }
  return h.join('\n');
}
