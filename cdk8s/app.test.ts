/**
 * Synth snapshots, as cdk8s-plus tests its constructs: the whole manifest of a partner and of
 * the sequencer for the default values, compared with the committed snapshot in __snapshots__/.
 * A change to any construct shows up as a diff here and in review. Accept an intended change
 * with `npm run snapshots` (UPDATE_SNAPSHOTS=1), then commit the snapshot.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { renderInstall } from './app.ts';
import { resolveValues } from './values.ts';

const SNAPSHOTS = fileURLToPath(new URL('./__snapshots__/', import.meta.url));
const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';

/** The parties snapshotted: name and values over the defaults. */
const CASES: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['partner', {}],
  ['sequencer', { role: 'sequencer', partnerId: 'sequencer' }],
];

/** The synthesized manifest of `overrides`: every component's objects in apply order, one YAML document each. */
export function synthManifest(overrides: Record<string, unknown>): string {
  return renderInstall(resolveValues(overrides))
    .flatMap((c) => c.objects.map((o) => `# component: ${c.component}\n${stringify(o, { lineWidth: 0 })}`))
    .join('---\n');
}

/** A unified diff of `expected` (the snapshot file's text) against `actual`; empty when equal. */
async function diff(name: string, expected: string, actual: string): Promise<string> {
  if (expected === actual) return '';
  const dir = await mkdtemp(join(tmpdir(), 'tm-snapshot-'));
  try {
    await writeFile(join(dir, `${name}.snapshot.yaml`), expected);
    await writeFile(join(dir, `${name}.synth.yaml`), actual);
    return await new Promise<string>((resolve) => {
      execFile('git', ['diff', '--no-index', '--no-color', '-U3', `${name}.snapshot.yaml`, `${name}.synth.yaml`], { cwd: dir, maxBuffer: 16 << 20 }, (err, stdout) => {
        resolve(stdout !== '' ? stdout : `the manifests differ (git diff unavailable: ${err?.message ?? 'no output'})`);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('cdk8s synth snapshots (default values)', () => {
  for (const [name, overrides] of CASES) {
    it(`${name}: the whole manifest equals __snapshots__/${name}.yaml`, async () => {
      const file = join(SNAPSHOTS, `${name}.yaml`);
      const actual = synthManifest(overrides);
      if (UPDATE) {
        await writeFile(file, actual);
        return;
      }
      const expected = await readFile(file, 'utf8').catch(() => '');
      const d = await diff(name, expected, actual);
      assert.equal(d, '', `the ${name} manifest differs from cdk8s/__snapshots__/${name}.yaml; if the change is intended, run \`npm run snapshots\` and commit the snapshot:\n${d}`);
    });
  }

  it('a changed construct shows as a diff naming the changed line (the comparison can fail)', async () => {
    const expected = synthManifest({});
    const changed = expected.replace(/^ {2}replicas: 2$/m, '  replicas: 5');
    assert.notEqual(changed, expected, 'the partner manifest has a Deployment with 2 replicas to change');
    const d = await diff('partner', expected, changed);
    assert.match(d, /^- {2}replicas: 2$/m);
    assert.match(d, /^\+ {2}replicas: 5$/m);
  });
});

describe('the sequencer\'s memory settings (values sequencer.memory)', () => {
  // The env of the sequencer container for `memory` over the defaults.
  const envOf = (memory?: Record<string, number>): Record<string, unknown> => {
    const objects = renderInstall(resolveValues({ role: 'sequencer', partnerId: 'sequencer', ...(memory !== undefined ? { sequencer: { memory } } : {}) })).flatMap((c) => c.objects);
    const dep = objects.find((o) => o['kind'] === 'Deployment' && (o['metadata'] as { name: string }).name === 'threatmesh-sequencer') as unknown as { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } } };
    return Object.fromEntries(dep.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
  };
  const cases: ReadonlyArray<[string, Record<string, number> | undefined, string | undefined, string | undefined]> = [
    ['defaults: a 16 MiB semi-space, glibc\'s own mmap threshold', undefined, '--max-semi-space-size=16', undefined],
    ['other sizes', { maxSemiSpaceMiB: 32, mallocMmapThreshold: 262144 }, '--max-semi-space-size=32', '262144'],
    ['0 sets nothing (V8\'s and glibc\'s own sizing)', { maxSemiSpaceMiB: 0, mallocMmapThreshold: 0 }, undefined, undefined],
  ];
  for (const [name, memory, nodeOptions, threshold] of cases) {
    it(name, () => {
      const env = envOf(memory);
      assert.equal(env['NODE_OPTIONS'], nodeOptions);
      assert.equal(env['MALLOC_MMAP_THRESHOLD_'], threshold);
      assert.equal('NODE_OPTIONS' in env, nodeOptions !== undefined);
    });
  }
});
