/**
 * Turns a store file back into the sample layout from before migration 10 (one `sample` table that
 * names its collector as text), for tests of older migrations that build "a file as a previous
 * release left it" from one this version wrote. Sample ids are kept; duration_ms and rows, which
 * migration 10 dropped, come back empty. migration 10 is forgotten, so the next open runs it again.
 */
import type Database from 'better-sqlite3';

export function legacySampleLayout(db: Database.Database): void {
  db.exec(`
    CREATE TABLE sample_legacy (
      id INTEGER PRIMARY KEY,
      target_id INTEGER NOT NULL REFERENCES target(id),
      collector TEXT NOT NULL,
      ts INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      epoch REAL,
      keyframe INTEGER NOT NULL DEFAULT 0,
      duration_ms REAL,
      rows INTEGER,
      error TEXT,
      resets INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO sample_legacy (id, target_id, collector, ts, ok, epoch, keyframe, error, resets)
      SELECT id, target_id, collector, ts, ok, epoch, keyframe, error, resets FROM sample ORDER BY id;
    DROP VIEW sample;
    DROP TABLE sample_row;
    DROP TABLE sample_stream;
    ALTER TABLE sample_legacy RENAME TO sample;
    CREATE INDEX sample_by_time ON sample (target_id, collector, ts);
    CREATE INDEX sample_keyframes ON sample (target_id, collector, id) WHERE keyframe = 1;
    CREATE INDEX sample_marks ON sample (target_id, collector, ts) WHERE resets = 1 OR ok = 0;
    CREATE TRIGGER read_generation_sample_delete AFTER DELETE ON sample
      BEGIN UPDATE read_generation SET n = n + 1; END;
    CREATE TRIGGER read_generation_sample_update AFTER UPDATE ON sample
      WHEN OLD.id < (SELECT max(id) FROM sample)
      BEGIN UPDATE read_generation SET n = n + 1; END;
    DELETE FROM applied_migration WHERE version >= 10;
    PRAGMA user_version = 9;
  `);
}
