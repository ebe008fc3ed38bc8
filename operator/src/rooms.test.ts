import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOM_IMPORTS, roomOf, roomViolation } from './rooms.ts';

const srcRoot = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'gen' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

// Static imports and re-exports between rooms, as room -> rooms.
function roomEdges(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const file of sources(srcRoot)) {
    const from = roomOf(srcRoot, file)!;
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
      const to = roomOf(srcRoot, resolve(dirname(file), m[1]!));
      if (to === undefined || to === from || from === '' || to === '') continue;
      edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  return edges;
}

function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...path.slice(path.indexOf(m)), m].join(' -> '));
      else if (state.get(m) === undefined) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of edges.keys()) if (state.get(n) === undefined) visit(n);
  return found;
}

test('the allowed-imports table itself has no cycle', () => {
  const table = new Map(Object.entries(ROOM_IMPORTS).map(([k, v]) => [k, new Set(v)]));
  assert.deepEqual(cycles(table), []);
});

test('no import between rooms of operator/src runs against the table', () => {
  const bad = [...roomEdges()].flatMap(([from, tos]) => [...tos].map((to) => roomViolation(from, to)).filter((w) => w !== undefined));
  assert.deepEqual(bad, []);
});

test('no two rooms of operator/src import each other, directly or around a cycle', () => {
  assert.deepEqual(cycles(roomEdges()), []);
});

test('the cycle finder finds a cycle when there is one (so the tests above can fail)', () => {
  assert.deepEqual(cycles(new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])]])), ['a -> b -> c -> a']);
  assert.match(roomViolation('exchange/partner', 'exchange/sequencer') ?? '', /may import only/);
  assert.match(roomViolation('controllers', 'dev') ?? '', /must not import dev/);
  assert.equal(roomOf(srcRoot, join(srcRoot, 'exchange', 'partner', 'voter.ts')), 'exchange/partner');
});
