/**
 * Revocations during a trial, as analysts make them with `threatmesh revoke` and `threatmesh vote`:
 * a partner proposes the REVOKE and approves it with a reason, a second partner approves; every
 * call is retried (backoff) while the sequencer cannot answer (failover, a restart), and a vote
 * the sequencer acknowledged is never sent again. So a revocation whose two approvals were both
 * acknowledged must end in the log: if it does not, a vote was lost.
 */
import * as grpc from '@grpc/grpc-js';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal, voteSubject } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { ExchangeCallError, type ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { LocalPartner } from '../../operator/src/dev/sandbox/partners.ts';

/** What happened to one revocation. */
export interface RevocationOutcome {
  readonly digest: string;
  /** Both approvals acknowledged (counted, approved or duplicate). */
  readonly acknowledged: boolean;
  /** Why it did not get there (a refusal, or the deadline). */
  readonly problem?: string;
}

/** The two partners that revoke: the proposer and a second voter. */
export interface Revokers {
  readonly proposer: { readonly key: LocalPartner; readonly client: ExchangeClient };
  readonly second: { readonly key: LocalPartner; readonly client: ExchangeClient };
}

const TRANSIENT = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.UNKNOWN, grpc.status.INTERNAL, grpc.status.RESOURCE_EXHAUSTED]);

function transient(err: unknown): boolean {
  if (!(err instanceof ExchangeCallError)) return true;
  // A refusal with a reason is the sequencer's answer, except one that says it cannot decide now.
  return err.reason === undefined ? TRANSIENT.has(err.code) : err.reason === 'quorum-unreachable';
}

async function retrying<T>(what: string, deadline: number, fn: () => Promise<T>): Promise<T> {
  let delay = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!transient(err) || Date.now() + delay > deadline) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  }
}

/** Revokes `ind`: propose, then two approvals; resolves when both are acknowledged or it gives up at `deadline`. */
export async function revoke(ind: Indicator, who: Revokers, reason: string, deadline: number): Promise<RevocationOutcome> {
  const digest = indicatorDigest(ind);
  const subject = voteSubject('revoke', digest);
  const p = who.proposer;
  try {
    await retrying('propose', deadline, () => p.client.propose({ kind: 'revoke', indicatorJson: indicatorCanonicalJson(ind), proposerId: p.key.id, signature: signProposal(p.key.key, 'revoke', ind) }));
    for (const [v, withReason] of [[p, true], [who.second, false]] as const) {
      // Signed once: a retry sends the same vote, as a client that did not hear the answer would.
      const vote = signVote(v.key.key, { partnerId: v.key.id, digest: subject, decision: 'approve', signedAt: new Date().toISOString(), ...(withReason ? { reason } : {}) });
      await retrying(`${v.key.id} vote`, deadline, () => v.client.vote(vote));
    }
    return { digest, acknowledged: true };
  } catch (err) {
    return { digest, acknowledged: false, problem: err instanceof Error ? err.message : String(err) };
  }
}
