/**
 * A partner shares its own sightings with its peers: every push sends each peer the sightings
 * that changed since the last report it accepted, as signed reports (match/sharing.ts) of at most
 * SHARING_LIMITS.maxSightings, oldest change first, to the peer's sightings API
 * (serve/sightings.ts). The position per peer advances only after the peer accepted a report, so
 * a peer that is down gets everything once it is back, and a resent report only replaces the
 * peer's figures (the receiver never adds). A refused report stops that peer's push and is
 * reported: the peer's configuration (our sighting key, our consumer name) must change first.
 * What leaves is only digests, counts and hour buckets: the source types and values in the
 * `sightings` documents stay home.
 */
import type { SigningKey } from '../domain/signature.ts';
import type { Logger } from '../log.ts';
import type { PushPosition, SightingDoc } from '../store/sightings.ts';
import type { SightingFacts } from './report.ts';
import { SHARING_LIMITS, signSightingReport, type SignedSightingReport } from './sharing.ts';
import type { PostOutcome } from './sightingclient.ts';

/** One peer and how to send it a report. */
export interface PushPeer {
  readonly name: string;
  post(report: SignedSightingReport): Promise<PostOutcome>;
}

/** What the pusher reads and where it keeps its positions. */
export interface PushDeps {
  readonly partnerId: string;
  readonly key: SigningKey;
  readonly peers: readonly PushPeer[];
  /** This partner's sightings written after `after`, in (updatedAt, _id) order, at most `limit`. */
  changedSince(after: PushPosition | undefined, limit: number): Promise<SightingDoc[]>;
  readonly positions: {
    get(peer: string): Promise<PushPosition | undefined>;
    save(peer: string, at: PushPosition): Promise<void>;
  };
  readonly now: () => Date;
  readonly log: Logger;
  /** Sightings per report. @default SHARING_LIMITS.maxSightings */
  readonly batch?: number;
}

/** How one peer's push went. */
export interface PeerPush {
  readonly peer: string;
  /** Sightings in reports the peer accepted. */
  readonly sent: number;
  readonly reports: number;
  /** Sightings left out because the receiver's age window refuses them. */
  readonly tooOld: number;
  /** Set when the push stopped early: `refused` (fix the configuration) or `unavailable` (retried next push). */
  readonly stopped?: { readonly outcome: 'refused' | 'unavailable'; readonly status: number; readonly detail: string };
}

// A day inside the receiver's window, so a bucket that ages while in flight is not refused.
const AGE_MARGIN_MS = 24 * 3_600_000;

function facts(docs: readonly SightingDoc[], now: Date): { send: SightingFacts[]; tooOld: number } {
  const oldest = now.getTime() - SHARING_LIMITS.maxAgeMs + AGE_MARGIN_MS;
  const send = docs.filter((d) => d.bucketStart.getTime() >= oldest).map((d) => ({ digest: d.digest, bucketStart: d.bucketStart, count: d.count, firstSeen: d.firstSeen, lastSeen: d.lastSeen }));
  return { send, tooOld: docs.length - send.length };
}

/** Pushes this partner's changed sightings to every peer; see the module doc. */
export class SightingPusher {
  readonly #d: PushDeps;

  constructor(deps: PushDeps) {
    this.#d = deps;
  }

  /** One push to every peer, one after the other; never rejects for a peer's failure. */
  async pushOnce(): Promise<PeerPush[]> {
    const out: PeerPush[] = [];
    for (const peer of this.#d.peers) out.push(await this.#pushTo(peer));
    return out;
  }

  async #pushTo(peer: PushPeer): Promise<PeerPush> {
    const limit = this.#d.batch ?? SHARING_LIMITS.maxSightings;
    let at = await this.#d.positions.get(peer.name);
    let [sent, reports, tooOld] = [0, 0, 0];
    for (;;) {
      const docs = await this.#d.changedSince(at, limit);
      if (docs.length === 0) return { peer: peer.name, sent, reports, tooOld };
      const last = docs[docs.length - 1] as SightingDoc;
      const next = { updatedAt: last.updatedAt ?? new Date(0), id: last._id };
      const f = facts(docs, this.#d.now());
      tooOld += f.tooOld;
      if (f.send.length > 0) {
        const r = await peer.post(signSightingReport(this.#d.partnerId, f.send, this.#d.key, this.#d.now()));
        if (r.outcome !== 'sent') {
          this.#d.log[r.outcome === 'refused' ? 'error' : 'warn'](r.outcome === 'refused'
            ? 'a peer refused our sighting report: check that its serve config lists us as a sighter with our sighting key'
            : 'a peer is unreachable or busy; our sightings wait for the next push', { peer: peer.name, status: r.status, detail: r.detail });
          return { peer: peer.name, sent, reports, tooOld, stopped: r };
        }
        sent += f.send.length;
        reports++;
      }
      await this.#d.positions.save(peer.name, next);
      at = next;
      if (docs.length < limit) return { peer: peer.name, sent, reports, tooOld };
    }
  }
}
