/**
 * ClusterReads' rules without a server (the real reads are proven in
 * tests/integration/matrix/cluster-truth.ts): who reads, who takes the read, which rows each
 * target of a server keeps, and that a failed read is not passed on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  ClusterReads,
  urlDatabase,
  type HeldLookup,
  type ServerIdentity,
} from '../../../src/sidecar/cluster/shared-reads';
import type { Collector, CollectorResult } from '../../../src/sidecar/collectors/types';
import { isStoreWriteError } from '../../../src/sidecar/store/faults';
import { Store } from '../../../src/sidecar/store/store';

const server: ServerIdentity = { systemIdentifier: '7', port: 5432, postmasterStart: 't0', role: 'mon' };
const other: ServerIdentity = { ...server, postmasterStart: 't1' };
const collector = (id: string, scope: Collector['scope']): Collector => ({
  id,
  scope,
  intervalFactor: 1,
  timeoutMs: 1000,
  unavailable: () => null,
  collect: () => Promise.reject(new Error('not used')),
});
const stmts = collector('statements', 'cluster-by-database');
const settings = collector('settings', 'cluster');
const rows: CollectorResult = {
  rows: ['a', 'b', 'c', ''].map((datname) => ({ key: { datname }, values: { calls: 1 } })),
};
const INTERVAL = 15_000;

function setup(now = 1_000_000) {
  const cr = new ClusterReads(
    [
      { name: 'A', database: 'a', intervalMs: INTERVAL },
      { name: 'B', database: 'b', intervalMs: INTERVAL },
    ],
    now
  );
  for (const t of ['A', 'B']) {
    cr.join(t, server, t.toLowerCase(), ['statements', 'settings'], INTERVAL, now);
  }
  let reads = 0;
  const read = () => {
    reads++;
    return Promise.resolve(rows);
  };
  return { cr, read, reads: () => reads };
}
/** a writable store that never held a server history */
const none = () => ({ stream: undefined, writable: true });
const dbs = (r: CollectorResult) => r.rows.map((x) => x.key.datname);

