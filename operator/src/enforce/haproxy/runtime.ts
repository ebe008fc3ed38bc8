/**
 * A client of HAProxy's runtime API (the `stats socket ... level admin` CLI) over a Unix socket
 * or TCP, in non-interactive mode: one connection per command line, the answer is everything
 * HAProxy writes before it closes the connection. Payload commands (`add map ... <<`) carry
 * their lines after the command and end with an empty line; a whole request must fit HAProxy's
 * buffer (tune.bufsize, 16 KiB by default), which is why callers chunk payloads with
 * {@link chunkLines}.
 */
import { connect, type Socket } from 'node:net';

/** Where a runtime API listens: `unix:<path>` or `tcp:<host>:<port>`. */
export type RuntimeAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** Largest request (command plus payload) sent at once; below the 16 KiB default buffer with room for HAProxy's own headers. */
export const MAX_REQUEST_BYTES = 12_000;

/** An error talking to a runtime API, naming the address and the command. */
export class RuntimeApiError extends Error {
  readonly address: string;
  constructor(address: string, message: string, options?: ErrorOptions) {
    super(`HAProxy runtime API ${address}: ${message}`, options);
    this.name = 'RuntimeApiError';
    this.address = address;
  }
}

/** Parses `unix:/path` or `tcp:host:port` (IPv6 hosts in brackets); throws with the accepted forms. */
export function parseRuntimeAddress(text: string): RuntimeAddress {
  if (text.startsWith('unix:/')) return { kind: 'unix', path: text.slice('unix:'.length) };
  const m = /^tcp:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`runtime API address ${JSON.stringify(text)} must be unix:<absolute socket path> or tcp:<host>:<port>, e.g. unix:/var/run/haproxy/admin.sock or tcp:haproxy.threatmesh-system.svc:9999`);
  return { kind: 'tcp', host: (m[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port };
}

/** Sends command lines to one HAProxy. */
export interface RuntimeApi {
  /** The address as configured, for messages and metric labels. */
  readonly address: string;
  /** Sends one request (a command line, optionally with a payload) and returns HAProxy's whole answer. */
  send(request: string): Promise<string>;
}

/** Options of {@link SocketRuntimeApi}. */
export interface RuntimeApiOptions {
  /** Per-request limit from connect to close. @default 10000 */
  readonly timeoutMs?: number;
}

/** The runtime API over node:net. */
export class SocketRuntimeApi implements RuntimeApi {
  readonly address: string;
  readonly #target: RuntimeAddress;
  readonly #timeoutMs: number;

  constructor(address: string, opts: RuntimeApiOptions = {}) {
    this.address = address;
    this.#target = parseRuntimeAddress(address);
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  send(request: string): Promise<string> {
    const what = request.slice(0, request.search(/\n|$/)).slice(0, 80);
    return new Promise((resolve, reject) => {
      const sock: Socket = this.#target.kind === 'unix' ? connect({ path: this.#target.path }) : connect({ host: this.#target.host, port: this.#target.port });
      const chunks: Buffer[] = [];
      const fail = (err: Error): void => {
        sock.destroy();
        reject(new RuntimeApiError(this.address, `"${what}": ${err.message}`, { cause: err }));
      };
      sock.setTimeout(this.#timeoutMs, () => fail(new Error(`no answer within ${this.#timeoutMs} ms`)));
      sock.on('error', fail);
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      sock.on('connect', () => sock.write(request.endsWith('\n') ? request : `${request}\n`));
    });
  }
}

/** One `show map` line: a loaded map file, its versions and entry count. */
export interface MapInfo {
  readonly id: number;
  readonly file: string;
  readonly currentVersion: number;
  readonly nextVersion: number;
  readonly entries: number;
}

/** Parses the answer of `show map` (without arguments). */
export function parseMapList(text: string): MapInfo[] {
  const out: MapInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) \((.*?)\) .*\bcurr_ver=(\d+) next_ver=(\d+) entry_cnt=(\d+)/.exec(line);
    if (m) out.push({ id: Number(m[1]), file: m[2] ?? '', currentVersion: Number(m[3]), nextVersion: Number(m[4]), entries: Number(m[5]) });
  }
  return out;
}

/** The version number in the answer of `prepare map`, or undefined. */
export function parsePreparedVersion(text: string): number | undefined {
  const m = /New version created: (\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Splits `lines` into payloads so that `header + payload` stays under `maxBytes`; a single line
 * longer than that is a caller error (keys are hosts and addresses, far shorter).
 */
export function chunkLines(lines: readonly string[], headerBytes: number, maxBytes = MAX_REQUEST_BYTES): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let size = headerBytes;
  for (const l of lines) {
    const n = Buffer.byteLength(l) + 1;
    if (headerBytes + n > maxBytes) throw new Error(`map line of ${n} bytes does not fit one runtime API request of ${maxBytes} bytes`);
    if (size + n > maxBytes && cur.length > 0) {
      out.push(cur);
      cur = [];
      size = headerBytes;
    }
    cur.push(l);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
