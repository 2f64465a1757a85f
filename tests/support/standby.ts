/**
 * A real streaming standby of a test server, on loopback: a base backup taken online with the
 * low-level API (pg_backup_start / pg_backup_stop; PG14: pg_start_backup / pg_stop_backup
 * non-exclusive) and a copy of the data directory, then started with standby.signal,
 * primary_conninfo and a physical slot — what `pg_basebackup -R -S` does. The low-level API
 * because the embedded builds of tests/support/pg-matrix.ts ship initdb and postgres only, no
 * pg_basebackup, and Debian's pg_basebackup 15 refuses newer servers.
 *
 * The primary needs nothing beyond initdb's defaults: wal_level replica, max_wal_senders 10, and
 * pg_hba.conf's `host replication all 127.0.0.1/32` line (trust, as tests/support/pg.ts inits).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { postgresUser, startPostgres, type TestPostgres } from './pg';
import { sleep } from './wait';

export interface TestStandby {
  /** the standby's superuser handle (hot standby: read-only queries) */
  pg: TestPostgres;
  /** application_name it connects with: its row in the primary's pg_stat_replication */
  applicationName: string;
  /** its physical slot on the primary */
  slotName: string;
  /** pg_wal_replay_pause(), returning once pg_get_wal_replay_pause_state() says paused */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** until the primary's current LSN is received, replayed and reported back in pg_stat_replication */
  waitCaughtUp(): Promise<void>;
  /** fast shutdown: its walsender exits and the slot on the primary becomes inactive */
  stop(): Promise<void>;
  /** stop, remove the data directory and drop the slot on the primary */
  destroy(): Promise<void>;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`standby: ${what} did not happen within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/** files a base backup leaves out (the documented list): the standby recreates them */
const EXCLUDE = [
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'tablespace_map',
  'standby.signal',
  'recovery.signal',
  'log/*',
].concat(
  ['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans'].map(
    (d) => `${d}/*`
  )
);

function copyDataDir(from: string, to: string): void {
  const user = postgresUser();
  const excludes = EXCLUDE.map((e) => `--exclude='./${e}'`).join(' ');
  // the primary keeps running: files may change or vanish while tar reads them (exit status 1),
  // which the WAL replayed from the backup's start LSN repairs — that is what the backup API is for
  const script = `tar -C '${from}' ${excludes} --warning=no-file-changed --warning=no-file-removed --ignore-failed-read -cf - . | tar -C '${to}' -xf -; s=("\${PIPESTATUS[@]}"); [ "\${s[0]}" -le 1 ] && [ "\${s[1]}" -eq 0 ]`;
  const r = spawnSync('bash', ['-c', script], { ...user, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`standby: copying ${from} failed (${r.status}): ${r.stderr}`);
  }
  const status = join(to, 'pg_wal', 'archive_status');
  mkdirSync(status, { recursive: true });
  chownSync(status, user.uid, user.gid);
  // the server refuses a data directory others can read
  chmodSync(to, 0o700);
}

export async function startStandby(
  primary: TestPostgres,
  opts: { version: number; binDir?: string; name: string; settings?: Record<string, string> }
): Promise<TestStandby> {
  const slotName = `${opts.name}_slot`;
  const applicationName = opts.name;
  const user = postgresUser();
  // reserved now: the slot keeps every WAL segment from before the backup's start until the standby streams
  await primary.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [slotName]);

  const fillDataDir = async (dataDir: string) => {
    const c = new Client({ connectionString: primary.url });
    await c.connect();
    try {
      const v15 = opts.version >= 15;
      // non-exclusive backup: the session that starts it must stop it
      await c.query(
        v15 ? 'SELECT pg_catalog.pg_backup_start($1, true)' : 'SELECT pg_catalog.pg_start_backup($1, true, false)',
        [opts.name]
      );
      copyDataDir(primary.dataDir, dataDir);
      const stop = await c.query<{ labelfile: string; spcmapfile: string | null }>(
        v15
          ? 'SELECT labelfile, spcmapfile FROM pg_catalog.pg_backup_stop(true)'
          : 'SELECT labelfile, spcmapfile FROM pg_catalog.pg_stop_backup(false, true)'
      );
      const files: Record<string, string> = { backup_label: stop.rows[0].labelfile, 'standby.signal': '' };
      if (stop.rows[0].spcmapfile) {
        files.tablespace_map = stop.rows[0].spcmapfile;
      }
      for (const [name, text] of Object.entries(files)) {
        const p = join(dataDir, name);
        writeFileSync(p, text, { mode: 0o600 });
        chownSync(p, user.uid, user.gid);
      }
    } finally {
      await c.end();
    }
  };

  let standby: TestPostgres;
  try {
    standby = await startPostgres({
      version: opts.version,
      binDir: opts.binDir,
      fillDataDir,
      settings: {
        primary_conninfo: `host=127.0.0.1 port=${primary.port} user=postgres application_name=${applicationName}`,
        primary_slot_name: slotName,
        hot_standby: 'on',
        // the standby reports its positions every second, not every 10 s: pg_stat_replication
        // catches up within a second of replay (tests wait for it rather than sleep)
        wal_receiver_status_interval: '1s',
        ...opts.settings,
      },
    });
  } catch (e) {
    await primary.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [slotName]).catch(() => undefined);
    throw e;
  }

  const lsnRow = async () =>
    (
      await primary.query<{ current: string; replay: string | null; state: string | null }>(
        `SELECT pg_catalog.pg_current_wal_lsn()::text AS current, r.replay_lsn::text AS replay, r.state
         FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_stat_replication r ON r.application_name = $1`,
        [applicationName]
      )
    )[0];
  const waitCaughtUp = async () => {
    await until('catching up with the primary', async () => {
      const p = await lsnRow();
      if (p.state !== 'streaming' || p.replay !== p.current) {
        return undefined;
      }
      const s = (
        await standby.query<{ recv: string | null; replay: string | null }>(
          'SELECT pg_catalog.pg_last_wal_receive_lsn()::text AS recv, pg_catalog.pg_last_wal_replay_lsn()::text AS replay'
        )
      )[0];
      return s.recv === p.current && s.replay === p.current ? true : undefined;
    });
  };
  await waitCaughtUp();

  const stop = async () => {
    await standby.stop();
    await until('its slot becoming inactive', async () => {
      const r = await primary.query<{ active: boolean }>(
        'SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
        [slotName]
      );
      return r.length === 0 || !r[0].active ? true : undefined;
    });
  };

  return {
    pg: standby,
    applicationName,
    slotName,
    pauseReplay: async () => {
      await standby.query('SELECT pg_catalog.pg_wal_replay_pause()');
      // replay pauses before the next record it applies: a commit record on the primary gives it one
      await until('replay pausing', async () => {
        const s = (
          await standby.query<{ state: string }>('SELECT pg_catalog.pg_get_wal_replay_pause_state() AS state')
        )[0].state;
        if (s === 'paused') {
          return true;
        }
        await primary.query('SELECT pg_catalog.txid_current()');
        return undefined;
      });
    },
    resumeReplay: async () => {
      await standby.query('SELECT pg_catalog.pg_wal_replay_resume()');
    },
    waitCaughtUp,
    stop,
    destroy: async () => {
      await stop().catch(() => undefined);
      await standby.destroy();
      await primary.query(
        'SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
        [slotName]
      );
    },
  };
}
