/**
 * The persistence contract of the exchange (operator/src/store/contract.ts) against the MongoDB
 * stores on a real MongoDB-wire server (FerretDB started by the harness, or MONGODB_URI): the same
 * suites store/memory.test.ts runs against the memory stores.
 */
import { after, before } from 'node:test';
import { MongoClient } from 'mongodb';
import { cursorStoreContract, leafStoreContract, logStoreContract, roundStoreContract } from '../../operator/src/store/contract.ts';
import { MongoLeafStore } from '../../operator/src/store/leaves.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import { MongoRoundStore } from '../../operator/src/store/rounds.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

let plane: ControlPlane;
let client: MongoClient;
let n = 0;
const suffix = uniqueSuffix();
const db = () => client.db(`tm_contract_${suffix}_${n++}`);

before(async () => {
  plane = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  client = new MongoClient(plane.mongoUri);
  await client.connect();
});
after(async () => {
  await client?.close();
  await plane?.stop();
});

logStoreContract('MongoDB', () => MongoLogStore.open(db()));
roundStoreContract('MongoDB', () => Promise.resolve(new MongoRoundStore(db())));
cursorStoreContract('MongoDB', () => Promise.resolve(new MongoCursorStore(db())));
leafStoreContract('MongoDB', () => Promise.resolve(new MongoLeafStore(db())));
