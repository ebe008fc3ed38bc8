import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { reviewThreatIndicator, startWebhookServer, type AdmissionRequest, type WebhookDeps } from './webhook.ts';
import { createValidators, validatorFor } from './validate.ts';
import { WEBHOOK_PATH } from './manifests.ts';
import { indicatorObjectName } from '../domain/canonical.ts';
import { indicator, partner, signedRevocation, signedVote, type TestPartner } from '../controllers/fixtures.ts';
import { partnerEntry, type PartnerEntry } from './partners.ts';
import type { ThreatIndicator } from './types.ts';
import { createLogger } from '../log.ts';
import { Writable } from 'node:stream';
import { selfSignedLoopbackCert } from '../../../e2e/harness/tls.ts';

const partners: TestPartner[] = ['acme', 'globex', 'initech'].map((id) => partner(id));
const entries: PartnerEntry[] = partners.map((p) => {
  const e = partnerEntry(`tm/${p.id}`, p.node);
  assert.ok(e.ok);
  return e.entry;
});
const deps: WebhookDeps = { validator: validatorFor(createValidators(), 'ThreatIndicator'), partners: () => entries, now: () => new Date('2026-11-25T12:00:00Z'), policy: { votingWindowMs: 24 * 3_600_000 } };

function named(ti: ThreatIndicator): ThreatIndicator {
  return { ...ti, metadata: { ...ti.metadata, name: indicatorObjectName({ type: ti.spec.type, value: ti.spec.value }) } };
}

const base = named(indicator());
const [acme, globex, initech] = partners as [TestPartner, TestPartner, TestPartner];
const req = (operation: 'CREATE' | 'UPDATE', object: unknown, oldObject?: unknown, subResource?: string): AdmissionRequest => ({
  uid: 'u1', kind: { group: 'threatmesh.io', version: 'v1alpha1', kind: 'ThreatIndicator' }, operation, object, ...(oldObject ? { oldObject } : {}), ...(subResource ? { subResource } : {}),
});
const withStatus = (status: ThreatIndicator['status']): ThreatIndicator => ({ ...base, status });
const allVotes = [signedVote(acme, base, 'approve'), signedVote(globex, base, 'approve'), signedVote(initech, base, 'approve')];

