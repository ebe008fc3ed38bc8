/**
 * A minimal Kubernetes REST client for integration tests: JSON over node:https with the test's
 * credentials, answers returned with their status code (never thrown) so tests can assert
 * 201/403/422, and a watch that yields decoded events. The operator's real client lives in
 * operator/src/runtime/; this one exists only so tests can poke the API server directly.
 */
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';

/** Where and as whom to connect. PEM strings; a token instead of a client certificate also works. */
export interface KubeTarget {
  readonly server: string;
  readonly ca?: string | Buffer | undefined;
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  readonly token?: string | undefined;
  readonly insecureSkipTlsVerify?: boolean | undefined;
}

/** An API answer: the HTTP status and the decoded JSON body (or the raw text when not JSON). */
export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

/** One watch event. */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

/** A Kubernetes object as tests build it. */
export type Obj = Record<string, unknown>;

/** Test-side REST calls against one API server. */
export class TestKube {
  readonly target: KubeTarget;

  constructor(target: KubeTarget) {
    this.target = target;
  }

  /** The same server, authenticated by `token` alone (for ServiceAccount tokens). */
  withToken(token: string): TestKube {
    return new TestKube({ server: this.target.server, ca: this.target.ca, insecureSkipTlsVerify: this.target.insecureSkipTlsVerify, token });
  }

  get(path: string): Promise<Reply> {
    return this.call('GET', path);
  }

  create(path: string, obj: Obj): Promise<Reply> {
    return this.call('POST', path, obj);
  }

  put(path: string, obj: Obj): Promise<Reply> {
    return this.call('PUT', path, obj);
  }

  delete(path: string, body?: Obj): Promise<Reply> {
    return this.call('DELETE', path, body);
  }

  /** Sends one request; resolves for every HTTP status, rejects only on transport errors. */
  async call(method: string, path: string, body?: Obj): Promise<Reply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.open(method, path, payload);
    const text = await readAll(res);
    let decoded: Obj;
    try {
      decoded = JSON.parse(text) as Obj;
    } catch {
      decoded = { text };
    }
    return { status: res.statusCode ?? 0, body: decoded };
  }

  /**
   * Watches `path` (a collection URL; `?watch=1` is added) and calls `onEvent` for each event
   * until the returned function is called.
   */
  async watch(path: string, onEvent: (e: WatchEvent) => void): Promise<() => void> {
    const sep = path.includes('?') ? '&' : '?';
    const res = await this.open('GET', `${path}${sep}watch=1`, undefined);
    if (res.statusCode !== 200) throw new Error(`watch ${path}: HTTP ${String(res.statusCode)}: ${await readAll(res)}`);
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') onEvent(JSON.parse(line) as WatchEvent);
      }
    });
    res.on('error', () => undefined);
    return () => res.destroy();
  }

  private open(method: string, path: string, payload: string | undefined): Promise<IncomingMessage> {
    const t = this.target;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (t.token !== undefined) headers['authorization'] = `Bearer ${t.token}`;
    const options: RequestOptions = {
      method, headers, ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.insecureSkipTlsVerify !== true,
    };
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, t.server), options, resolve);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Calls `attempt` until `done(result)` holds or `timeoutMs` passes, then returns the last result
 * (the caller asserts on it, so a timeout fails with the real answer in the message).
 */
export async function eventually<T>(attempt: () => Promise<T>, done: (r: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await attempt();
    if (done(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}
