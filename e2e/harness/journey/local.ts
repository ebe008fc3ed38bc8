/**
 * The `local` target of the journeys: `threatmesh sandbox`'s network (dev/sandbox/network.ts),
 * one kube-apiserver + FerretDB per party on loopback and the ThreatMesh processes as children,
 * with the feed server on loopback. FerretDB runs on one PostgreSQL cluster with a database per
 * party (THREATMESH_FERRETDB_BACKEND=sqlite for SQLite), as the integration tests do.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ensureBinaries } from '../../../operator/src/dev/controlplane/build.ts';
import { startFeedServer } from '../../../operator/src/dev/sandbox/feedserver.ts';
import { startNetwork, type Member } from '../../../operator/src/dev/sandbox/network.ts';
import { createLogger } from '../../../operator/src/log.ts';
import { SigningKey } from '../../../operator/src/domain/signature.ts';
import { publishRotation } from './rotate.ts';
import { ferretdbBackendFromEnv, startBoundFromEnv } from '../env.ts';
import type { JourneyNetwork, JourneyOptions, JourneyParty } from './index.ts';

const MAIN = new URL('../../../operator/src/main.ts', import.meta.url).pathname;

/** Starts the sandbox network for a journey. */
export async function startLocalNetwork(opts: JourneyOptions): Promise<JourneyNetwork> {
  const binaries = await ensureBinaries({ cacheDir: opts.cacheDir, progress: new PassThrough() });
  const feeds = await startFeedServer(opts.feeds);
  try {
    const net = await startNetwork({
      dir: join(opts.dir, 'local'), partners: opts.partners, quorum: opts.quorum, fresh: true, binaries, backend: ferretdbBackendFromEnv(), start: startBoundFromEnv(), syncInterval: '1s',
      cli: { node: process.execPath, main: MAIN }, log: createLogger(new PassThrough(), 'warn'), progress: () => undefined,
    });
    const members = new Map<string, Member>([net.sequencer, ...net.partners].map((m) => [m.id, m]));
    const party = (m: Member, role: JourneyParty['role']): JourneyParty => ({ id: m.id, role, client: m.client });
    const of = (p: JourneyParty): Member => {
      const m = members.get(p.id);
      if (m === undefined) throw new Error(`no party ${p.id} in this network (parties: ${[...members.keys()].join(', ')})`);
      return m;
    };
    const partners = net.partners.map((m) => party(m, 'partner'));
    return {
      target: 'local', quorum: net.quorum, sequencer: party(net.sequencer, 'sequencer'), partners, feedBaseUrl: feeds.baseUrl,
      diagnostics: `logs in ${join(net.dir, 'logs')}`,
      explain: () => explainLogs([...members.values()].flatMap((m) => [m.logPath, ...(m.serving ? [m.serving.process.logPath] : [])])),
      addFeed: (p, feed) => net.addFeed(of(p), feed),
      view: (feed) => net.view({ partner: of(feed.partner), name: feed.name }),
      metrics: async (p) => {
        const res = await fetch(`http://127.0.0.1:${of(p).metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) throw new Error(`${p.id}: /metrics answered ${res.status}`);
        return res.text();
      },
      mongoUri: (p) => Promise.resolve(of(p).cluster.mongoUri ?? ''),
      local: {
        taxii: (p) => {
          const t = of(p).serving?.taxii;
          if (t === undefined) throw new Error(`${p.id} runs no threatmesh serve (the sequencer serves no TAXII)`);
          return t;
        },
        kubeconfig: (p) => of(p).cluster.kubeconfigPath,
      },
      stopParty: (p) => of(p).stop(),
      startParty: (p) => of(p).start(),
      rotateKey: async (p, overlapMs) => {
        const m = of(p);
        const next = SigningKey.generate();
        await publishRotation([...members.values()].map((x) => x.client), m.id, next.publicKey, new Date(Date.now() + overlapMs));
        await m.stop();
        await writeFile(m.keyPath, next.toPem(), { mode: 0o600 });
        await m.start();
      },
      stop: async () => {
        await net.stop();
        await feeds.close();
      },
    };
  } catch (err) {
    await feeds.close();
    throw err;
  }
}

/** The last `keep` warning and error lines of each JSON-lines log (non-JSON lines, e.g. a crash's stack, count as errors). */
export async function explainLogs(paths: readonly string[], keep = 12): Promise<string> {
  const parts = await Promise.all(paths.map(async (path) => {
    const text = await readFile(path, 'utf8').catch((err: unknown) => `(cannot read: ${String(err)})`);
    const bad = text.split('\n').filter((l) => l.trim() !== '' && !/"level":"(debug|info)"/.test(l));
    return bad.length === 0 ? '' : `--- ${basename(path)}: last ${Math.min(keep, bad.length)} of ${bad.length} warnings/errors\n${bad.slice(-keep).map((l) => l.slice(0, 600)).join('\n')}`;
  }));
  return parts.filter((p) => p !== '').join('\n') || 'no warnings or errors in the ThreatMesh logs';
}