describe('reviewThreatIndicator', () => {
  const table: Array<[string, AdmissionRequest, RegExp | undefined]> = [
    ['a well-formed indicator with its digest name', req('CREATE', base), undefined],
    ['a wrong name', req('CREATE', indicator('my-ip')), /metadata\.name must be ipv4-[0-9a-f]{40}, the name derived from the indicator's digest/],
    ['a malformed value', req('CREATE', named(indicator('x', { value: '192.0.2.1/24' }))), /malformed ThreatIndicator: spec\.value: an ipv4 value must be a dotted quad/],
    ['a value that is not normalized', req('CREATE', named(indicator('x', { type: 'ipv6', value: '2001:db8:0:0::1' }))), /is not normalized: use "2001:db8::1"/],
    ['a spec change', req('UPDATE', { ...base, spec: { ...base.spec, confidence: 99 } }, base), /spec is immutable/],
    ['a status with valid votes and the phase they prove', req('UPDATE', withStatus({ phase: 'Approved', votes: allVotes, quorum: { required: 3, approvals: 3, rejections: 0 } }), base, 'status'), undefined],
    ['a forged Approved phase', req('UPDATE', withStatus({ phase: 'Approved', votes: allVotes.slice(0, 2) }), base, 'status'), /status\.phase Approved is not proven by the signed votes \(they give Proposed: waiting for votes .*2 approve, 0 reject of 3 voters; 3 approvals required\)/],
    ['a vote signed with the wrong key', req('UPDATE', withStatus({ votes: [{ ...signedVote(acme, base, 'approve'), partnerId: 'globex' }] }), base, 'status'), /not signed by a known voter \(globex: bad-signature\)/],
    ['a vote from an unknown partner', req('UPDATE', withStatus({ votes: [signedVote(partner('mallory'), base, 'approve')] }), base, 'status'), /mallory: unknown-partner/],
    ['inflated quorum counts', req('UPDATE', withStatus({ votes: allVotes.slice(0, 1), quorum: { approvals: 3 } }), base, 'status'), /status\.quorum claims 3 approvals .* only 1 and 0/],
    ['a claimed Expired before validUntil', req('UPDATE', withStatus({ phase: 'Expired' }), base, 'status'), /status\.phase Expired is not proven/],
    ['a claimed Revoked', req('UPDATE', withStatus({ phase: 'Revoked' }), base, 'status'), /status\.phase Revoked is not proven/],
    ['Proposed claims nothing', req('UPDATE', withStatus({ phase: 'Proposed' }), base, 'status'), undefined],
  ];
  for (const [name, r, want] of table) {
    test(name, () => {
      const res = reviewThreatIndicator(r, deps);
      assert.equal(res.uid, 'u1');
      if (want === undefined) assert.equal(res.allowed, true, res.status?.message);
      else {
        assert.equal(res.allowed, false);
        assert.equal(res.status?.code, 403);
        assert.match(res.status?.message ?? '', want);
      }
    });
  }

  test('stored votes of a partner removed since do not block later status writes', () => {
    const old = withStatus({ votes: [signedVote(partner('gone'), base, 'approve')] });
    const next = withStatus({ ...old.status, phase: 'Proposed' });
    assert.equal(reviewThreatIndicator(req('UPDATE', next, old, 'status'), deps).allowed, true);
  });

  describe('revocations', () => {
    const approved = withStatus({ phase: 'Approved', votes: allVotes, logIndex: 2, quorum: { required: 3, approvals: 3, rejections: 0 } });
    const proof = signedRevocation(base, acme, partners);
    const revoked = withStatus({ ...approved.status, phase: 'Revoked', revocation: proof });
    const cases: Array<[string, ThreatIndicator, ThreatIndicator, RegExp | undefined]> = [
      ['Revoked proven by a quorum of revoke votes', revoked, approved, undefined],
      ['Revoked with a certificate short of quorum', withStatus({ ...approved.status, phase: 'Revoked', revocation: signedRevocation(base, acme, [acme, globex]) }), approved,
        /status\.phase Revoked is not proven: the revocation at log index 5 lacks quorum: 2 revoke approval\(s\) of 3 voters; 3 required; a ThreatIndicator is Revoked only when status\.revocation holds the certificate of a REVOKE entry/],
      ['Revoked without a certificate', withStatus({ ...approved.status, phase: 'Revoked' }), approved, /status\.phase Revoked is not proven: status\.revocation is missing; .*let the operator apply it from the log/],
      ['a certificate with a vote of an unknown partner', withStatus({ ...approved.status, revocation: signedRevocation(base, acme, [acme, globex, initech, partner('mallory')]) }), approved,
        /status\.revocation is not a valid certificate \(revoke votes not signed by a known voter on this revocation: mallory: unknown-partner\)/],
      ['a certificate whose proposer signature is forged', withStatus({ ...approved.status, revocation: { ...proof, proposerId: 'globex' } }), approved, /status\.revocation is not a valid certificate \(the signature is not globex's revocation signature/],
      ['removing the certificate of a Revoked object', approved, revoked, /status\.revocation \(log index 5\) cannot be removed or changed: a revocation is final for this object; a later ADD entry/],
      ['claiming Approved while the certificate proves Revoked', withStatus({ ...revoked.status, phase: 'Approved' }), revoked, /status\.phase Approved is not proven by the signed votes \(they give Revoked/],
      ['rewriting the status of a Revoked object without touching the certificate', withStatus({ ...revoked.status, observedGeneration: 1 }), revoked, undefined],
    ];
    for (const [name, next, old, want] of cases) {
      test(name, () => {
        const res = reviewThreatIndicator(req('UPDATE', next, old, 'status'), deps);
        if (want === undefined) assert.equal(res.allowed, true, res.status?.message);
        else {
          assert.equal(res.allowed, false);
          assert.match(res.status?.message ?? '', want);
        }
      });
    }
  });

  test('other kinds and DELETE pass through', () => {
    assert.equal(reviewThreatIndicator({ ...req('CREATE', {}), kind: { group: 'threatmesh.io', version: 'v1alpha1', kind: 'Feed' } }, deps).allowed, true);
    assert.equal(reviewThreatIndicator({ ...req('CREATE', {}), operation: 'DELETE' }, deps).allowed, true);
  });
});

describe('webhook server', () => {
  test('answers an AdmissionReview over HTTPS and 404s other paths', async () => {
    const tls = await selfSignedLoopbackCert();
    const log = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
    const server = await startWebhookServer({ host: '127.0.0.1', port: 0, cert: tls.cert, key: tls.key, deps, log });
    try {
      const post = (path: string, body: unknown) => new Promise<{ status: number; body: string; keepAlive?: string }>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port: server.port, path, method: 'POST', ca: tls.cert, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => { text += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, keepAlive: String(res.headers['keep-alive']) }));
        });
        r.on('error', reject);
        r.end(JSON.stringify(body));
      });
      const ok = await post(WEBHOOK_PATH, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req('CREATE', indicator('bad-name')) });
      assert.equal(ok.status, 200);
      assert.equal(ok.keepAlive, 'timeout=120', 'idle connections outlast the API server\'s 90 s pool (Node\'s default, 5 s, resets its requests)');
      const review = JSON.parse(ok.body) as { kind: string; response: { uid: string; allowed: boolean; status: { message: string } } };
      assert.equal(review.kind, 'AdmissionReview');
      assert.equal(review.response.allowed, false);
      assert.match(review.response.status.message, /metadata\.name must be/);
      assert.equal((await post('/other', {})).status, 404);
      assert.equal((await post(WEBHOOK_PATH, 'not json')).status, 400);
    } finally {
      await server.close();
    }
  });
});
