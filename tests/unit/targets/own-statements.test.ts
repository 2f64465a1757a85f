import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isOwnStatement,
  markSql,
  OWN_QUERY_MARK,
  ownRoleFrom,
  sharedRoleNote,
} from '../../../src/sidecar/targets/own-statements';

const row = { oid: '16384', name: 'pgpulse', superuser: false, owns_relations: false, other_sessions: 0 };

describe('own statements (userid, with the mark only for a shared role)', () => {
  it('appends the mark where PostgreSQL 18 keeps it: after the statement, never after a semicolon', () => {
    assert.equal(markSql('SELECT 1'), `SELECT 1\n${OWN_QUERY_MARK}`);
    assert.equal(markSql('SELECT 1;  \n'), `SELECT 1\n${OWN_QUERY_MARK}`);
    assert.equal(markSql('SELECT 1 -- why'), `SELECT 1 -- why\n${OWN_QUERY_MARK}`);
    assert.equal(
      markSql(`${OWN_QUERY_MARK} SELECT 1`),
      `SELECT 1\n${OWN_QUERY_MARK}`,
      'a leading mark moves to the end'
    );
    assert.equal(markSql(markSql('SELECT 1')), markSql('SELECT 1'), 'idempotent');
  });

  it('a dedicated role: every entry of its userid is own, marked or not; other roles never', () => {
    const role = ownRoleFrom(row);
    assert.equal(role.shared, null);
    assert.equal(sharedRoleNote(role), null);
    assert.equal(isOwnStatement(role, { queryid: '1', username: 'pgpulse' }, new Set()), true);
    assert.equal(
      isOwnStatement(role, { queryid: '1', username: 'app' }, new Set(['1'])),
      false,
      "another role's mark is not trusted"
    );
  });

  it('a shared role: only its entries that carry the mark are own, and health/doctor get a note naming the fix', () => {
    for (const r of [
      { ...row, superuser: true },
      { ...row, owns_relations: true },
      { ...row, other_sessions: 2 },
    ]) {
      const role = ownRoleFrom(r);
      assert.ok(role.shared, JSON.stringify(r));
      assert.equal(isOwnStatement(role, { queryid: '1', username: 'pgpulse' }, new Set(['1'])), true);
      assert.equal(
        isOwnStatement(role, { queryid: '2', username: 'pgpulse' }, new Set(['1'])),
        false,
        "the application's statement under the shared role stays"
      );
      assert.match(
        sharedRoleNote(role) ?? '',
        /shared with the application.*CREATE ROLE pgpulse LOGIN .*IN ROLE pg_monitor/
      );
    }
  });

  it('other sessions seen once keep the role shared for the sampler lifetime; a different role starts over', () => {
    const seen = ownRoleFrom({ ...row, other_sessions: 1 });
    assert.ok(ownRoleFrom(row, seen).shared);
    assert.equal(ownRoleFrom({ ...row, oid: '99' }, seen).shared, null);
  });
});
