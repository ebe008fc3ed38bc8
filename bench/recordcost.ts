/**
 * `node bench/recordcost.ts`: what one replicated record costs FerretDB + PostgreSQL to insert,
 * by part (notes/issue-14-dbwrites.md): 20,000 records in the sink's shape with genuine v2p
 * certificates (batch votes and batch proposals), inserted with insertMany of 2,048 into one
 * collection each, as stored (`full`), without the certificate (`noCert`: votes, proposal
 * signature and batch proof), with the certificate as one JSON text (`certText`), and `_id`
 * alone (`onlyId`); two rounds. Prints CPU ms per 1,000 records of the database processes
 * (bench/proccpu.ts) and of this process, and the wall rate. Uses this checkout's local
 * PostgreSQL settings (dev/controlplane/postgres.ts). A probe, not part of `npm run bench`.
 */
import { mkdtemp } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { databaseCpuMs } from './proccpu.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase } from '../operator/src/dev/controlplane/instance.ts';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { roundSubject, voteRecord } from '../operator/src/domain/entry.ts';
import { signProposalBatch } from '../operator/src/domain/proposalbatch.ts';
import { signVoteBatch } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';

const N = 20000;
const keys = { alpha: SigningKey.generate(), bravo: SigningKey.generate() };
const window = { opensAt: new Date().toISOString(), closesAt: new Date(Date.now() + 3e8).toISOString() };
const docs: Record<string, unknown>[] = [];
for (let first = 0; first < N; first += 256) {
  const inds = Array.from({ length: 256 }, (_, k) => ({ type: 'domain' as const, value: `h${(first + k).toString(36)}.probe.example` }));
  const votes = (['alpha', 'bravo'] as const).map((v) => signVoteBatch(keys[v], inds.map((ind) => ({ partnerId: v, digest: roundSubject('add', ind), decision: 'approve' as const, signedAt: window.opensAt }))));
  const props = signProposalBatch(keys.alpha, inds.map((indicator) => ({ indicator })));
  inds.forEach((ind, k) => {
    const d = indicatorDigest(ind);
    docs.push({ _id: d, digest: d, type: ind.type, value: ind.value, state: 'active', logIndex: first + k, proposerId: 'alpha', votes: votes.map((vs) => voteRecord(vs[k]!)), window, proposalSignature: props[k]!.signature, proposalBatch: props[k]!.batch, stixId: `indicator--${d.slice(0, 36)}`, addedAt: new Date(), name: `domain-${d.slice(0, 40)}` });
  });
}
process.stdout.write(`record: ${JSON.stringify(docs[0]).length} bytes of JSON\n`);
const variants: Record<string, (d: Record<string, unknown>) => Record<string, unknown>> = {
  full: (d) => d,
  noCert: (d) => { const { votes: _v, proposalBatch: _p, proposalSignature: _s, ...r } = d; return r; },
  certText: (d) => { const { votes, proposalBatch, proposalSignature, ...r } = d; return { ...r, cert: JSON.stringify({ votes, proposalBatch, proposalSignature }) }; },
  onlyId: (d) => ({ _id: d['_id'] }),
};
const bin = await ensureBinaries({ cacheDir: join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
const db = await startDatabase({ name: 'probe', dir, ferretdb: bin.ferretdb, backend: 'postgresql' });
const client = await MongoClient.connect(db.uri);
for (const round of [1, 2]) for (const [name, f] of Object.entries(variants)) {
  const col = client.db('p').collection(`${name}${round}`);
  await col.insertOne({ _id: 'x' as never });
  const c0 = databaseCpuMs() ?? 0; const n0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < N; i += 2048) await col.insertMany(docs.slice(i, i + 2048).map(f), { ordered: false });
  const n = process.cpuUsage(n0);
  process.stdout.write(`round ${round} ${name}: database ${Math.round(((databaseCpuMs() ?? 0) - c0) * 1000 / N)} ms CPU per 1,000, this process ${Math.round((n.user + n.system) / N)} ms, ${Math.round(N / ((performance.now() - t0) / 1000))} records/s\n`);
}
await client.close(); await db.stop();
process.exit(0);
