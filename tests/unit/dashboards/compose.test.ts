/**
 * docker-compose.yaml, checked structurally (no Docker engine here): mounted paths exist, the
 * environment names are the ones the sidecar and Grafana read, and addresses and ports agree
 * across compose, the Grafana ini, the provisioning files and the sidecar image.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PLUGIN_ID, ROOT, readRepoFile, readYaml } from './helpers';

const compose = readYaml('docker-compose.yaml');
const svc = compose.services;

/** Compose's ${VAR:-default} as the value compose would use with nothing set in the environment. */
function resolveDefault(v: unknown): string {
  return String(v).replace(/\$\{(\w+)(:-([^}]*))?\}/g, (_m, _n, _d, def) => def ?? '');
}

function envOf(service: string): Record<string, string> {
  const e = svc[service].environment ?? {};
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, resolveDefault(v)]));
}

function port(addr: string): number {
  const m = /:(\d+)$/.exec(addr);
  assert.ok(m, `${addr} has a port`);
  return Number(m[1]);
}

/** Every environment variable name the sidecar's source reads, found by scanning it. */
function sidecarEnvNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) {
        walk(p);
      } else if (p.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/\b(PGPULSE_[A-Z_]+|DATABASE_URL)\b/g)) {
          names.add(m[1]);
        }
      }
    }
  };
  walk(join(ROOT, 'src', 'sidecar'));
  return names;
}

/** `[section] key = value` pairs of an ini file. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) {
      continue;
    }
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      out[section] = out[section] ?? {};
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv) {
      (out[section] = out[section] ?? {})[kv[1]] = kv[2];
    }
  }
  return out;
}

/** Grafana's GF_<SECTION>_<KEY> override name for an ini key. */
function grafanaEnvKey(section: string, key: string): string {
  return `GF_${section}_${key}`.toUpperCase().replace(/[.-]/g, '_');
}

function binds(service: string): Array<{ source: string; target: string }> {
  return (svc[service].volumes ?? []).map((v: string) => {
    const [source, target] = v.split(':');
    return { source, target };
  });
}

