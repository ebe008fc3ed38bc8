/**
 * Trust model, suspicions "no quota on open rounds per proposer" and "a revoke voter can push
 * the re-admission window into the future". A hostile contributor with a valid certificate
 * floods the sequencer with genuinely signed proposals; a hostile voter dates its revoke vote a
 * day ahead. Real parts: the sequencer behind gRPC with mutual TLS, its log on a real
 * MongoDB-wire server, the generated client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { ExchangeClient, ExchangeCallError } from '../../operator/src/exchange/protocol/client.ts';
import type { ProposalInput } from '../../operator/src/exchange/protocol/messages.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { startTestSequencer, type TestSequencer } from '../harness/sequencer.ts';

type Id = 'alpha' | 'bravo' | 'charlie' | 'mallory';
const QUOTA = 20;
const suffix = uniqueSuffix();
const ind = (value: string): Indicator => ({ type: 'domain', value });
const clients = {} as Record<Id, ExchangeClient>;
let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;

function proposal(by: Id, kind: EntryKind, indicator: Indicator): ProposalInput {
  return { kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: by, signature: signProposal(net.partners.get(by)!.key, kind, indicator) };
}

async function vote(by: Id, subject: string, at: Date): Promise<unknown> {
  return clients[by].vote(signVote(net.partners.get(by)!.key, { partnerId: by, digest: subject, decision: 'approve', signedAt: at.toISOString() }));
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_attack_flood_${suffix}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'], mallory: ['contributor', 'voter'] }, 2, { sequencer: { maxOpenRoundsPerProposer: QUOTA } });
  for (const id of ['alpha', 'bravo', 'charlie', 'mallory'] as const) {
    clients[id] = new ExchangeClient({ address: net.address, tls: net.partners.get(id)!.tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1, baseMs: 10, capMs: 50 } });
  }
});

after(async () => {
  for (const c of Object.values(clients)) c.close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await cp?.stop();
});

describe('a contributor floods the sequencer with rounds', () => {
  test('past its quota every proposal is refused round-quota (RESOURCE_EXHAUSTED); the sequencer holds only the quota', async () => {
    const flood = Array.from({ length: 3 * QUOTA }, (_, i) => proposal('mallory', 'add', ind(`flood-${i}-${suffix}.example`)));
    const results = await clients.mallory.proposeBatch(flood);
    const refused = results.filter((r) => r.status === 'refused');
    assert.equal(results.filter((r) => r.status === 'opened').length, QUOTA);
    assert.equal(refused.length, 2 * QUOTA);
    assert.ok(refused.every((r) => r.status === 'refused' && r.reason === 'round-quota' && /propose again once some are decided/.test(r.message)), JSON.stringify(refused[0]));
    assert.equal(net.sequencer.pendingCount, QUOTA);
  });

  test('an honest contributor is not affected by the flood', async () => {
    const [r] = await clients.alpha.proposeBatch([proposal('alpha', 'add', ind(`honest-${suffix}.example`))]);
    assert.equal(r?.status, 'opened');
  });
});

describe('a revoke voter dates its vote a day ahead', () => {
  test('the vote is refused signed-in-future, and the revoked indicator can be proposed again at once', async () => {
    const target = ind(`revoked-${suffix}.example`);
    const [added] = await clients.alpha.proposeBatch([proposal('alpha', 'add', target)]);
    assert.equal(added?.status, 'opened');
    await vote('alpha', added.subject, new Date());
    await vote('bravo', added.subject, new Date());
    const [revoke] = await clients.alpha.proposeBatch([proposal('alpha', 'revoke', target)]);
    assert.equal(revoke?.status, 'opened');
    await assert.rejects(vote('mallory', revoke.subject, new Date(Date.now() + 86_400_000)), (err: unknown) => err instanceof ExchangeCallError && err.reason === 'signed-in-future');
    await vote('bravo', revoke.subject, new Date());
    await vote('charlie', revoke.subject, new Date());
    const [again] = await clients.alpha.proposeBatch([proposal('alpha', 'add', target)]);
    assert.equal(again?.status, 'opened');
    assert.ok(Date.parse(again.window!.opensAt) <= Date.now(), `re-admission opens now, not a day ahead: ${again.window!.opensAt}`);
  });
});
