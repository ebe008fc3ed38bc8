/**
 * The teardown of a test file that runs `threatmesh` children against one control plane: drop
 * its databases, delete its namespace, remove its CA and files, stop the control plane. Every
 * part may be missing (a `before` that failed part-way), and a failed step does not skip the
 * others.
 */
import { rm } from 'node:fs/promises';
import { MongoClient } from 'mongodb';
import type { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import type { ControlPlane } from './controlplane.ts';
import type { TestCa } from './pki.ts';

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

/** What {@link disposeTestBed} cleans up. */
export interface TestBed {
  readonly cp?: ControlPlane | undefined;
  readonly admin?: KubeHttpClient | undefined;
  /** The test's namespace, deleted with the admin client. */
  readonly namespace: string;
  readonly ca?: TestCa | undefined;
  /** A temporary directory, removed with its contents. @default none */
  readonly dir?: string | undefined;
  /** Databases the test made on the control plane's MongoDB-wire server. */
  readonly databases: readonly string[];
}

/** Cleans up `bed`; never throws for a part that is missing or already gone. */
export async function disposeTestBed(bed: TestBed): Promise<void> {
  const mongo = new MongoClient(bed.cp?.mongoUri ?? 'mongodb://127.0.0.1:1', { serverSelectionTimeoutMS: 5_000 });
  for (const db of bed.databases) await mongo.connect().then(() => mongo.db(db).dropDatabase()).catch(() => undefined);
  await mongo.close();
  if (bed.admin !== undefined) {
    await bed.admin.delete(NAMESPACES, bed.namespace).catch(() => undefined);
    bed.admin.close();
  }
  await bed.ca?.dispose();
  if (bed.dir) await rm(bed.dir, { recursive: true, force: true });
  await bed.cp?.stop();
}
