/** Readiness probes for the local control plane: free ports, the apiserver's /readyz, a MongoDB ping. */
import { request } from 'node:https';
import { createServer } from 'node:net';
import { MongoClient } from 'mongodb';
import type { AdminCredentials } from './kubeconfig.ts';

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('freePort: no TCP address');
  return addr.port;
}

/** GETs `path` on the apiserver as the admin; resolves to the status code and body. */
export async function adminGet(creds: AdminCredentials, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, creds.server), {
      ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** True when the apiserver answers /readyz with 200. */
export async function apiserverReady(creds: AdminCredentials): Promise<boolean> {
  return (await adminGet(creds, '/readyz')).status === 200;
}

/** True when the MongoDB server at `uri` answers `ping`. */
export async function mongoReady(uri: string, timeoutMs = 2000): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    const res = await client.db('admin').command({ ping: 1 });
    return res['ok'] === 1;
  } finally {
    await client.close();
  }
}
