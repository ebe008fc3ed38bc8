/**
 * `kubectl port-forward` as a child process: how the kind target reaches a pod's port from the
 * test process (the kubelet enters the pod's network namespace, so the Cilium policies that keep
 * everyone else out do not apply, as for any operator at a terminal).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** An open forward: 127.0.0.1:`port` reaches the target's port until close(). */
export interface PortForward {
  readonly port: number;
  close(): void;
}

/** Forwards a free local port to `resource` (`svc/NAME`, `deploy/NAME`) port `remotePort` in `namespace`. */
export async function portForward(kubectl: string, kubeconfig: string, namespace: string, resource: string, remotePort: number): Promise<PortForward> {
  const child: ChildProcess = spawn(kubectl, ['--kubeconfig', kubeconfig, '-n', namespace, 'port-forward', '--address', '127.0.0.1', resource, `:${remotePort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl port-forward ${resource} :${remotePort} printed no port in 30 s: ${stderr}`)), 30_000);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward: ${err.message} (is kubectl on PATH?)`, { cause: err }));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward ${resource} exited ${String(code)}: ${stderr}`));
    });
  });
  return { port, close: () => void child.kill('SIGTERM') };
}
