/**
 * Prepared statements in a mode fixed when they are prepared. better-sqlite3 keeps raw()/pluck()
 * on the statement object, so one statement per SQL text shared by callers that want different
 * shapes lets one caller's mode reach another's rows (a dashboard's step sums once threw
 * "'undefined' is not valid JSON" after an advisor read the same text raw). Here each SQL text and
 * mode has its own statement, set once: a caller may hold it across any other read.
 */
import type Database from 'better-sqlite3';

/** rows: an object per row by column name; raw: an array per row in column order; pluck: the first column alone */
export type StatementMode = 'rows' | 'raw' | 'pluck';

/** A statement whose mode was set when it was prepared: changing it is a type error. */
export type FixedStatement = Omit<Database.Statement, 'raw' | 'pluck' | 'expand'>;

/** The SQL's statement in `mode` (rows by default). */
export type Prepare = (sql: string, mode?: StatementMode) => FixedStatement;

function inMode(s: Database.Statement, mode: StatementMode): FixedStatement {
  return mode === 'raw' ? s.raw() : mode === 'pluck' ? s.pluck() : s;
}

/** A new statement on every call (migrations and other one-off work): nothing kept. */
export function preparer(db: Database.Database): Prepare {
  return (sql, mode = 'rows') => inMode(db.prepare(sql), mode);
}

/** Each SQL text prepared once per mode on one connection (a new connection needs a new cache). */
export class StatementCache {
  // a map per mode: the hot read paths look a statement up without building a key
  private readonly rows = new Map<string, FixedStatement>();
  private readonly raw = new Map<string, FixedStatement>();
  private readonly pluck = new Map<string, FixedStatement>();

  constructor(private readonly db: Database.Database) {}

  get(sql: string, mode: StatementMode = 'rows'): FixedStatement {
    const cache = mode === 'rows' ? this.rows : mode === 'raw' ? this.raw : this.pluck;
    let s = cache.get(sql);
    if (!s) {
      s = inMode(this.db.prepare(sql), mode);
      cache.set(sql, s);
    }
    return s;
  }
}
