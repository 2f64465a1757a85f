/**
 * Preloaded into the sidecar by bench/concurrency.ts (`--require`): every 100 ms it appends
 * `<epoch ms> <max event-loop delay ms> <late ms of its own 100 ms timer>` to $BENCH_ELD_FILE, so the
 * bench can say how long the sidecar's main thread was blocked during each phase, measured inside
 * the process (the shared machine's noise does not reach this figure the way it reaches the gaps).
 * Also GC pauses of 20 ms or more (to $BENCH_ELD_FILE.gc). Main thread only; the query workers have their own event loops.
 */
'use strict';
const { isMainThread } = require('node:worker_threads');
const file = process.env.BENCH_ELD_FILE;
if (isMainThread && file) {
  const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
  const fs = require('node:fs');
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const fd = fs.openSync(file, 'a');
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - 100;
    last = now;
    fs.writeSync(fd, `${Date.now()} ${(h.max / 1e6).toFixed(1)} ${Math.max(0, late).toFixed(1)}\n`);
    h.reset();
  }, 100).unref();
  // garbage collections of 20 ms or more, to $BENCH_ELD_FILE.gc: `<epoch ms at start> <ms> <kind>`
  const { PerformanceObserver } = require('node:perf_hooks');
  const gcFd = fs.openSync(`${file}.gc`, 'a');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration >= 20) {
        const at = Math.round(performance.timeOrigin + e.startTime);
        fs.writeSync(gcFd, `${at} ${e.duration.toFixed(1)} ${e.detail?.kind ?? ''}\n`);
      }
    }
  }).observe({ entryTypes: ['gc'] });
}