describe('docker-compose.yaml', () => {
  it('has the six services, and the ones others wait for have healthchecks', () => {
    for (const s of ['postgres', 'sidecar', 'grafana', 'workload', 'plugin', 'prometheus']) {
      assert.ok(svc[s], `service ${s}`);
    }
    for (const [name, s] of Object.entries<any>(svc)) {
      for (const [dep, cond] of Object.entries<any>(s.depends_on ?? {})) {
        assert.ok(svc[dep], `${name} depends on unknown ${dep}`);
        assert.ok(
          ['service_healthy', 'service_started', 'service_completed_successfully'].includes(cond.condition),
          `${name} → ${dep}: condition`
        );
        if (cond.condition === 'service_healthy') {
          assert.ok(svc[dep].healthcheck?.test, `${dep} needs a healthcheck: ${name} waits for it`);
        }
      }
    }
    assert.equal(svc.sidecar.depends_on.postgres.condition, 'service_healthy');
    assert.equal(svc.workload.depends_on.postgres.condition, 'service_healthy');
    assert.equal(svc.grafana.depends_on.sidecar.condition, 'service_healthy');
    assert.equal(svc.grafana.depends_on.plugin.condition, 'service_completed_successfully');
  });

  it('every bind-mounted path exists in the repository; named volumes are declared', () => {
    for (const name of Object.keys(svc)) {
      for (const { source } of binds(name)) {
        if (source.startsWith('./')) {
          assert.ok(existsSync(join(ROOT, source)), `${name}: ${source} does not exist`);
        } else {
          assert.ok(source in (compose.volumes ?? {}), `${name}: volume ${source} is not declared`);
        }
      }
    }
  });

  it('Grafana: pinned image, our plugin in its plugin folder, unsigned loading allowed for our id, provisioning mounted', () => {
    assert.match(svc.grafana.image, /^grafana\/grafana:\d+\.\d+\.\d+$/, 'a pinned x.y.z tag');
    const pluginMount = binds('grafana').find((b) => b.target === `/var/lib/grafana/plugins/${PLUGIN_ID}`);
    assert.ok(pluginMount, 'plugin folder mounted under its id');
    // the plugin volume is filled from the sidecar image's dist/ by the plugin service
    const filler = binds('plugin').find((b) => b.source === pluginMount.source);
    assert.ok(filler, 'plugin service writes the same volume');
    assert.equal(svc.plugin.image, svc.sidecar.image, 'plugin service uses the image built from this repo');
    assert.match(svc.plugin.entrypoint.join(' '), /\/app\/dist\/\./);
    const env = envOf('grafana');
    assert.ok(env.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS.split(',').includes(PLUGIN_ID));
    assert.ok(binds('grafana').some((b) => b.source === './provisioning' && b.target === '/etc/grafana/provisioning'));
  });

  it('the Dockerfile builds the sidecar image the way the compose file expects', () => {
    assert.equal(svc.sidecar.build, '.');
    const df = readRepoFile('Dockerfile');
    const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(
      froms.length > 0 && froms.every((f) => /^node:24-/.test(f)),
      `every stage on Node 24 LTS: ${froms.join(', ')}`
    );
    const users = [...df.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    assert.ok(
      users.length > 0 && !['root', '0'].includes(users.at(-1)!),
      'the runtime stage runs as an unprivileged user'
    );
    assert.ok(df.lastIndexOf('USER ') > df.lastIndexOf('FROM '), 'USER is set in the final stage');
    assert.match(df, /RUN npm ci/);
    assert.match(df, /npm run build/);
    assert.match(df, /CMD \["node", "--liftoff-only", "--max-semi-space-size=2", "bin\/pgpulse\.js", "serve"\]/);
    assert.match(df, /WORKDIR \/app/, 'dist/ ends up in /app/dist, where the plugin service copies it from');
    const exposed = [...df.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => m[1].split(/\s+/)).map(Number);
    const env = envOf('sidecar');
    for (const k of ['PGPULSE_HTTP_ADDR', 'PGPULSE_GRPC_ADDR']) {
      assert.ok(exposed.includes(port(env[k])), `Dockerfile EXPOSEs the ${k} port`);
    }
  });

  it('sidecar: only environment names the sidecar reads', () => {
    const known = sidecarEnvNames();
    const env = envOf('sidecar');
    for (const k of ['DATABASE_URL', 'PGPULSE_TOKEN', 'PGPULSE_HTTP_ADDR', 'PGPULSE_GRPC_ADDR', 'PGPULSE_DATA_DIR']) {
      assert.ok(k in env, `sidecar sets ${k}`);
    }
    for (const k of Object.keys(env)) {
      assert.ok(known.has(k), `sidecar env ${k} is not read anywhere in src/sidecar`);
    }
    for (const k of ['PGPULSE_HTTP_ADDR', 'PGPULSE_GRPC_ADDR']) {
      assert.match(env[k], /^0\.0\.0\.0:\d+$/, `${k} listens on all interfaces inside the container`);
    }
    const dataDir = env.PGPULSE_DATA_DIR;
    assert.ok(
      binds('sidecar').some((b) => b.target === dataDir && !b.source.startsWith('./')),
      'PGPULSE_DATA_DIR is a named volume'
    );
  });

  it('Grafana reaches the sidecar: sidecar_address (ini and env override) = the sidecar service and its gRPC port', () => {
    const iniMount = binds('grafana').find((b) => b.target === '/etc/grafana/grafana.ini');
    assert.ok(iniMount, 'grafana.ini mounted');
    const ini = parseIni(readFileSync(join(ROOT, iniMount.source), 'utf8'));
    const section = `plugin.${PLUGIN_ID}`;
    const addr = ini[section]?.sidecar_address;
    assert.ok(addr, `[${section}] sidecar_address`);
    const envKey = grafanaEnvKey(section, 'sidecar_address');
    const env = envOf('grafana');
    assert.ok(
      envKey in env,
      `${envKey} set (it overrides the ini key Grafana passes to the plugin as GF_PLUGIN_SIDECAR_ADDRESS)`
    );
    for (const a of [addr, env[envKey]]) {
      const [host] = a.split(':');
      assert.equal(host, 'sidecar', `${a}: the sidecar service name`);
      assert.equal(port(a), port(envOf('sidecar').PGPULSE_GRPC_ADDR), `${a}: the sidecar's PGPULSE_GRPC_ADDR port`);
    }
  });

  it('healthchecks and published ports agree with the sidecar HTTP address', () => {
    const httpPort = port(envOf('sidecar').PGPULSE_HTTP_ADDR);
    assert.ok(svc.sidecar.healthcheck.test.join(' ').includes(`:${httpPort}/healthz`));
    assert.ok(svc.sidecar.ports.some((p: string) => p.endsWith(`:${httpPort}`)));
    assert.ok(svc.grafana.ports.some((p: string) => p.endsWith(':3000')));
  });

  it('the datasource token and the alert webhook come from Grafana env the sidecar agrees with', () => {
    const gEnv = envOf('grafana');
    const ds = readYaml('provisioning/datasources/pgpulse.yaml').datasources[0];
    assert.equal(ds.type, PLUGIN_ID);
    assert.equal(ds.uid, 'pgpulse');
    assert.equal(ds.jsonData.target, 'default', 'DATABASE_URL is the target named default');
    const tokenVar = /^\$\{?(\w+)\}?$/.exec(ds.secureJsonData.token)?.[1];
    assert.ok(tokenVar && tokenVar in gEnv, `secureJsonData.token reads ${ds.secureJsonData.token}, set on grafana`);
    assert.equal(gEnv[tokenVar], envOf('sidecar').PGPULSE_TOKEN, 'Grafana sends the token the sidecar expects');
    assert.ok(!JSON.stringify(ds.jsonData).toLowerCase().includes('token'), 'the token is never in jsonData');
    // every $VAR a provisioning file references is set on the grafana service
    for (const f of ['provisioning/datasources/pgpulse.yaml', 'provisioning/alerting/notifications.yaml']) {
      const text = readRepoFile(f)
        .split('\n')
        .filter((l) => !l.trim().startsWith('#'))
        .join('\n');
      for (const m of text.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g)) {
        assert.ok(m[1] in gEnv, `${f} reads $${m[1]}: set it on grafana`);
      }
    }
    assert.ok(gEnv.PGPULSE_ALERT_WEBHOOK_URL.startsWith('http'), 'a default so provisioning never gets an empty URL');
  });

  it('Prometheus scrapes the sidecar with its token, and Grafana has it as the datasource the Fleet dashboard asks for', () => {
    const prom = svc.prometheus;
    assert.match(prom.image, /^prom\/prometheus:v\d+\.\d+\.\d+$/, 'a pinned Prometheus');
    const configMount = binds('prometheus').find((b) => b.target === '/etc/prometheus/prometheus.yml');
    assert.ok(configMount, 'the scrape config is mounted where the entrypoint reads it');
    const config = readYaml(configMount.source.replace(/^\.\//, ''));
    const job = config.scrape_configs.find((j: any) => j.job_name === 'pgpulse');
    const httpPort = port(envOf('sidecar').PGPULSE_HTTP_ADDR);
    assert.deepEqual(job.static_configs[0].targets, [`sidecar:${httpPort}`], "the sidecar service's HTTP port");
    assert.equal(job.metrics_path, '/metrics');
    assert.equal(job.authorization.type, 'Bearer');
    // the entrypoint writes the token file from the environment, which carries the sidecar's token
    const entry = prom.entrypoint.join(' ');
    assert.ok(entry.includes(`> ${job.authorization.credentials_file}`), entry);
    assert.ok(entry.includes(`--config.file=${configMount.target}`), entry);
    assert.equal(envOf('prometheus').PGPULSE_TOKEN, envOf('sidecar').PGPULSE_TOKEN);
    const dataDir = binds('prometheus').find((b) => job.authorization.credentials_file.startsWith(b.target + '/'));
    assert.ok(
      dataDir && compose.volumes && dataDir.source in compose.volumes,
      'the token file lives on the data volume'
    );
    // the scrape interval the datasource declares is the one Prometheus uses
    const ds = readYaml('provisioning/datasources/prometheus.yaml').datasources[0];
    assert.equal(ds.type, 'prometheus');
    assert.equal(ds.jsonData.timeInterval, config.global.scrape_interval);
    assert.equal(new URL(ds.url).hostname, 'prometheus');
    assert.ok(svc.prometheus.healthcheck.test.join(' ').includes(`:${new URL(ds.url).port}/`));
    assert.notEqual(ds.isDefault, true, 'pgpulse stays the default datasource');
    // the Fleet dashboard's datasource variable lists datasources of this type
    const fleet = JSON.parse(readRepoFile('provisioning/dashboards/fleet.json'));
    const dsVar = fleet.templating.list.find((v: any) => v.type === 'datasource');
    assert.equal(dsVar.query, ds.type);
    assert.ok(svc.grafana.depends_on.prometheus, 'Grafana starts after Prometheus');
  });

  it('dashboards provider reads the generated JSON where it is mounted', () => {
    const provider = readYaml('provisioning/dashboards/pgpulse.yaml').providers[0];
    assert.equal(provider.options.path, '/etc/grafana/provisioning/dashboards');
    assert.ok(readdirSync(join(ROOT, 'provisioning/dashboards')).some((f) => f.endsWith('.json')));
    assert.equal(
      envOf('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH,
      '/etc/grafana/provisioning/dashboards/overview.json'
    );
    assert.ok(existsSync(join(ROOT, 'provisioning/dashboards/overview.json')));
  });

  it('postgres: pgvector image, pg_stat_statements preloaded, init scripts create the monitoring role and extensions', () => {
    assert.match(svc.postgres.image, /^pgvector\/pgvector:/);
    const cmd = svc.postgres.command.join(' ');
    assert.match(cmd, /shared_preload_libraries=pg_stat_statements/);
    const init = binds('postgres').find((b) => b.target === '/docker-entrypoint-initdb.d');
    assert.ok(init);
    const initText = readdirSync(join(ROOT, init.source))
      .map((f) => readFileSync(join(ROOT, init.source, f), 'utf8'))
      .join('\n');
    assert.match(initText, /CREATE EXTENSION IF NOT EXISTS pg_stat_statements/);
    assert.match(initText, /CREATE EXTENSION IF NOT EXISTS vector/);
    assert.match(initText, /GRANT pg_monitor TO pgpulse/);
    // the sidecar connects as that role, to the database the init scripts prepared, on the postgres service
    const url = new URL(envOf('sidecar').DATABASE_URL);
    const pgEnv = envOf('postgres');
    assert.equal(url.hostname, 'postgres');
    assert.equal(url.username, 'pgpulse');
    assert.equal(url.pathname.slice(1), pgEnv.POSTGRES_DB);
    assert.equal(decodeURIComponent(url.password), pgEnv.PGPULSE_MONITOR_PASSWORD);
  });

  it('workload: runs the deploy/workload script against the same database', () => {
    const wEnv = envOf('workload');
    assert.equal(wEnv.PGHOST, 'postgres');
    assert.equal(wEnv.PGDATABASE, envOf('postgres').POSTGRES_DB);
    assert.equal(wEnv.PGPASSWORD, envOf('postgres').POSTGRES_PASSWORD);
    const mount = binds('workload').find((b) => svc.workload.entrypoint.join(' ').includes(b.target));
    assert.ok(mount && existsSync(join(ROOT, mount.source, 'run.sh')));
    const script = readRepoFile('deploy/workload/run.sh');
    for (const m of script.matchAll(/\$here\/([\w.-]+\.sql)/g)) {
      assert.ok(existsSync(join(ROOT, 'deploy/workload', m[1])), `${m[1]} exists`);
    }
  });

  it('parses as YAML without anchors or merge keys a plain reader would miss', () => {
    assert.doesNotThrow(() => parse(readRepoFile('docker-compose.yaml'), { merge: false }));
  });
});

describe('provisioning folders', () => {
  it('dashboards and alert rules share one folder, matched by title', () => {
    const provider = readYaml('provisioning/dashboards/pgpulse.yaml').providers[0];
    const groups = readYaml('provisioning/alerting/rules.yaml').groups;
    assert.equal(provider.folderUid, undefined, 'a folderUid would create a second folder of the same title');
    for (const g of groups) {
      assert.equal(g.folder, provider.folder);
    }
  });
});
