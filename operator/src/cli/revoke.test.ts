import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { SigningKey } from '../domain/signature.ts';
import { ExchangeCallError } from '../exchange/protocol/client.ts';
import { createLogger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { checkRevokeFlags, explainRevokeError, formatRevokeOutcome, MAX_REASON, registerRevoke, type RevokeOutcome } from './revoke.ts';

const sink = new Writable({ write: (_c, _e, cb) => cb() });
const env: CliEnv = { kubeconfig: undefined, mongodbUri: undefined, cacheDir: '/tmp', logLevel: 'error', stdout: sink, stderr: sink };
let dir = '';
const files = { key: '', garbage: '', missing: '' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-revoke-cli-'));
  files.key = join(dir, 'private.pem');
  files.garbage = join(dir, 'garbage.pem');
  files.missing = join(dir, 'missing.pem');
  await writeFile(files.key, SigningKey.generate().toPem());
  await writeFile(files.garbage, 'not a pem\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `threatmesh revoke ARGS` in-process; resolves with the error it failed with (commander's or the action's). */
async function run(args: readonly string[]): Promise<Error | undefined> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerRevoke(program, env, createLogger(sink, 'error'));
  for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    await program.parseAsync(['revoke', ...args], { from: 'user' });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function flags(over: Readonly<Record<string, string | undefined>> = {}): string[] {
  const all: Record<string, string | undefined> = {
    '--reason': 'sinkholed', '--partner-id': 'alpha', '--signing-key': files.key, '--sequencer': '127.0.0.1:1',
    '--tls-cert': join(dir, 'no.crt'), '--tls-key': join(dir, 'no.key'), '--tls-ca': join(dir, 'no-ca.pem'), ...over,
  };
  return Object.entries(all).flatMap(([k, v]) => (v === undefined ? [] : [k, v]));
}

describe('threatmesh revoke refuses bad flags before connecting', () => {
  const cases: Array<[string, () => readonly string[], RegExp]> = [
    ['no --reason', () => ['domain-abc', ...flags({ '--reason': undefined })], /required option '--reason <text>' not specified/],
    ['no --partner-id', () => ['domain-abc', ...flags({ '--partner-id': undefined })], /required option '--partner-id <id>' not specified/],
    ['no --signing-key', () => ['domain-abc', ...flags({ '--signing-key': undefined })], /required option '--signing-key <file>' not specified/],
    ['no --sequencer', () => ['domain-abc', ...flags({ '--sequencer': undefined })], /required option '--sequencer <host:port>' not specified/],
    ['no --tls-ca', () => ['domain-abc', ...flags({ '--tls-ca': undefined })], /required option '--tls-ca <file>' not specified/],
    ['no indicator', () => [...flags()], /missing required argument 'name-or-digest'/],
    ['a blank reason', () => ['domain-abc', ...flags({ '--reason': '   ' })], /--reason must say why the indicator is withdrawn/],
    ['an unknown --type', () => ['evil.example', ...flags({ '--type': 'hostname' })], /unknown --type "hostname"; use one of ipv4, ipv6, cidr, domain/],
    ['a value that is not of --type', () => ['not-an-ip', ...flags({ '--type': 'ipv4' })], /"not-an-ip" is not a valid ipv4/],
    ['an unreadable signing key', () => ['domain-abc', ...flags({ '--signing-key': files.missing })], /cannot read --signing-key .*missing\.pem/],
    ['a signing key that is not a key', () => ['domain-abc', ...flags({ '--signing-key': files.garbage })], /--signing-key .*garbage\.pem is not an Ed25519 private key in PKCS#8 PEM.*threatmesh keys generate/],
    ['a bad --timeout', () => ['domain-abc', ...flags(), '--timeout', 'soon'], /--timeout must be a positive number of milliseconds, got "soon"/],
    ['unreadable TLS files', () => ['domain-abc', ...flags()], /cannot read --tls-cert .*no\.crt/],
  ];
  for (const [name, args, want] of cases) {
    test(name, async () => {
      const err = await run(args());
      assert.ok(err !== undefined, 'the command fails');
      assert.match(err.message, want);
    });
  }
});

describe('checkRevokeFlags', () => {
  test('trims the reason and normalizes a --type value', () => {
    assert.deepEqual(checkRevokeFlags({ reason: '  sinkholed  ', partnerId: 'a', type: 'domain' }, ' EVIL.Example. '), { reason: 'sinkholed', given: { type: 'domain', value: 'evil.example' } });
    assert.deepEqual(checkRevokeFlags({ reason: 'r', partnerId: 'a' }, 'domain-abc'), { reason: 'r', given: undefined });
  });
  test('a reason longer than the limit is refused with the limit', () => {
    assert.throws(() => checkRevokeFlags({ reason: 'x'.repeat(MAX_REASON + 1), partnerId: 'a' }, 'q'), new RegExp(`--reason is ${MAX_REASON + 1} characters; keep it under ${MAX_REASON + 1}`));
    assert.doesNotThrow(() => checkRevokeFlags({ reason: 'x'.repeat(MAX_REASON), partnerId: 'a' }, 'q'));
  });
});

describe('explainRevokeError', () => {
  const cases: Array<[grpc.status, string | undefined, RegExp]> = [
    [grpc.status.FAILED_PRECONDITION, 'not-admitted', /^the sequencer at h:1 refused the revocation \(not-admitted\): cannot revoke x: it is not in the log\. Only admitted/],
    [grpc.status.FAILED_PRECONDITION, 'not-active', /^the sequencer at h:1 refused the revocation \(not-active\): cannot revoke x: it is not in the log$/],
    [grpc.status.PERMISSION_DENIED, 'missing-role', /\(missing-role\).*contributor role/],
    [grpc.status.UNAVAILABLE, undefined, /cannot reach the sequencer at h:1/],
  ];
  for (const [code, reason, want] of cases) test(`${grpc.status[code]} ${reason ?? ''}`, () => assert.match(explainRevokeError(new ExchangeCallError(code, 'Propose: FAILED_PRECONDITION: cannot revoke x: it is not in the log', reason), 'h:1'), want));
});

describe('formatRevokeOutcome', () => {
  const base: RevokeOutcome = { name: 'domain-abc', type: 'domain', value: 'evil.example', digest: 'd', subject: 's', status: 'opened', closesAt: '2026-01-04T00:00:00.000Z', vote: { status: 'counted', approvals: 1, rejections: 0, required: 2 } };
  const cases: Array<[string, RevokeOutcome, string]> = [
    ['opened and counted', base, 'revocation of domain-abc (domain evil.example) opened: round s, voting closes at 2026-01-04T00:00:00.000Z\napprove vote with the reason counted (1 approve, 0 reject, 2 required); other voters approve it with `threatmesh vote approve SUBJECT` or the threatmesh.io/vote annotation'],
    ['already pending, duplicate', { ...base, status: 'already-pending', vote: { status: 'duplicate', approvals: 1, rejections: 0, required: 2 } }, 'revocation of domain-abc (domain evil.example) was already pending: round s, voting closes at 2026-01-04T00:00:00.000Z\nthis partner had already voted on this round (1 approve, 0 reject, 2 required); nothing changed'],
    ['quorum at once', { ...base, vote: { status: 'approved', approvals: 1, rejections: 0, required: 1, logIndex: 9 } }, 'revocation of domain-abc (domain evil.example) opened: round s, voting closes at 2026-01-04T00:00:00.000Z\napprove vote counted; quorum reached (1 approve, 0 reject, 1 required): revoked, log index 9'],
    ['vote refused', { ...base, vote: { status: 'refused', reason: 'missing-role', message: 'no voter' } }, 'revocation of domain-abc (domain evil.example) opened: round s, voting closes at 2026-01-04T00:00:00.000Z\nthis partner\'s approve vote was refused (missing-role): no voter; the round stays open for the other voters'],
    ['no vote', { ...base, vote: { status: 'skipped' } }, 'revocation of domain-abc (domain evil.example) opened: round s, voting closes at 2026-01-04T00:00:00.000Z\nno approve vote sent (--no-vote); voters approve it with `threatmesh vote approve SUBJECT` or the threatmesh.io/vote annotation'],
  ];
  for (const [name, o, want] of cases) test(name, () => assert.equal(formatRevokeOutcome(o), want));
});
