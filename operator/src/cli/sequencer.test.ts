import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SigningKey } from '../domain/signature.ts';
import { createTestCa, type TestCa } from '../../../e2e/harness/pki.ts';
import { sequencerPlan, type SequencerFlags } from './sequencer.ts';
import type { CliEnv } from './env.ts';

const sink = new Writable({ write: (_c, _e, cb) => cb() });
const env: CliEnv = { kubeconfig: undefined, mongodbUri: 'mongodb://127.0.0.1:1', cacheDir: '/tmp', logLevel: 'error', stdout: sink, stderr: sink };
let dir = '';
let ca: TestCa;
const key = SigningKey.generate();
const files = { key: '', cert: '', certKey: '', ca: '', otherCert: '', garbage: '', kubeconfig: '', crl: '', notCrl: '' };
let base: SequencerFlags;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tm-seq-cli-'));
  ca = await createTestCa('seq-cli-test');
  const own = await ca.issue('sequencer-1');
  const other = await ca.issue('someone-else');
  const put = async (name: string, text: string): Promise<string> => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  files.key = await put('private.pem', key.toPem());
  files.cert = await put('tls.crt', own.certPem);
  files.certKey = await put('tls.key', own.keyPem);
  files.ca = await put('ca.pem', ca.caPem);
  files.otherCert = await put('other.crt', other.certPem);
  files.garbage = await put('garbage.pem', 'not a pem\n');
  files.crl = await put('crl.pem', await ca.revocationList([other]));
  files.notCrl = await put('broken-crl.pem', '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
  files.kubeconfig = await put('kubeconfig', 'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n');
  base = {
    kubeconfig: files.kubeconfig, namespace: 'threatmesh', listen: '127.0.0.1:0', partnerId: 'sequencer-1', signingKey: files.key,
    tlsCert: files.cert, tlsKey: files.certKey, tlsCa: files.ca, database: 'threatmesh_sequencer', votingWindow: '72h', maxOpenRounds: '50000', entryCache: '50000', leaderElect: false, metricsBind: '127.0.0.1:0',
  };
});

after(async () => {
  await ca?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('sequencerPlan refuses missing or invalid flags before connecting', () => {
  const cases: Array<[string, () => Partial<SequencerFlags>, CliEnv | undefined, RegExp]> = [
    ['no partner id', () => ({ partnerId: undefined }), undefined, /--partner-id is required: the sequencer's partner id/],
    ['no signing key', () => ({ signingKey: undefined }), undefined, /--signing-key is required: the tree-head Ed25519 private\.pem/],
    ['unreadable signing key', () => ({ signingKey: join(dir, 'missing.pem') }), undefined, /cannot read --signing-key .*missing\.pem/],
    ['signing key not a key', () => ({ signingKey: files.garbage }), undefined, /--signing-key .* is not an Ed25519 private key in PKCS#8 PEM .*threatmesh keys generate/],
    ['no TLS certificate', () => ({ tlsCert: undefined }), undefined, /--tls-cert is required/],
    ['no TLS CA', () => ({ tlsCa: undefined }), undefined, /--tls-ca is required: the network CA bundle/],
    ['TLS certificate not PEM', () => ({ tlsCert: files.garbage }), undefined, /--tls-cert .* is not a PEM certificate/],
    ['certificate CN differs from the partner id', () => ({ tlsCert: files.otherCert }), undefined, /subject CN "someone-else", but --partner-id is "sequencer-1".*CN=sequencer-1/],
    ['no MongoDB URI', () => ({}), { ...env, mongodbUri: undefined }, /--mongodb-uri is required: .*MONGODB_URI/],
    ['bad listen address', () => ({ listen: '8443' }), undefined, /--listen "8443" must be host:port/],
    ['bad metrics address', () => ({ metricsBind: 'localhost:99999' }), undefined, /--metrics-bind "localhost:99999" must be host:port/],
    ['zero quorum', () => ({ quorum: '0' }), undefined, /--quorum must be a whole number of at least 1, got "0"/],
    ['CRL file that is a certificate', () => ({ tlsCrl: files.cert }), undefined, /--tls-crl .* holds no PEM certificate revocation list/],
    ['CRL file that does not parse', () => ({ tlsCrl: files.notCrl }), undefined, /--tls-crl .* is not a valid CRL/],
    ['round quota not a number', () => ({ maxOpenRounds: 'lots' }), undefined, /--max-open-rounds must be a whole number of at least 1, got "lots"/],
    ['entry cache not a number', () => ({ entryCache: '-1' }), undefined, /--entry-cache must be a whole number of entries \(0: always read the database\), got "-1"/],
    ['bad voting window', () => ({ votingWindow: 'a week' }), undefined, /not a duration/],
    ['no kubeconfig outside a cluster', () => ({ kubeconfig: undefined }), undefined, /KUBERNETES_SERVICE_HOST|in-cluster|service ?account/i],
  ];
  for (const [name, flags, e, re] of cases) {
    test(name, async () => {
      await assert.rejects(sequencerPlan({ ...base, ...flags() }, e ?? env), re);
    });
  }
});

describe('sequencerPlan with valid flags', () => {
  test('reads the files and resolves defaults: the Lease in --namespace, the URI from the environment', async () => {
    const plan = await sequencerPlan({ ...base, leaderElect: true, identity: 'replica-a', quorum: '2', votingWindow: '1h' }, env);
    assert.equal(plan.mongodbUri, 'mongodb://127.0.0.1:1');
    assert.equal(plan.service.key.publicKey.toRawBase64(), key.publicKey.toRawBase64());
    assert.deepEqual({ listen: plan.service.listen, quorum: plan.service.quorum, windowMs: plan.service.windowMs, le: plan.service.leaderElection }, {
      listen: { host: '127.0.0.1', port: 0 }, quorum: 2, windowMs: 3_600_000, le: { name: 'threatmesh-sequencer-leader', namespace: 'threatmesh', identity: 'replica-a' },
    });
    assert.equal(plan.cluster.server, 'https://127.0.0.1:1');
    const flagUri = await sequencerPlan({ ...base, mongodbUri: 'mongodb://flag:2', leaderElectionNamespace: 'ops' , leaderElect: true }, env);
    assert.equal(flagUri.mongodbUri, 'mongodb://flag:2');
    assert.equal(flagUri.service.leaderElection?.namespace, 'ops');
    assert.equal(plan.service.tls.crlPem, undefined, 'no revocation check unless --tls-crl');
    assert.match((await sequencerPlan({ ...base, tlsCrl: files.crl }, env)).service.tls.crlPem ?? '', /BEGIN X509 CRL/);
  });
});
