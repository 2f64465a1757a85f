/**
 * The advisor's memory of what it parsed: one statement shape per (queryid, text hash) and one
 * index shape per definition, kept across evaluations of one target. Parsing 5,000 statement
 * texts every evaluation cost hundreds of MB of short-lived parse trees and the parser's CPU; a
 * shape is a few hundred bytes and a statement's text rarely changes, so each text is parsed once.
 *
 * Bounded twice: after an evaluation, entries the evaluation did not ask for (statements that fell
 * out of pg_stat_statements or had no calls in the window, dropped indexes) are evicted; and no
 * more than `maxEntries` are ever held (oldest first out), whatever one evaluation asks for.
 */
import { createHash } from 'node:crypto';
import { analyzeIndexDef, analyzeStatement, type IndexShape, type StatementShape } from './sql-analysis';

/** far above pg_stat_statements.max's default (5,000) plus the indexes of a large schema */
export const DEFAULT_MAX_SHAPES = 50_000;

// a digest, not the text: the key must not keep a second copy of every statement text alive
function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

export class ShapeCache {
  private statements = new Map<string, StatementShape>();
  private indexes = new Map<string, IndexShape | null>();
  private seen = new Set<string>();
  /** parser calls made, for tests and diagnostics */
  parses = 0;

  constructor(private readonly maxEntries = DEFAULT_MAX_SHAPES) {}

  get size(): number {
    return this.statements.size + this.indexes.size;
  }

  async statement(queryid: string, text: string): Promise<StatementShape> {
    const key = `${queryid}:${digest(text)}`;
    this.seen.add(key);
    let shape = this.statements.get(key);
    if (!shape) {
      this.parses++;
      shape = await analyzeStatement(text);
      this.statements.set(key, shape);
      this.bound(this.statements);
    }
    return shape;
  }

  async index(def: string): Promise<IndexShape | null> {
    const key = digest(def);
    this.seen.add(key);
    let shape = this.indexes.get(key);
    if (shape === undefined) {
      this.parses++;
      shape = await analyzeIndexDef(def);
      this.indexes.set(key, shape);
      this.bound(this.indexes);
    }
    return shape;
  }

  /** end of an evaluation: forget what it did not ask for */
  sweep(): void {
    for (const m of [this.statements, this.indexes] as Array<Map<string, unknown>>) {
      for (const k of m.keys()) {
        if (!this.seen.has(k)) {
          m.delete(k);
        }
      }
    }
    this.seen.clear();
  }

  private bound(m: Map<string, unknown>): void {
    while (this.size > this.maxEntries) {
      const oldest = m.keys().next();
      if (oldest.done) {
        return;
      }
      m.delete(oldest.value);
    }
  }
}