describe('ClusterReads', () => {
  it('one read per cycle: the second target takes it with its timestamp, then reads afresh next cycle', async () => {
    const { cr, read, reads } = setup();
    const a = await cr.collect('A', settings, read, 1_000_000);
    const b = await cr.collect('B', settings, read, 1_000_900);
    assert.equal(reads(), 1);
    assert.equal(b.readAtMs, 1_000_000, 'the rows are as of the read');
    assert.deepEqual(b.rows, a.rows, 'a server-wide view: the same rows for both');
    // the same target again (next cycle): never the same read twice
    await cr.collect('A', settings, read, 1_001_000);
    assert.equal(reads(), 2);
    // a read older than half the interval is not taken
    await cr.collect('B', settings, read, 1_001_000 + INTERVAL / 2);
    assert.equal(reads(), 3);
    assert.deepEqual(cr.stats().settings, { reads: 3, shared: 1 });
  });

  it("cluster-by-database: each target keeps its database's rows, the first one also the unmonitored ones", async () => {
    const { cr, read } = setup();
    assert.deepEqual(dbs(await cr.collect('B', stmts, read, 1_000_000)), ['b']);
    assert.deepEqual(dbs(await cr.collect('A', stmts, read, 1_000_100)), ['a', 'c', '']);
  });

  it('a target alone on its server keeps every row; targets of different servers share nothing', async () => {
    const { cr, read, reads } = setup();
    cr.join('B', other, 'b', ['statements'], INTERVAL, 1_000_000);
    assert.deepEqual(dbs(await cr.collect('B', stmts, read, 1_000_000)), ['a', 'b', 'c', '']);
    await cr.collect('A', stmts, read, 1_000_100);
    assert.equal(reads(), 2);
  });

  it('a target that cannot run the collector does not take rows; one not joined yet keeps its database for a while', async () => {
    const { cr, read } = setup();
    cr.join('B', server, 'b', ['settings'], INTERVAL, 1_000_000);
    assert.deepEqual(dbs(await cr.collect('A', stmts, read, 1_000_000)), ['a', 'b', 'c', '']);
    const fresh = new ClusterReads(
      [
        { name: 'A', database: 'a', intervalMs: INTERVAL },
        { name: 'B', database: 'b', intervalMs: INTERVAL },
      ],
      0
    );
    fresh.join('A', server, 'a', ['statements'], INTERVAL, 0);
    assert.deepEqual(dbs(await fresh.collect('A', stmts, read, 10)), ['a', 'c', ''], 'B may be on this server');
    assert.deepEqual(dbs(await fresh.collect('A', stmts, read, 4 * INTERVAL)), ['a', 'b', 'c', ''], 'B never came');
  });

  it("the reader's failure is its own: the other target reads itself", async () => {
    const { cr, read, reads } = setup();
    await assert.rejects(
      cr.collect('A', settings, () => Promise.reject(new Error('canceling statement due to statement timeout')), 0)
    );
    const b = await cr.collect('B', settings, read, 10);
    assert.equal(reads(), 1);
    assert.equal(b.readAtMs, 10);
  });

  it('per-database collectors and targets without a known server always read', async () => {
    const { cr, read, reads } = setup();
    await cr.collect('A', collector('tables', undefined), read, 0);
    await cr.collect('B', collector('tables', 'database'), read, 0);
    cr.join('B', undefined, '', [], INTERVAL, 0);
    await cr.collect('A', settings, read, 0);
    await cr.collect('B', settings, read, 0);
    assert.equal(reads(), 4);
  });

  it('urlDatabase: the path, else the user name (libpq default)', () => {
    assert.equal(urlDatabase('postgres://u:p@h:5432/app%20db?sslmode=disable'), 'app db');
    assert.equal(urlDatabase('postgres://mon@h'), 'mon');
  });

  it('server-wide results: the reader writes, the taker does not; one history per server, kept across its restart', async () => {
    const { cr, read } = setup();
    const held = new Map<string, string>();
    const heldBy = (target: string) => (prefix: string) => ({
      stream: [...held].find(([t, s]) => t === target && s.startsWith(prefix))?.[1],
      writable: true,
    });
    const a = await cr.collectStored('A', settings, read, heldBy('A'), 1_000_000);
    const b = await cr.collectStored('B', settings, read, heldBy('B'), 1_000_100);
    assert.equal(a.server?.read, true, 'A read the server: it writes');
    assert.equal(b.server?.read, false, "B took A's read: it does not write");
    assert.equal(a.server?.stream, 'server:7:5432:mon:15000ms@t0');
    assert.equal(b.server?.stream, a.server?.stream, 'one history for the server');
    assert.equal(a.server?.peers, 2);
    held.set('A', a.server!.stream);
    // per-database views stay with each target
    assert.equal((await cr.collectStored('A', stmts, read, heldBy('A'), 1_000_200)).server, undefined);
    // the server restarted (a new postmaster start is a new server key): the same history goes on
    const later = new ClusterReads([{ name: 'A', database: 'a', intervalMs: INTERVAL }], 2_000_000);
    later.join('A', other, 'a', ['settings'], INTERVAL, 2_000_000);
    const again = await later.collectStored('A', settings, read, heldBy('A'), 2_000_000);
    assert.equal(again.server?.stream, a.server?.stream);
    assert.equal(again.server?.peers, 1, 'alone on its server now');
    // a target whose server is unknown stores its own
    const alone = new ClusterReads([{ name: 'C', database: 'c', intervalMs: INTERVAL }], 0);
    alone.join('C', undefined, 'c', ['settings'], INTERVAL, 0);
    assert.equal((await alone.collectStored('C', settings, read, heldBy('C'), 0)).server, undefined);
  });

  it('a server history picked while the store could not be opened is asked for again: once the file is back, the one history goes on (no second one, no extra alias row)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pgpulse-held-'));
    const dataDir = join(root, 'data');
    // as the sampler asks (sampler.ts runCollector)
    const lookup =
      (store: Store, target: string): HeldLookup =>
      (prefix) => ({ stream: store.lastServerStream(target, prefix), writable: store.status().writable });
    const cycle = async (cr: ClusterReads, store: Store, ts: number) => {
      const got = await cr.collectStored('A', settings, () => Promise.resolve(rows), lookup(store, 'A'), ts);
      const stream = got.server!.stream;
      store.writeSample({ target: stream, collector: 'settings', ts, ok: true, epoch: 1, rows: rows.rows });
      store.holdStream('A', 'settings', stream, ts);
      return stream;
    };
    const joined = (identity: ServerIdentity, now: number) => {
      const cr = new ClusterReads(
        [
          { name: 'A', database: 'a', intervalMs: INTERVAL },
          { name: 'B', database: 'b', intervalMs: INTERVAL },
        ],
        now
      );
      for (const t of ['A', 'B']) {
        cr.join(t, identity, t.toLowerCase(), ['settings'], INTERVAL, now);
      }
      return cr;
    };
    try {
      // a first run stores A's settings in the server's history, then stops
      const first = Store.open(dataDir);
      const history = await cycle(joined(server, 1_000_000), first, 1_000_000);
      first.releaseStreams('A', 1_000_001);
      first.close();

      // the server restarted; the next sidecar finds no file it can open (a volume mounted late,
      // permissions fixed later: modes do not stop root, so the error is the one Store.open meets
      // and the file is away from its path), and serves an empty schema
      renameSync(dataDir, join(root, 'away'));
      const store = new Store(join(dataDir, 'pgpulse.db'), {}, Object.assign(new Error('EACCES'), { code: 'EACCES' }));
      try {
        assert.equal(store.status().mode, 'unavailable');
        const cr = joined(other, 2_000_000);
        await assert.rejects(cycle(cr, store, 2_000_000), isStoreWriteError, 'nothing is written meanwhile');

        renameSync(join(root, 'away'), dataDir);
        for (let i = 0; i < 100 && !store.writeAllowed(); i++) {
          await sleep(50);
        }
        // the next write (in the sampler, the cycle's first collector: A's own rows) opens the file
        // again; only then does the server-wide collector ask for its history
        store.writeSample({ target: 'A', collector: 'server', ts: 2_015_000, ok: true, epoch: 1, rows: rows.rows });
        assert.equal(store.status().writable, true);
        assert.equal(await cycle(cr, store, 2_015_000), history, 'the history the file holds goes on');
        const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
        assert.equal(
          count(
            "SELECT count(DISTINCT t.name) AS n FROM sample s JOIN target t ON t.id = s.target_id WHERE t.name LIKE 'server:%'"
          ),
          1,
          'one server history'
        );
        assert.equal(
          count(
            "SELECT count(*) AS n FROM stream_alias a JOIN target t ON t.id = a.target_id WHERE t.name = 'A' AND a.collector = 'settings'"
          ),
          1,
          "A's alias row is reopened, not followed by another"
        );
      } finally {
        store.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('targets that run a collector at different rates keep apart histories of it', async () => {
    const cr = new ClusterReads(
      [
        { name: 'A', database: 'a', intervalMs: INTERVAL },
        { name: 'B', database: 'b', intervalMs: INTERVAL },
      ],
      0
    );
    cr.join('A', server, 'a', ['settings'], INTERVAL, 0);
    cr.join('B', server, 'b', ['settings'], INTERVAL, 0, { settings: 4 * INTERVAL });
    const read = () => Promise.resolve(rows);
    const a = await cr.collectStored('A', settings, read, none, 10);
    const b = await cr.collectStored('B', settings, read, none, 20);
    assert.equal(a.server?.peers, 1, 'B runs settings every 4 intervals: not a peer of A for it');
    assert.notEqual(a.server?.stream, b.server?.stream);
  });

  it('before the others connect, targets at the same address count as peers of the server', async () => {
    const cr = new ClusterReads(
      [
        { name: 'A', database: 'a', intervalMs: INTERVAL, address: 'db:5432' },
        { name: 'B', database: 'b', intervalMs: INTERVAL, address: 'db:5432' },
        { name: 'X', database: 'x', intervalMs: INTERVAL, address: 'elsewhere:5432' },
      ],
      0
    );
    cr.join('A', server, 'a', ['settings'], INTERVAL, 0);
    const read = () => Promise.resolve(rows);
    const first = await cr.collectStored('A', settings, read, none, 10);
    assert.equal(first.server?.peers, 2, 'A and B (not yet connected); X is elsewhere');
  });
});
