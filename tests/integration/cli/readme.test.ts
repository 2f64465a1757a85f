/**
 * README.md cannot drift: every ```sh block runs, command by command, against a real demo started
 * as the README says (`node bin/pgpulse.js demo` in a fresh directory), unless a
 * `<!-- readme-test: skip|setup — reason -->` line right above it says why it cannot (Docker,
 * placeholders, the whole suite). Every pgpulse subcommand and flag the README names anywhere must
 * exist, every environment variable it names must be read by the source, and its links stay inside
 * the repository.
 *
 * The only rewrite: the README's 127.0.0.1:7700 becomes the demo's port (this machine is shared).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HELP } from '../../../src/sidecar/cli/help';
import { freePort } from '../../support/pg';

const ROOT = resolve(__dirname, '../../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  line: number;
  lang: string;
  body: string;
  marker?: { kind: 'skip' | 'setup'; reason: string };
}

function blocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) {
      continue;
    }
    const indent = open[1].length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) {
      body.push(lines[j].slice(Math.min(indent, /^\s*/.exec(lines[j])?.[0].length ?? 0)));
    }
    const m = /<!-- readme-test: (skip|setup)\s*(?:—|-)\s*(.+?)\s*-->/.exec(lines[i - 1] ?? '');
    out.push({
      line: i + 1,
      lang: open[2],
      body: body.join('\n'),
      marker: m ? { kind: m[1] as 'skip' | 'setup', reason: m[2] } : undefined,
    });
    i = j;
  }
  return out;
}

/** One command per line; backslash-newline continues a line; comment-only lines dropped. */
const commands = (body: string) =>
  body
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

