/**
 * The committed dashboards and alerting files are exactly what `npm run dashboards` produces, and
 * every dashboard query asks the catalog for something it offers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metrics, findMetric } from '../../../src/model/catalog';
import { queryOptionsSchema, describeQueryError } from '../../../src/model/query';
import { renderAll } from '../../../src/dashboards/generate';
import { committedDashboards, dashboardQueries, interpolate, panelsOf, PLUGIN_ID, readRepoFile } from './helpers';

const sampleVars = {
  target: 'default',
  database: 'app',
  queryid: '-1234567890123',
  wait_event: 'Lock/transactionid',
  datasource: 'pgpulse',
};
const allVars = { target: 'default', database: '*', queryid: '*', wait_event: '', datasource: 'pgpulse' };

describe('generated provisioning files', () => {
  it('are not stale: regenerating in memory gives the committed bytes', () => {
    const files = renderAll();
    assert.ok(files.length >= 8, 'six dashboards and the alerting files');
    for (const f of files) {
      let committed: string;
      try {
        committed = readRepoFile(f.path);
      } catch {
        assert.fail(`${f.path} is missing: run npm run dashboards and commit the result`);
      }
      assert.equal(committed, f.content, `${f.path} is stale: run npm run dashboards and commit the result`);
    }
  });

  it('every committed dashboard JSON is generated (no hand-made leftovers)', () => {
    const generated = new Set(renderAll().map((f) => f.path));
    for (const d of committedDashboards()) {
      assert.ok(
        generated.has(d.file),
        `${d.file} is not produced by src/dashboards: delete it or add it to generate.ts`
      );
    }
  });
});

/** The Fleet board reads Prometheus, not pgpulse: tests/unit/dashboards/fleet.test.ts checks it. */
const FLEET_UID = 'pgpulse-fleet';

