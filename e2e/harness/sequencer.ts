/**
 * A sequencer behind real gRPC with mutual TLS on 127.0.0.1, for tests that drive it from
 * outside (CLI child processes): a run-time CA, one certificate and Ed25519 key per partner,
 * all written as PEM files a command line can point at, and the sequencer's log in its own
 * database on the given MongoDB-wire server.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Db } from 'mongodb';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { startExchangeServer, type ExchangeServer, type SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
import { Sequencer, type SequencerOptions } from '../../operator/src/exchange/sequencer/sequencer.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { createLogger } from '../../operator/src/log.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import { createTestCa } from './pki.ts';

/** Paths of one partner's PEM files, as `--tls-cert/--tls-key/--tls-ca/--signing-key` take them. */
export interface PartnerFiles {
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsCa: string;
  readonly signingKey: string;
}

/** A partner of the test network: its keys, TLS material and their files. */
export interface TestPartner {
  readonly id: string;
  readonly key: SigningKey;
  readonly tls: TlsMaterial;
  readonly files: PartnerFiles;
}

/** A running sequencer and its partners. Call {@link TestSequencer.stop} when done. */
export interface TestSequencer {
  readonly sequencer: Sequencer;
  /** The tree-head key: its public key goes into the sequencer's PartnerNode. */
  readonly key: SigningKey;
  readonly server: ExchangeServer;
  /** `127.0.0.1:<port>`; certificates name `localhost`, so clients pass that as server name. */
  readonly address: string;
  readonly partners: ReadonlyMap<string, TestPartner>;
  /** Log lines of the sequencer and server (debug level). */
  readonly logLines: readonly string[];
  stop(): Promise<void>;
}

/** Options of {@link startTestSequencer}. */
export interface TestSequencerOptions {
  /**
   * Puts a hostile core behind the real gRPC endpoint: `wrap` gets the honest sequencer and
   * returns what the endpoint serves (a sequencer that lies in some answers, as an attacker
   * controlling the sequencer would). @default the honest sequencer
   */
  readonly wrap?: (honest: Sequencer) => SequencerCore;
  /** Sequencer options over the harness's (round quota, skew…). @default none */
  readonly sequencer?: Pick<SequencerOptions, 'maxOpenRoundsPerProposer' | 'skewMs' | 'windowMs'>;
}

/** Starts a sequencer on `db` for `roles` (partner id → roles) with the given quorum. */
export async function startTestSequencer(db: Db, roles: Readonly<Record<string, PartnerEntry['roles']>>, quorum: number, opts: TestSequencerOptions = {}): Promise<TestSequencer> {
  const ca = await createTestCa('threatmesh-test-sequencer');
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-seq-'));
  const logLines: string[] = [];
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  const log = createLogger(out, 'debug');
  try {
    const tlsCa = join(dir, 'ca.pem');
    await writeFile(tlsCa, ca.caPem);
    const partners = new Map<string, TestPartner>();
    for (const id of Object.keys(roles)) partners.set(id, await partner(dir, id, ca.caPem, tlsCa, await ca.issue(id)));
    const entries: PartnerEntry[] = [...partners.values()].map((p) => ({ partnerId: p.id, publicKey: p.key.publicKey, roles: roles[p.id]! }));
    const key = SigningKey.generate();
    const sequencer = await Sequencer.open({ store: await MongoLogStore.open(db), key, partners: entries, quorum, now: () => new Date(), log, ...opts.sequencer });
    const server = await startExchangeServer({ sequencer: opts.wrap?.(sequencer) ?? sequencer, directory: new Map(entries.map((e) => [e.partnerId, e])), tls: { caPem: ca.caPem, ...(await ca.issue('sequencer')) }, address: '127.0.0.1:0', log });
    return {
      sequencer, key, server, address: `127.0.0.1:${server.port}`, partners, logLines,
      stop: async () => {
        await server.stop();
        await ca.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await ca.dispose();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function partner(dir: string, id: string, caPem: string, tlsCa: string, cert: { certPem: string; keyPem: string }): Promise<TestPartner> {
  const key = SigningKey.generate();
  const files: PartnerFiles = { tlsCert: join(dir, `${id}.crt`), tlsKey: join(dir, `${id}.key`), tlsCa, signingKey: join(dir, `${id}.signing.pem`) };
  await writeFile(files.tlsCert, cert.certPem);
  await writeFile(files.tlsKey, cert.keyPem, { mode: 0o600 });
  await writeFile(files.signingKey, key.toPem(), { mode: 0o600 });
  return { id, key, tls: { caPem, ...cert }, files };
}
