import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { probeFlags } from './network.ts';
import { readProbe } from './procs.ts';

const run = promisify(execFile);

// A child that keeps 8 MiB of live arrays and 4 MiB in a Buffer, forces a major collection, then
// prints its pid and lives past the probe's next write (every 5 s).
const CHILD = `globalThis.keep = Array.from({ length: 64 }, () => new Array(16384).fill(1.5)); globalThis.buf = Buffer.alloc(4 * 2 ** 20, 1);
gc(); console.log(process.pid); setTimeout(() => {}, 5500);`;

describe('memprobe', () => {
  const cases: Array<{ name: string; probe: boolean }> = [
    { name: 'with a directory: writes the process\'s heap, external memory and live data after a major collection', probe: true },
    { name: 'without one: writes nothing', probe: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'memprobe-'));
      try {
        const flags = probeFlags(c.probe ? dir : undefined);
        const { stdout } = await run(process.execPath, ['--expose-gc', ...flags.args, '-e', CHILD], { env: { ...process.env, ...flags.env } });
        const pid = Number(stdout.trim());
        if (!c.probe) {
          assert.deepEqual(await readdir(dir), []);
          return;
        }
        const h = await readProbe(dir, pid);
        assert.ok(h !== undefined, 'no sample written');
        assert.ok(h.majorGcs >= 1, `major collections ${h.majorGcs}`);
        assert.ok((h.liveAfterGc ?? 0) >= 8 * 2 ** 20, `live data ${h.liveAfterGc}`);
        assert.ok(h.arrayBuffers >= 4 * 2 ** 20 && h.external >= h.arrayBuffers, `external ${h.external}, arrayBuffers ${h.arrayBuffers}`);
        assert.ok(h.heapTotal >= h.heapUsed && h.heapUsed > 0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('readProbe: no file or a torn one is no sample', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memprobe-'));
    try {
      assert.equal(await readProbe(dir, 1), undefined);
      await writeFile(join(dir, '2.json'), '{"heapUsed": 1');
      assert.equal(await readProbe(dir, 2), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
