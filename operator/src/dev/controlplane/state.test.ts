import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseState } from './state.ts';
import { ownsPid } from './down.ts';
import { lastLines } from './process.ts';

describe('parseState', () => {
  const good = { ownerPid: 10, instances: [{ name: 'tm-0', dir: '/d', kubeconfig: '/d/k', server: 'https://127.0.0.1:1', mongoUri: undefined, pids: [11, 12] }] };
  test('accepts what writeState writes', () => {
    assert.deepEqual(parseState(JSON.stringify(good), 'f'), JSON.parse(JSON.stringify(good)));
  });
  const bad: [string, string, RegExp][] = [
    ['not JSON', '{', /f: not JSON/],
    ['null', 'null', /not an object/],
    ['no owner', JSON.stringify({ instances: [] }), /missing ownerPid/],
    ['bad pid', JSON.stringify({ ownerPid: 1, instances: [{ pids: [0] }] }), /no valid pids/],
    ['pids missing', JSON.stringify({ ownerPid: 1, instances: [{}] }), /no valid pids/],
  ];
  for (const [name, text, want] of bad) {
    test(`rejects ${name} with a recovery hint`, () => {
      assert.throws(() => parseState(text, 'f'), (e: Error) => want.test(e.message) && /delete the file/.test(e.message));
    });
  }
});

describe('ownsPid', () => {
  const cases: [string, boolean][] = [
    ['/c/controlplane/k/threatmesh-controlplane apiserver --dir /x', true],
    ['/c/ferretdb/k/threatmesh-ferretdb --data-dir /x', true],
    ['node operator/src/main.ts controlplane up --instances 2', true],
    ['/bin/sh -c "$@" & pid=$! postgres /usr/lib/postgresql/15/bin/postgres -D /d/postgres/data -p 40123 -k /d/postgres -c listen_addresses=127.0.0.1 -c fsync=off', true],
    ['/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf', false],
    ['bash', false],
    ['sleep 100', false],
  ];
  for (const [cmd, want] of cases) test(`${want ? 'owns' : 'ignores'} "${cmd}"`, () => assert.equal(ownsPid(cmd), want));
});

describe('lastLines', () => {
  const cases: [string, number, string][] = [
    ['a\nb\nc\n', 2, 'b\nc'],
    ['a\nb\nc', 5, 'a\nb\nc'],
    ['', 3, ''],
    ['only\n', 1, 'only'],
  ];
  for (const [text, n, want] of cases) test(`${JSON.stringify(text)} last ${n}`, () => assert.equal(lastLines(text, n), want));
});
