/**
 * A reader that closes stdout early (`threatmesh … | head`) ends the command quietly: exit 141
 * (as a shell reports SIGPIPE), nothing on stderr, no EPIPE stack trace. Run in a real bash
 * pipeline, the way a user meets it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { shellQuote } from './completion.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const run = promisify(execFile);
let dir: string;
let feed: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-epipe-'));
  feed = join(dir, 'feed.txt');
  // Far more output than a pipe buffer holds, so the writer meets the closed pipe (addresses: *.example domains are dropped by the warning lists).
  await writeFile(feed, Array.from({ length: 50_000 }, (_, i) => `198.51.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`).join('\n'));
});
after(() => rm(dir, { recursive: true, force: true }));

const CASES: ReadonlyArray<{ name: string; args: readonly string[] }> = [
  { name: 'ingest --dry-run | head -n 1', args: ['ingest', '--source', '', '--format', 'lines', '--dry-run'] },
  { name: 'normalize -o ndjson | head -n 1', args: ['normalize', '-o', 'ndjson', ...Array.from({ length: 3000 }, (_, i) => `n${i}.example`)] },
];

for (const c of CASES) {
  test(c.name, async () => {
    const args = c.args.map((a) => (a === '' ? feed : a));
    const err = join(dir, 'stderr');
    const script = `${shellQuote(process.execPath)} ${shellQuote(main)} ${args.map(shellQuote).join(' ')} 2>${shellQuote(err)} | head -n 1; echo "status \${PIPESTATUS[0]}"; cat ${shellQuote(err)}`;
    const { stdout } = await run('bash', ['--norc', '-c', script], { maxBuffer: 16 << 20 });
    const [first, status, ...rest] = stdout.split('\n');
    assert.match(first ?? '', /^\{.*"value":"(198\.51\.0\.1|n0\.example)"/);
    assert.equal(status, 'status 141', stdout);
    assert.doesNotMatch(rest.join('\n'), /EPIPE|\n\s+at |Error/, 'stderr stays quiet');
  });
}
