/**
 * One partner's real parts for the operator's exchange tests: a kube-apiserver and FerretDB
 * (chaos/cluster.ts), the CRDs, the namespace, a sequencer behind real gRPC with mutual TLS
 * (in-memory log) and the PartnerNodes of the sequencer and of two partners, `alpha` (the
 * operator under test) and `bravo`; plus a log that keeps its lines for assertions.
 */
import { join } from 'node:path';
import { homedir } from 'node:os';
import { PassThrough } from 'node:stream';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { LocalCa, readTlsMaterial } from '../../operator/src/dev/sandbox/pki.ts';
import type { Voter } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { startCluster, type Cluster } from '../chaos/cluster.ts';
import { startBoundFromEnv } from './env.ts';
import { loadYamlDir } from './manifests.ts';

/** A logger and the lines it wrote. */
export interface KeptLog {
  readonly log: Logger;
  readonly lines: string[];
}

/** A JSON-lines logger at info whose lines are kept in memory. */
export function keptLog(): KeptLog {
  const lines: string[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
  return { log: createLogger(out, 'info'), lines };
}

/** The running parts. */
export interface PartnerBed {
  readonly cluster: Cluster;
  readonly ca: LocalCa;
  readonly server: ExchangeServer;
  /** The sequencer behind {@link server} (a test admits indicators through it). */
  readonly sequencer: Sequencer;
  /** The partners' signing keys. */
  readonly keys: { readonly alpha: SigningKey; readonly bravo: SigningKey };
  stop(): Promise<void>;
}

/** Starts the parts in `dir` (namespace `namespace`); `name` names the CA and the field manager. */
export async function startPartnerBed(dir: string, name: string, namespace: string, kept: KeptLog): Promise<PartnerBed> {
  const keys = { alpha: SigningKey.generate(), bravo: SigningKey.generate() };
  const seqKey = SigningKey.generate();
  const voters: Voter[] = (['alpha', 'bravo'] as const).map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: new PassThrough() });
  const cluster = await startCluster({ name: 'partner', dir: join(dir, 'cluster'), binaries, start: startBoundFromEnv(), onExit: (e) => kept.lines.push(`UNASKED EXIT ${JSON.stringify(e)}`) });
  const ca = await LocalCa.open(join(dir, 'pki'), `threatmesh-${name}-ca`);
  const sequencer = await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: seqKey, partners: voters, quorum: 2, now: () => new Date(), log: kept.log });
  const server = await startExchangeServer({ sequencer, directory: new Map(voters.map((v) => [v.partnerId, v])), tls: await readTlsMaterial(await ca.issue('sequencer', 'server')), address: '127.0.0.1:0', log: kept.log });
  const node = (n: string, spec: PartnerNode['spec']): PartnerNode => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: n, namespace }, spec });
  await applyManifests(cluster.client, await loadYamlDir('crds'), `${name}-test`);
  await applyManifests(cluster.client, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    node('sequencer', { partnerId: 'sequencer', organization: 'sequencer', endpoint: `127.0.0.1:${server.port}`, publicKey: seqKey.publicKey.toRawBase64(), roles: ['sequencer'] }),
    ...(['alpha', 'bravo'] as const).map((id) => node(id, { partnerId: id, organization: id, endpoint: '127.0.0.1:9', publicKey: keys[id].publicKey.toRawBase64(), roles: ['contributor', 'voter'] })),
  ], `${name}-test`);
  return { cluster, ca, server, sequencer, keys, stop: async () => { await server.stop(); await cluster.stop(); } };
}
