/**
 * The parser thread (parser-thread.ts): loads libpg-query and runs the functions declared with
 * onParserThread for the main thread. It imports every module that declares one, so each is
 * registered here under its name.
 */
import { parentPort } from 'node:worker_threads';
import { markParserThread, parserJob } from './parser-thread';
import './sql-parser';
import './advisors/sql-analysis';
import './plans/classify';
import './vector/classify';

markParserThread();

parentPort?.on('message', (m: { id: number; name: string; args: unknown[] }) => {
  const job = parserJob(m.name);
  if (!job) {
    parentPort?.postMessage({ id: m.id, error: `the SQL parser thread has no function ${m.name}` });
    return;
  }
  job(...m.args).then(
    (result) => parentPort?.postMessage({ id: m.id, result }),
    (e: unknown) => parentPort?.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) })
  );
});
