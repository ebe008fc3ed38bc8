/**
 * Test child for spool.test.ts: fills a proposal spool under the directory argv[2] with
 * argv[3] lines (about 120 bytes each), then finishes it. Prints one JSON line:
 * `{ok: true, lines}` or `{ok: false, name, code, message, left}`, `left` being the entries
 * under argv[2] after the spool was discarded. Runs under a full disk or `ulimit -f`.
 */
import { readdir } from 'node:fs/promises';
import { NdjsonSpool } from '../spool.ts';
import { FeedError } from '../types.ts';

const [dir = '', count = '0'] = process.argv.slice(2);
const spool = await NdjsonSpool.create('threatmesh-proposals-', dir);
const line = (i: number): object => ({ type: 'ipv4', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, pattern: `[ipv4-addr:value = '10.0.0.${i & 255}']`, digest: i.toString(16).padStart(64, '0') });
try {
  for (let i = 0; i < Number(count); i++) await spool.append(line(i));
  await spool.finish();
  process.stdout.write(JSON.stringify({ ok: true, lines: Number(count) }) + '\n');
} catch (err) {
  await spool.discard();
  const e = err as Error;
  process.stdout.write(JSON.stringify({ ok: false, name: e.name, code: err instanceof FeedError ? err.code : undefined, message: e.message, left: await readdir(dir) }) + '\n');
}
