/**
 * The soak benchmark's view inside a Node process, loaded into each of its Node children
 * (the sequencer, the partner stream processes, the proposer) with `node --import` before the
 * program. Only /proc can say what the kernel holds, and only the process can say what it is
 * made of: the V8 heap in use and reserved, memory outside the heap (`external`, Buffers'
 * `arrayBuffers`), and the live JavaScript data, read right after each major (mark-compact)
 * collection as the bytes in use in every heap space but the young generation (garbage there
 * was just collected, and what is new since then is young).
 *
 * Every 5 s (the bench samples every 10 s by default) it replaces `<dir>/<pid>.json` (written
 * beside, then renamed: a reader never sees half a file) with one {@link HeapSample}, where
 * `<dir>` is the environment variable PROBE_DIR_ENV (procs.ts). Without it, importing this
 * module does nothing. A major collection only records the live data: writing a file per
 * collection (hundreds in a 10-minute soak) and every second showed as 8 % of the sequencer's
 * profile samples at 1,000 proposals/s offered. Its timer is unref'd: it never keeps a process alive.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { HeapSample } from './growth.ts';
import { PROBE_DIR_ENV } from './procs.ts';

const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);
const WRITE_EVERY_MS = 5_000;

function liveOutsideYoung(): number {
  return getHeapSpaceStatistics().filter((s) => !YOUNG_SPACES.has(s.space_name)).reduce((n, s) => n + s.space_used_size, 0);
}

function start(dir: string): void {
  const file = join(dir, `${process.pid}.json`);
  let liveAfterGc: number | undefined;
  let majorGcs = 0;
  const write = (): void => {
    const m = process.memoryUsage();
    const sample: HeapSample = {
      heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, majorGcs,
      ...(liveAfterGc !== undefined ? { liveAfterGc } : {}),
    };
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(sample));
      renameSync(`${file}.tmp`, file);
    } catch {
      // The run's directory is gone (the bench is ending): nothing left to report to.
    }
  };
  new PerformanceObserver((list) => {
    if (!list.getEntries().some((e) => (e as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return;
    liveAfterGc = liveOutsideYoung();
    majorGcs += 1;
  }).observe({ entryTypes: ['gc'] });
  setInterval(write, WRITE_EVERY_MS).unref();
  write();
}

// The bench sets the variable for its own children only: this file is never loaded by the product.
const dir = process.env[PROBE_DIR_ENV];
if (dir !== undefined && dir !== '') start(dir);
