/**
 * What the attack tests share: a real FerretDB (no kube-apiserver), a MongoClient on it, and a
 * test CA with an mTLS identity for each party. The tests mount their attacks on top.
 */
import { after, before } from 'node:test';
import { MongoClient } from 'mongodb';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { controlPlaneOptionsFromEnv } from './env.ts';
import { createTestCa, type TestCa } from './pki.ts';

/** A started bed; `stop` runs the test's closers (newest first), then stops the bed. */
export interface AttackBed<Id extends string> {
  readonly cp: ControlPlane;
  readonly mongo: MongoClient;
  readonly ca: TestCa;
  /** The mTLS identity of each party, issued by `ca`. */
  readonly tls: Readonly<Record<Id, TlsMaterial>>;
  stop(closers?: ReadonlyArray<() => Promise<void> | void>): Promise<void>;
}

/** Starts the database, connects, creates the CA `name` and issues an identity per id in `ids`. */
export async function startAttackBed<Id extends string>(name: string, ids: readonly Id[]): Promise<AttackBed<Id>> {
  const cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  const mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  let ca: TestCa | undefined;
  try {
    await mongo.connect();
    ca = await createTestCa(name);
    const tls = {} as Record<Id, TlsMaterial>;
    for (const id of ids) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
    const issued = ca;
    return {
      cp, mongo, ca: issued, tls,
      stop: async (closers = []) => {
        for (const close of [...closers].reverse()) await close();
        await mongo.close();
        await issued.dispose();
        await cp.stop();
      },
    };
  } catch (err) {
    await mongo.close();
    await ca?.dispose();
    await cp.stop();
    throw err;
  }
}

/**
 * Registers `before`/`after` hooks in the calling test file that start the bed and, at the end,
 * run `closers` and stop it; the answer reads the started bed (only inside tests and hooks).
 */
export function attackBedHooks<Id extends string>(name: string, ids: readonly Id[], closers: ReadonlyArray<() => Promise<void> | void>): Pick<AttackBed<Id>, 'mongo' | 'tls'> {
  let bed: AttackBed<Id> | undefined;
  before(async () => {
    bed = await startAttackBed(name, ids);
  });
  after(async () => {
    await bed?.stop(closers);
  });
  const started = (): AttackBed<Id> => {
    if (bed === undefined) throw new Error(`the attack bed ${name} is not started (read it inside a test or hook)`);
    return bed;
  };
  return {
    get mongo() {
      return started().mongo;
    },
    get tls() {
      return started().tls;
    },
  };
}
