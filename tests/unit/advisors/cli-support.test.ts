/** CLI flag parsing and the report's Markdown. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFlags, UsageError } from '../../../src/sidecar/cli/support';
import { reportMarkdown, type HealthReport } from '../../../src/sidecar/cli/report';

describe('parseFlags', () => {
  it('takes --k v, --k=v, booleans and positionals; rejects the unknown', () => {
    const f = parseFlags(['cancel', '--pid', '12', '--target=prod', '--execute'], ['pid', 'target'], ['execute']);
    assert.deepEqual(f.positional, ['cancel']);
    assert.equal(f.values.get('pid'), '12');
    assert.equal(f.values.get('target'), 'prod');
    assert.ok(f.bool.has('execute'));
    assert.throws(
      () => parseFlags(['--nope'], [], ['json']),
      (e: Error) => e instanceof UsageError && /unknown option --nope: allowed are --json/.test(e.message)
    );
    assert.throws(() => parseFlags(['--pid'], ['pid'], []), /--pid needs a value/);
  });
});

describe('reportMarkdown', () => {
  it('renders score, numbers, statements and findings with their SQL', () => {
    const r: HealthReport = {
      target: 'db',
      generatedAt: '2026-01-02T00:00:00.000Z',
      window: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z' },
      healthScore: 92,
      evaluatedAt: '2026-01-02T00:00:00.000Z',
      counts: { critical: 0, warning: 1, info: 0 },
      metrics: [
        { id: 'cache_hit_ratio', label: 'Cache hit ratio', value: 0.9912, unit: 'ratio', how: 'Δhit/(Δhit+Δread)' },
      ],
      topQueries: [{ queryid: '1', query: 'SELECT a | b FROM t', calls: 3, total_ms: 12, mean_ms: 4 }],
      findings: [
        {
          id: 'dead_tuples:public.t',
          severity: 'warning',
          category: 'maintenance',
          object: 'public.t',
          title: 'public.t is 50% dead',
          evidence: { values: { n_dead_tup: 5, x: null }, window: { description: 'latest' } },
          fix: { sql: 'VACUUM (ANALYZE) public.t;' },
          impact: 'less bloat',
          firstSeen: 0,
        },
      ],
      notes: [],
    };
    const md = reportMarkdown(r);
    assert.match(md, /\*\*Health score: 92\/100\*\* — 0 critical, 1 warning, 0 info\./);
    assert.match(md, /\| Cache hit ratio \| 99\.12% \|/);
    assert.match(md, /`SELECT a \\\| b FROM t`/, 'pipes in statements do not break the table');
    assert.match(md, /- evidence: n_dead_tup=5 \(latest\)/);
    assert.match(md, /```sql\nVACUUM \(ANALYZE\) public\.t;\n```/);
  });
});

describe('Progress', () => {
  it('draws on a terminal and stays silent otherwise', async () => {
    const { Progress } = await import('../../../src/sidecar/cli/support');
    const chunks: string[] = [];
    const fake = (isTTY: boolean) => ({ isTTY, write: (s: string) => chunks.push(s) }) as unknown as NodeJS.WriteStream;
    const tty = new Progress(fake(true));
    tty.step('sampling default');
    tty.done();
    assert.deepEqual(chunks, ['\r\x1b[2K… sampling default', '\r\x1b[2K']);
    chunks.length = 0;
    const pipe = new Progress(fake(false));
    pipe.step('sampling default');
    pipe.done();
    assert.deepEqual(chunks, []);
  });
});