describe('README.md', () => {
  const all = blocks(README);
  let work: string;
  let demo: ChildProcess;
  let stdout = '';
  let stderr = '';
  let http: number;

  before(async () => {
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.sidecar.json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stdout + b.stderr);
    work = mkdtempSync(join(tmpdir(), 'pgpulse-readme-'));
    chmodSync(work, 0o755); // as root, the demo's PostgreSQL runs as `postgres`
    symlinkSync(join(ROOT, 'bin'), join(work, 'bin')); // a checkout, as far as the README's commands go
    http = await freePort();
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL')
    );
    demo = spawn(process.execPath, ['bin/pgpulse.js', 'demo'], {
      cwd: work,
      detached: true,
      env: {
        ...clean,
        PGPULSE_HTTP_ADDR: `127.0.0.1:${http}`,
        PGPULSE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
        PGPULSE_INTERVAL: '1s',
      },
    });
    demo.stdout?.on('data', (d) => (stdout += d));
    demo.stderr?.on('data', (d) => (stderr += d));
    // ready, and two samples in (rates need a delta)
    for (let i = 0; i < 1200; i++) {
      if (demo.exitCode !== null) {
        throw new Error(`the demo exited: ${stdout}\n${stderr}`);
      }
      if (stdout.includes('Ctrl-C stops everything') && existsSync(join(work, '.pgpulse/token'))) {
        const token = readFileSync(join(work, '.pgpulse/token'), 'utf8').trim();
        const r = await fetch(`http://127.0.0.1:${http}/api/v1/query`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({ from: 'now-5m', to: 'now', queries: [{ refId: 'A', metric: 'tps' }] }),
        }).catch(() => undefined);
        const j =
          r && r.ok
            ? ((await r.json()) as { results: { A: { frames: Array<{ data: { values: unknown[][] } }> } } })
            : undefined;
        if (j?.results.A.frames.some((f) => f.data.values[1].some((v) => typeof v === 'number'))) {
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      process.kill(-(demo.pid as number), 'SIGINT');
      await exited;
    }
    if (work) {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('every sh block runs against the demo, or says why it cannot', () => {
    const sh = all.filter((b) => b.lang === 'sh');
    let ran = 0;
    for (const b of sh) {
      if (b.marker) {
        assert.ok(b.marker.reason.length > 5, `README line ${b.line}: a ${b.marker.kind} marker needs a reason`);
        continue;
      }
      for (const cmd of commands(b.body)) {
        const line = cmd.replace(/127\.0\.0\.1:7700/g, `127.0.0.1:${http}`);
        const clean = Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !k.startsWith('PGPULSE_') && k !== 'DATABASE_URL')
        );
        const r = spawnSync('bash', ['-o', 'pipefail', '-c', line], {
          cwd: work,
          encoding: 'utf8',
          env: { ...clean, PGPULSE_HTTP_ADDR: `127.0.0.1:${http}` },
          timeout: 120_000,
        });
        // advise exits 1 when it reports findings, doctor when a check fails (documented exit codes)
        const allowed = /pgpulse\.js (advise|doctor)\b/.test(cmd) ? [0, 1] : [0];
        assert.ok(
          allowed.includes(r.status as number),
          `README line ${b.line}: \`${cmd}\` exited ${r.status}\n${r.stdout}\n${r.stderr}`
        );
        assert.doesNotMatch(
          r.stderr,
          /unknown (option|command)|refused the token|no running sidecar|\{"level"/,
          `README line ${b.line}: ${cmd}`
        );
        const redirect = /> (\S+)\s*(#.*)?$/.exec(cmd);
        if (redirect) {
          assert.ok(statSync(join(work, redirect[1])).size > 0, `README line ${b.line}: ${redirect[1]} is empty`);
        } else {
          assert.ok(r.stdout.trim().length > 0, `README line ${b.line}: \`${cmd}\` printed nothing`);
        }
        ran++;
      }
    }
    assert.ok(ran >= 8, `only ${ran} README commands ran`);
    // what the blocks produced is what they promise
    assert.match(readFileSync(join(work, 'report.html'), 'utf8'), /^<!doctype html>/);
  });

  it('every pgpulse subcommand and flag it names exists', () => {
    const uses = [
      ...README.matchAll(/(?:bin\/pgpulse\.js|pgpulse) ([a-z]+)((?: +(?:--[a-z-]+(?:[ =](?!-)[^\s`|>]+)?|[a-z]+))*)/g),
    ];
    let checked = 0;
    for (const [, sub, rest] of uses) {
      if (!['demo', 'serve', 'top', 'doctor', 'advise', 'report', 'act'].includes(sub) && !/pgpulse\.js/.test(sub)) {
        continue; // prose ("pgpulse never resets…")
      }
      assert.ok(HELP[sub], `README names a "pgpulse ${sub}" command that does not exist`);
      for (const flag of rest.match(/--[a-z-]+/g) ?? []) {
        assert.ok(HELP[sub].includes(flag), `README uses ${flag} with pgpulse ${sub}, which does not take it`);
      }
      checked++;
    }
    assert.ok(checked >= 10, `${checked} uses checked`);
    for (const line of README.split('\n').filter((l) => l.includes('npx pgpulse'))) {
      assert.match(line, /not published/, `npx pgpulse only where the README warns against it: ${line}`);
    }
  });

  it('every PGPULSE_ variable it names is read by the sidecar', () => {
    const src: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) {
          walk(join(d, e.name));
        } else if (/\.(ts|sh|go)$|^run$/.test(e.name)) {
          src.push(readFileSync(join(d, e.name), 'utf8'));
        }
      }
    };
    for (const d of ['src', 'scripts', 'tests/conformance', '.ci']) {
      walk(join(ROOT, d));
    }
    // bin/pgpulse.js reads PGPULSE_NODE_FLAGS and PGPULSE_ALLOCATOR before any compiled code runs
    const code =
      src.join('\n') +
      readFileSync(join(ROOT, 'docker-compose.yaml'), 'utf8') +
      readFileSync(join(ROOT, 'bin', 'pgpulse.js'), 'utf8');
    for (const v of new Set(README.match(/PGPULSE_[A-Z_]+/g) ?? [])) {
      assert.ok(code.includes(v), `README names ${v}, which nothing reads`);
    }
  });

  it('one name for the sidecar address, and links that stay in the repository', () => {
    assert.ok(
      !README.includes('GF_PLUGIN_SIDECAR_ADDRESS') &&
        !README.includes('GF_PLUGIN_PGPULSE_POSTGRES_DATASOURCE_SIDECAR_ADDRESS'),
      'sidecar_address is the one name; the mapping is explained once with <KEY>'
    );
    assert.match(README, /sidecar_address = /);
    assert.ok(!README.includes('../shared'), 'no pointer to documents outside the repository');
    for (const [, target] of README.matchAll(/\]\(([^)]+)\)/g)) {
      if (/^(https?:|#|mailto:)/.test(target)) {
        continue;
      }
      const file = resolve(ROOT, target.split('#')[0]);
      assert.ok(
        file.startsWith(ROOT + '/') && existsSync(file),
        `README links to ${target}: outside the repository or missing`
      );
    }
  });
});
