import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { operatorOptions, type OperatorFlags } from './operator.ts';
import { parseBind } from './flags.ts';
import { createLogger } from '../log.ts';
import type { CliEnv } from './env.ts';

describe('parseBind', () => {
  const ok: Array<[string, { host: string; port: number }]> = [
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }], [':9443', { host: '0.0.0.0', port: 9443 }], ['[::1]:0', { host: '::1', port: 0 }],
  ];
  for (const [text, want] of ok) test(text, () => assert.deepEqual(parseBind('--x', text), want));
  for (const bad of ['8080', 'host:', 'h:99999']) test(`${bad} refused`, () => assert.throws(() => parseBind('--metrics-bind', bad), /--metrics-bind .* must be host:port/));
});

describe('operatorOptions refuses inconsistent flags', () => {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const env: CliEnv = { kubeconfig: undefined, mongodbUri: undefined, cacheDir: '/tmp', logLevel: 'error', stdout: sink, stderr: sink };
  const log = createLogger(sink, 'error');
  const base: OperatorFlags = { metricsBind: '127.0.0.1:0', webhookBind: '127.0.0.1:0', leaderElect: false, executor: 'job', jobImage: 'img', votingWindow: '72h' };
  const exchange: Partial<OperatorFlags> = { exchange: true, partnerId: 'acme', signingKey: '/nonexistent/acme.pem', tlsCert: '/nonexistent/acme.crt', tlsKey: '/nonexistent/acme.key', tlsCa: '/nonexistent/ca.pem' };
  const cases: Array<[string, Partial<OperatorFlags>, RegExp]> = [
    ['partner id without key', { partnerId: 'acme' }, /--partner-id and --signing-key go together/],
    ['no kubeconfig outside a cluster', { jobImage: 'img' }, /KUBERNETES_SERVICE_HOST|in-cluster|service ?account/i],
    ['job executor without image', { jobImage: undefined }, /--executor job needs --job-image/],
    ['unknown executor', { executor: 'cron' }, /--executor must be job or inprocess/],
    ['different health bind', { healthBind: '127.0.0.1:1' }, /--health-bind must equal --metrics-bind/],
    ['cert without key', { webhookCert: 'c.pem' }, /--webhook-cert and --webhook-key go together/],
    ['zero quorum', { quorum: '0' }, /--quorum must be a whole number/],
    ['bad voting window', { votingWindow: 'a week' }, /not a duration/],
    ['exchange without identity and TLS', { exchange: true }, /--exchange needs --partner-id, --signing-key, --tls-cert, --tls-key, --tls-ca/],
    ['exchange without TLS', { exchange: true, partnerId: 'acme', signingKey: 'k.pem' }, /--exchange needs --tls-cert, --tls-key, --tls-ca/],
    ['exchange without a MongoDB URI', { ...exchange }, /--exchange needs a MongoDB URI: give --mongodb-uri/],
    ['exchange with a non-mongodb URI', { ...exchange, mongodbUri: 'http://db:27017' }, /--mongodb-uri "http:\/\/db:27017" must start with mongodb:\/\//],
    ['exchange with a bad gossip bind', { ...exchange, mongodbUri: 'mongodb://db', gossipBind: 'nowhere' }, /--gossip-bind "nowhere" must be host:port/],
    ['exchange with a bad sync interval', { ...exchange, mongodbUri: 'mongodb://db', syncInterval: '0s' }, /--sync-interval: duration "0s" is zero/],
    ['exchange with a bad repair interval', { ...exchange, mongodbUri: 'mongodb://db', repairInterval: 'hourly' }, /--repair-interval: "hourly" is not a duration/],
    ['exchange with a vote batch size that is not a count', { ...exchange, mongodbUri: 'mongodb://db', voteBatchSize: 'big' }, /--vote-batch-size must be 0 \(a signature per vote, protocol v1\) or a number of votes from 1 to 4096, got "big"/],
    ['exchange with a vote batch size above the limit', { ...exchange, mongodbUri: 'mongodb://db', voteBatchSize: '5000' }, /--vote-batch-size must be 0 .* from 1 to 4096, got "5000"; 256 is a good size/],
    ['vote batch size without --exchange', { voteBatchSize: '256' }, /--vote-batch-size only apply with --exchange/],
    ['proposal batch size that is not a count', { executor: 'inprocess', partnerId: 'acme', signingKey: 'k.pem', proposalBatchSize: '8x' }, /--proposal-batch-size must be 0 \(a signature per proposal, protocol v1\) or a number of proposals from 1 to 4096, got "8x"/],
    ['proposal batch size above the limit', { executor: 'inprocess', partnerId: 'acme', signingKey: 'k.pem', proposalBatchSize: '4097' }, /--proposal-batch-size must be 0 .* from 1 to 4096, got "4097"; 256 is a good size/],
    ['proposal batch size with Feed Jobs', { proposalBatchSize: '64' }, /--proposal-batch-size applies to Feed runs the operator signs \(--executor inprocess\)/],
    ['proposal batch size without a signing key', { executor: 'inprocess', proposalBatchSize: '64' }, /--proposal-batch-size signs Feed runs' proposals with this partner's key: give --partner-id and --signing-key too/],
    ['exchange namespace outside the watched namespace', { ...exchange, mongodbUri: 'mongodb://db', namespace: 'tm' }, /--namespace tm and --exchange-namespace threatmesh differ/],
    ['TLS flags without --exchange', { tlsCert: 'c.pem', votingPolicy: 'p.yaml' }, /--tls-cert, --voting-policy only apply with --exchange/],
    ['exchange with an unreadable signing key', { ...exchange, mongodbUri: 'mongodb://db' }, /--signing-key \/nonexistent\/acme.pem: cannot read it \(ENOENT\)/],
  ];
  for (const [name, flags, re] of cases) {
    test(name, async () => {
      await assert.rejects(operatorOptions({ ...base, ...flags }, env, log), re);
    });
  }

  test('exchange takes MONGODB_URI from the environment (then fails on the first unreadable file, before connecting)', async () => {
    await assert.rejects(operatorOptions({ ...base, ...exchange }, { ...env, mongodbUri: 'mongodb://127.0.0.1:1' }, log), /--signing-key \/nonexistent\/acme.pem: cannot read it/);
  });
});