describe('dashboards', () => {
  const all = committedDashboards();
  const boards = all.filter((b) => b.json.uid !== FLEET_UID);

  it('on the pgpulse datasource: all but the Fleet board', () => {
    assert.deepEqual(
      all.filter((b) => b.json.uid === FLEET_UID).map((b) => b.file),
      ['provisioning/dashboards/fleet.json']
    );
  });

  it('are the seven of the issues (Vitals and Load from issue 17), with fixed, distinct uids and the pgpulse tag', () => {
    const titles = boards.map((b) => b.json.title).sort();
    assert.deepEqual(titles, [
      'pgpulse / Indexes & tables',
      'pgpulse / Load',
      'pgpulse / Neon',
      'pgpulse / Overview',
      'pgpulse / Queries',
      'pgpulse / Vector search',
      'pgpulse / Vitals',
    ]);
    const uids = boards.map((b) => b.json.uid);
    assert.equal(new Set(uids).size, uids.length);
    for (const b of boards) {
      assert.match(b.json.uid, /^pgpulse-[a-z-]+$/, `${b.file}: uid`);
      assert.ok(b.json.tags.includes('pgpulse'), `${b.file}: tag`);
      assert.equal(b.json.id, undefined, `${b.file}: provisioned dashboards carry no numeric id`);
    }
  });

  it('link to each other through the shared tag, keeping time and variables', () => {
    for (const b of boards) {
      const link = (b.json.links ?? []).find((l: any) => l.type === 'dashboards');
      assert.ok(link, `${b.file}: dashboards link`);
      assert.deepEqual(link.tags, ['pgpulse']);
      assert.equal(link.keepTime, true);
      assert.equal(link.includeVars, true);
      // every other dashboard is reachable: it carries the tag the link lists
      for (const other of boards) {
        assert.ok(other.json.tags.includes(link.tags[0]));
      }
    }
  });

  it('have the datasource, target and database variables (Queries also queryid) wired to pgpulse', () => {
    for (const b of boards) {
      const vars = Object.fromEntries((b.json.templating?.list ?? []).map((v: any) => [v.name, v]));
      assert.equal(vars.datasource?.type, 'datasource', `${b.file}: datasource variable`);
      assert.equal(vars.datasource.query, PLUGIN_ID);
      assert.equal(vars.datasource.current.value, 'pgpulse');
      for (const name of ['target', 'database']) {
        assert.equal(vars[name]?.type, 'query', `${b.file}: ${name} variable`);
        assert.deepEqual(vars[name].datasource, { type: PLUGIN_ID, uid: '${datasource}' });
      }
      assert.equal(vars.target.query.resource, 'targets');
      assert.equal(vars.database.query.resource, 'databases');
      assert.equal(vars.database.query.target, '$target');
      assert.equal(vars.database.allValue, '*');
      if (b.json.uid === 'pgpulse-queries') {
        assert.equal(vars.queryid?.query.resource, 'queryids');
        assert.equal(vars.queryid.query.database, '$database');
      }
    }
  });

  it('every panel says what its number means and over which window', () => {
    for (const b of boards) {
      for (const p of panelsOf(b.json)) {
        if (p.type === 'row' || p.type === 'text') {
          continue;
        }
        const metric = p.targets?.[0]?.metric;
        const def = findMetric(metric);
        assert.ok(def, `${b.file} panel "${p.title}": metric ${metric}`);
        assert.ok(
          p.description.startsWith(def.description),
          `${b.file} panel "${p.title}": description starts with the catalog text`
        );
        assert.match(p.description, /Window: /, `${b.file} panel "${p.title}": window sentence`);
      }
    }
  });

  it('panel ids are unique per dashboard and panels do not overlap on the grid', () => {
    for (const b of boards) {
      const ps = panelsOf(b.json);
      const ids = ps.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${b.file}: duplicate panel id`);
      for (let i = 0; i < ps.length; i++) {
        for (let j = i + 1; j < ps.length; j++) {
          const a = ps[i].gridPos;
          const c = ps[j].gridPos;
          const overlap = a.x < c.x + c.w && c.x < a.x + a.w && a.y < c.y + c.h && c.y < a.y + a.h;
          assert.ok(!overlap, `${b.file}: panels "${ps[i].title}" and "${ps[j].title}" overlap`);
        }
        assert.ok(ps[i].gridPos.x + ps[i].gridPos.w <= 24, `${b.file}: "${ps[i].title}" wider than the grid`);
      }
    }
  });

  it('every dashboard query uses a catalog metric with only the options that metric takes', () => {
    const qs = dashboardQueries();
    assert.ok(qs.length > 20);
    for (const { where, query } of qs) {
      const def = findMetric(String(query.metric));
      assert.ok(def, `${where}: metric ${String(query.metric)} is not in the catalog`);
      for (const key of Object.keys(query)) {
        if (['refId', 'datasource', 'metric', 'target', 'hide'].includes(key)) {
          continue;
        }
        assert.ok((def.options as string[]).includes(key), `${where}: ${def.id} does not take ${key}`);
      }
      if (query.orderBy !== undefined) {
        assert.ok((def.orderBy ?? []).includes(query.orderBy as never), `${where}: orderBy ${String(query.orderBy)}`);
      }
    }
  });

  it('every dashboard query is valid for the query model once variables are set (a value or All)', () => {
    for (const { where, query } of dashboardQueries()) {
      for (const vars of [sampleVars, allVars]) {
        const q = interpolate(query, vars);
        const r = queryOptionsSchema.safeParse(q);
        assert.ok(r.success, `${where} with ${JSON.stringify(vars)}: ${r.success ? '' : describeQueryError(r.error)}`);
      }
    }
  });

  it('Vitals has a Replication row (primary and standby views) and a WAL row, each under its row header', () => {
    const vitals = boards.find((b) => b.json.title === 'pgpulse / Vitals')!.json;
    const rowOf = new Map<string, string>();
    let row = '';
    for (const p of vitals.panels) {
      if (p.type === 'row') {
        row = p.title;
      }
      for (const t of p.targets ?? []) {
        rowOf.set(t.metric, row);
      }
      for (const inner of p.panels ?? []) {
        for (const t of inner.targets ?? []) {
          rowOf.set(t.metric, p.title);
        }
      }
    }
    for (const m of [
      'replication_standbys',
      'replication_lag_bytes',
      'replication_lag_seconds',
      'standby_replay_lag_seconds',
      'replica_receive_replay_lag',
      'replica_replay_delay',
      'recovery_state',
      'replica_replay_paused',
    ]) {
      assert.equal(rowOf.get(m), 'Replication', `${m} in the Replication row`);
    }
    for (const m of ['wal_rate', 'wal_position_rate']) {
      assert.equal(rowOf.get(m), 'WAL', `${m} in the WAL row`);
    }
  });

  it('every catalog metric is on some dashboard (the catalog drives the dashboards)', () => {
    const used = new Set(dashboardQueries().map((q) => String(q.query.metric)));
    const missing = metrics.filter((m) => !used.has(m.id)).map((m) => m.id);
    assert.deepEqual(missing, []);
  });
});

describe('drill-down links', () => {
  it('queryid links open an existing dashboard that has a queryid variable, keeping time and variables', () => {
    const boards = committedDashboards();
    const byUid = Object.fromEntries(boards.map((b) => [b.json.uid, b.json]));
    let links = 0;
    for (const b of boards) {
      for (const p of panelsOf(b.json)) {
        for (const o of p.fieldConfig?.overrides ?? []) {
          for (const prop of o.properties ?? []) {
            if (prop.id !== 'links') {
              continue;
            }
            for (const l of prop.value) {
              links++;
              const m = /^\/d\/([\w-]+)\?(.*)$/.exec(l.url);
              assert.ok(m, `${b.file} "${p.title}": ${l.url}`);
              const target = byUid[m[1]];
              assert.ok(target, `${b.file} "${p.title}": links to unknown dashboard ${m[1]}`);
              const params = m[2].split('&');
              assert.ok(params.includes('${__url_time_range}'), 'keeps the time range');
              for (const param of params.filter((x) => x.startsWith('var-'))) {
                const name = param.slice(4).split('=')[0];
                assert.ok(
                  target.templating.list.some((v: any) => v.name === name),
                  `${m[1]} has variable ${name}`
                );
              }
            }
          }
        }
      }
    }
    assert.ok(links >= 4, 'the statement tables carry drill-down links');
  });
});
