import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendRequest, chooseBackend, existingBackend, type BackendFacts } from './backend.ts';
import type { FerretBackend } from './instance.ts';
import { UsageError } from '../../cli/errors.ts';

describe('chooseBackend: what the local tooling runs FerretDB on', () => {
  // [name, facts, backend or an error, whether the user is told why]
  const cases: Array<[string, BackendFacts, FerretBackend | RegExp, boolean]> = [
    ['auto, new directory, PostgreSQL installed: PostgreSQL', { requested: 'auto', postgresInstalled: true, existing: undefined }, 'postgresql', false],
    ['auto, new directory, no PostgreSQL: SQLite, saying what to install', { requested: 'auto', postgresInstalled: false, existing: undefined }, 'sqlite', true],
    ['auto keeps a SQLite directory even with PostgreSQL installed (no silent empty database)', { requested: 'auto', postgresInstalled: true, existing: 'sqlite' }, 'sqlite', true],
    ['auto keeps a PostgreSQL directory', { requested: 'auto', postgresInstalled: true, existing: 'postgresql' }, 'postgresql', false],
    ['auto, PostgreSQL directory, PostgreSQL removed: an error, not an empty SQLite', { requested: 'auto', postgresInstalled: false, existing: 'postgresql' }, /no longer installed.*apt-get install postgresql.*--fresh/s, false],
    ['postgresql asked for and installed', { requested: 'postgresql', postgresInstalled: true, existing: 'sqlite' }, 'postgresql', false],
    ['postgresql asked for, missing: an error that says what to install', { requested: 'postgresql', postgresInstalled: false, existing: undefined }, /apt-get install postgresql.*--ferretdb-backend sqlite/s, false],
    ['sqlite asked for', { requested: 'sqlite', postgresInstalled: true, existing: 'postgresql' }, 'sqlite', false],
  ];
  for (const [name, facts, want, told] of cases) {
    test(name, () => {
      if (want instanceof RegExp) {
        assert.throws(() => chooseBackend(facts), want);
        return;
      }
      const d = chooseBackend(facts);
      assert.equal(d.backend, want);
      assert.equal(d.note !== undefined, told, d.note);
    });
  }
});

describe('backendRequest: the flag, else the environment, else auto', () => {
  const cases: Array<[string, string | undefined, string | undefined, string | RegExp]> = [
    ['neither', undefined, undefined, 'auto'],
    ['empty environment', undefined, '', 'auto'],
    ['environment', undefined, 'sqlite', 'sqlite'],
    ['flag wins over environment', 'postgresql', 'sqlite', 'postgresql'],
    ['bad flag names the flag', 'mongo', undefined, /--ferretdb-backend "mongo": use auto, postgresql, sqlite/],
    ['bad environment names the variable', undefined, 'pg', /THREATMESH_FERRETDB_BACKEND "pg"/],
  ];
  for (const [name, flag, env, want] of cases) {
    test(name, () => {
      if (want instanceof RegExp) assert.throws(() => backendRequest(flag, env), (e: unknown) => e instanceof UsageError && want.test(e.message));
      else assert.equal(backendRequest(flag, env), want);
    });
  }
});

describe('existingBackend: what a kept state directory was made with', () => {
  const cases: Array<[string, readonly string[], FerretBackend | undefined]> = [
    ['a new directory', [], undefined],
    ['FerretDB SQLite files', ['mongo/'], 'sqlite'],
    ['an initialised PostgreSQL cluster', ['postgres/data/PG_VERSION'], 'postgresql'],
    ['an empty PostgreSQL directory (initdb never finished) is not one', ['postgres/data/'], undefined],
    ['both: PostgreSQL, the newer default, wins', ['mongo/', 'postgres/data/PG_VERSION'], 'postgresql'],
  ];
  for (const [name, paths, want] of cases) {
    test(name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tm-backend-'));
      try {
        for (const p of paths) {
          if (p.endsWith('/')) await mkdir(join(dir, p), { recursive: true });
          else {
            await mkdir(join(dir, p, '..'), { recursive: true });
            await writeFile(join(dir, p), '15\n');
          }
        }
        assert.equal(await existingBackend({ postgresData: join(dir, 'postgres', 'data'), sqliteDir: join(dir, 'mongo') }), want);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
