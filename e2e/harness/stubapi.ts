/**
 * A stub in front of a real kube-apiserver, only to provoke 5xx: an HTTPS server (its own test
 * certificate) that forwards every request to the real apiserver with the admin credentials,
 * except the ones `failing` selects, which it answers with a 5xx Status as an overloaded or
 * broken apiserver does. Give the component under test the kubeconfig it writes.
 */
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { renderKubeconfig, type AdminCredentials } from '../../operator/src/dev/controlplane/kubeconfig.ts';
import type { IssuedCert } from './pki.ts';

/** A running stub. */
export interface StubApi {
  readonly port: number;
  /** Requests answered with a 5xx so far. */
  failed(): number;
  /** Chooses which requests fail from now on (undefined: none) and with which status. */
  failWhen(select: ((req: IncomingMessage) => boolean) | undefined, status?: number): void;
  /** Writes a kubeconfig that reaches the apiserver through the stub; returns its path. */
  kubeconfig(path: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts the stub for `real` (the admin credentials of the real apiserver), serving with `cert` issued by `caPem`. */
export async function startStubApi(real: AdminCredentials, cert: IssuedCert, caPem: string): Promise<StubApi> {
  let select: ((req: IncomingMessage) => boolean) | undefined;
  let status = 503;
  let failed = 0;
  const target = new URL(real.server);
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    if (select?.(req) === true) {
      failed++;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'stub: the API server is unavailable', reason: 'ServiceUnavailable', code: status }));
      return;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, ca: real.caPem, cert: real.certPem, key: real.keyPem }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    failed: () => failed,
    failWhen: (s, code = 503) => {
      select = s;
      status = code;
    },
    kubeconfig: async (path) => {
      await writeFile(path, renderKubeconfig('stub', { ...real, server: `https://127.0.0.1:${port}`, caPem }), { mode: 0o600 });
      return path;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
