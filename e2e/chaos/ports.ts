/**
 * Fixed ports for processes that restart: below the kernel's ephemeral range (32768 and up on
 * Linux), so no outgoing connection's local port can take a port while its server is down, and
 * never handed out twice by one run.
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
const taken = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port in [20000, 32000) that is free now and that this process has not handed out before. */
export async function stablePort(): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (taken.has(port)) continue;
    taken.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 1000 tries`);
}
