/**
 * The PostgreSQL parser (libpg-query), loaded on first use. Requiring libpg-query instantiates its
 * WebAssembly right away: ~130 MB of reserved linear memory (counted as `external` memory) and
 * ~10 MB resident before a single parse. Every module that imports the sidecar's features pulls
 * it in — the main thread and each query worker — though only plans, advisors and the vector
 * classifier ever parse. Going through here, a process that never parses never pays for it; and
 * parse() runs on the parser thread (parser-thread.ts), so the main thread never loads it at all.
 */
import { onParserThread } from './parser-thread';

type LibPgQuery = typeof import('libpg-query');

let lib: LibPgQuery | undefined;
let loading: Promise<LibPgQuery> | undefined;

/** load and instantiate the parser once; later calls share the same promise */
export function loadParser(): Promise<LibPgQuery> {
  loading ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    lib = m;
    return m;
  });
  return loading;
}

/** parse SQL into libpg-query's JSON parse tree (throws on a syntax error), on the parser thread */
export const parse = onParserThread('parse', async (sql: string): Promise<any> => (await loadParser()).parse(sql));

/** synchronous parse: only after loadParser() has resolved */
export function parseSync(sql: string): any {
  if (!lib) {
    throw new Error('the SQL parser is not loaded yet: await loadParser() before parseSync()');
  }
  return lib.parseSync(sql);
}

/** whether this process has loaded the parser (for tests and memory diagnostics) */
export function parserLoaded(): boolean {
  return lib !== undefined;
}
