/**
 * The ThreatIndicator admission path of the operator: (1) `evaluateIndicator` alone (three
 * Ed25519 vote verifications plus the quorum decision) per core, and (2) end to end on a real
 * kube-apiserver: N ThreatIndicators, each with three signed approvals in status, reconciled by
 * the real operator wiring (informers, queue, ThreatIndicatorReconciler, status writes) until all
 * are Approved. N: argv or BENCH_OPERATOR_COUNT (default 2000). Uses KUBECONFIG when set, else
 * starts the local control plane.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { cpuMillis, emit, progress, rate, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { createLogger } from '../operator/src/log.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../operator/src/runtime/types.ts';
import { PARTNER_NODES, THREAT_INDICATORS } from '../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../operator/src/api/types.ts';
import { indicatorObjectName } from '../operator/src/domain/canonical.ts';
import { evaluateIndicator } from '../operator/src/api/admission.ts';
import { partnerEntry, type PartnerEntry } from '../operator/src/api/partners.ts';
import { partner, signedVote, type TestPartner } from '../operator/src/controllers/fixtures.ts';
import { startOperator } from '../operator/src/controllers/setup.ts';
import { InProcessExecutor } from '../operator/src/controllers/inprocess.ts';

/** What `npm run bench -- operator --help` prints. */
const USAGE: BenchUsage = {
  name: 'operator',
  args: '[N]',
  measures: 'The ThreatIndicator admission path of the operator: evaluateIndicator alone per core (three Ed25519 vote verifications and the quorum decision), and end to end on a real kube-apiserver: N ThreatIndicators with three signed approvals reconciled by the real operator wiring until all are Approved.',
  knobs: [
    ['N', 'ThreatIndicators (or BENCH_OPERATOR_COUNT; default 2000)'],
    ['KUBECONFIG', 'use this API server instead of starting the local control plane'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const nsRef: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const count = Number(process.argv[2] ?? process.env['BENCH_OPERATOR_COUNT'] ?? 2000);

// The voting window opens at provenance.proposedAt (the same at every partner), not at local creation.
const proposedAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');

function indicator(ns: string, i: number): ThreatIndicator {
  const value = `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName({ type: 'ipv4', value }), namespace: ns }, spec: { type: 'ipv4', value, provenance: { partner: 'acme', proposedAt } } };
}

function pureRate(partners: readonly TestPartner[], entries: readonly PartnerEntry[]): BenchResult[] {
  const ti: ThreatIndicator = { ...indicator('b', 1), metadata: { name: 'x', namespace: 'b', creationTimestamp: '2026-11-25T00:00:00Z' } };
  ti.status = { votes: partners.map((p) => signedVote(p, ti, 'approve', '2026-11-25T01:00:00Z')) };
  const now = new Date('2026-11-25T02:00:00Z');
  const r = rate(() => { evaluateIndicator(ti, entries, now); }, 2000, 20);
  return [{ metric: 'evaluateIndicator, 3 signed votes (per core)', value: round(r.cpu), unit: 'indicators/s' }];
}

async function createAll(client: KubeHttpClient, ns: string, partners: readonly TestPartner[]): Promise<void> {
  let next = 0;
  const signedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const worker = async (): Promise<void> => {
    while (next < count) {
      const ti = indicator(ns, next++);
      await client.create(THREAT_INDICATORS, ti);
      await client.patchStatus(THREAT_INDICATORS, ti.metadata.name, ns, { status: { votes: partners.map((p) => signedVote(p, ti, 'approve', signedAt)) } });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function main(): Promise<void> {
  const partners = ['acme', 'globex', 'initech'].map((id) => partner(id));
  const entries = partners.map((p) => {
    const e = partnerEntry(`b/${p.id}`, p.node);
    if (!e.ok) throw new Error(e.message);
    return e.entry;
  });
  const results = pureRate(partners, entries);
  const cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const client = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 60_000 });
  const ns = `bench-op-${randomBytes(3).toString('hex')}`;
  try {
    const crdDir = fileURLToPath(new URL('../crds/', import.meta.url));
    const crds: KubeObject[] = [];
    for (const f of ['threatmesh.io_feeds.yaml', 'threatmesh.io_partnernodes.yaml', 'threatmesh.io_threatindicators.yaml']) crds.push(...parseManifests(await readFile(join(crdDir, f), 'utf8'), f));
    await applyManifests(client, crds, 'bench');
    await client.create(nsRef, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (const p of partners) await client.create(PARTNER_NODES, { ...p.node, metadata: { name: p.id, namespace: ns } });
    progress(`creating ${count} ThreatIndicators with 3 signed votes each`);
    await createAll(client, ns, partners);
    progress('starting the operator');
    const t0 = performance.now();
    const c0 = cpuMillis();
    const op = await startOperator({ client, log: quiet, executor: new InProcessExecutor({ module: new URL('../operator/src/controllers/ingest-entry.ts', import.meta.url) }, () => new Date()), watchJobs: false, namespace: ns, concurrency: 4, policy: { votingWindowMs: 24 * 3_600_000 } });
    let approved = 0;
    let lastReport = performance.now();
    while (approved < count) {
      await new Promise((r) => setTimeout(r, 250));
      const cached = op.manager.informer<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns }).list();
      approved = cached.filter((t) => t.status?.phase === 'Approved').length;
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        progress(`${approved}/${count} Approved; phases: ${JSON.stringify(Object.groupBy(cached, (t) => t.status?.phase ?? 'none'), (_k, v: unknown) => (Array.isArray(v) ? v.length : v))}`);
      }
      if (performance.now() - t0 > 600_000) throw new Error(`only ${approved}/${count} Approved after 10 minutes`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuMillis() - c0) / 1000;
    await op.stop();
    results.push({ metric: `operator start → ${count} ThreatIndicators Approved (wall)`, value: round(count / seconds), unit: 'indicators/s' });
    results.push({ metric: `operator CPU per 1000 indicators (operator process only)`, value: round((cpu / count) * 1000), unit: 's' });
  } finally {
    await client.delete(nsRef, ns).catch(() => undefined);
    client.close();
    await cp.stop();
  }
  emit(results);
}

if (!helpAsked(USAGE)) await main();
