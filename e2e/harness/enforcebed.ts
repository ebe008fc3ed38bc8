/**
 * What the enforcement tests share: a real kube-apiserver with ThreatMesh's and Cilium's CRDs,
 * a namespace, an admin client, and a fresh database on the real FerretDB.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, waitForCrds } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { controlPlaneOptionsFromEnv } from './env.ts';
import { loadYamlDir } from './manifests.ts';
import { upstreamCrds } from './upstream.ts';

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

/** A started bed; `stop` drops the database and the namespace and stops the control plane. */
export interface EnforceBed {
  readonly cp: ControlPlane;
  readonly admin: KubeHttpClient;
  readonly mongo: MongoClient;
  readonly db: Db;
  stop(): Promise<void>;
}

/** How to start one. */
export interface EnforceBedOptions {
  /** Field manager of the CRDs applied, and the database name's prefix. */
  readonly name: string;
  /** The namespace to create. */
  readonly namespace: string;
  /** @default 30000 */
  readonly requestTimeoutMs?: number;
}

/** Starts the control plane, applies the CRDs, creates the namespace and connects to a new database. */
export async function startEnforceBed(o: EnforceBedOptions): Promise<EnforceBed> {
  const cp = await startControlPlane(controlPlaneOptionsFromEnv());
  const admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: o.requestTimeoutMs ?? 30_000 });
  const mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  const db = mongo.db(`threatmesh_${o.name.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`);
  const stop = async (): Promise<void> => {
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
    await admin.delete(NAMESPACES, o.namespace).catch(() => undefined);
    admin.close();
    await cp.stop();
  };
  try {
    await admin.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
    const cilium = await upstreamCrds('cilium', process.env['THREATMESH_SHARED_DIR']);
    await applyManifests(admin, [...(await loadYamlDir('crds')), ...cilium], o.name);
    await waitForCrds(admin, ['enforcementpolicies.threatmesh.io', ...cilium.map((c) => c.metadata.name)]);
    await mongo.connect();
    return { cp, admin, mongo, db, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
