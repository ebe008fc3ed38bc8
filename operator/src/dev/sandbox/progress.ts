/**
 * What `threatmesh up` shows while objects reconcile: one row per Feed, ThreatIndicator and
 * PartnerNode (like `kubectl get feed,ti,pn`), whether each is reconciled, and the table text.
 * Pure: no I/O, no clock.
 */
import type { Feed, PartnerNode, ThreatIndicator } from '../../api/types.ts';
import type { Condition, KubeObject } from '../../runtime/types.ts';

/** One object as shown in the table. */
export interface Row {
  /** Short kind: feed, ti, pn. */
  readonly kind: 'feed' | 'ti' | 'pn';
  readonly namespace: string;
  readonly name: string;
  /** Feed state and last run, indicator phase, or partner roles. */
  readonly state: string;
  /** Indicator votes: approvals+ / rejections-. */
  readonly votes: string;
  /** Indicator quorum: approvals/required. */
  readonly quorum: string;
  /** Ready condition: status and reason, or "-" when there is none. */
  readonly ready: string;
  /** What the object still waits for before it counts as reconciled; undefined when it is. */
  readonly waitingFor: string | undefined;
}

interface Reconcilable extends KubeObject {
  status?: { conditions?: Condition[]; observedGeneration?: number };
}

function readyCondition(o: Reconcilable): Condition | undefined {
  return o.status?.conditions?.find((c) => c.type === 'Ready');
}

function readyText(o: Reconcilable): string {
  const c = readyCondition(o);
  return c ? `${c.status} ${c.reason ?? ''}`.trim() : '-';
}

/** Why `o` is not reconciled at its current generation, or undefined when it is. */
export function reconcileGap(o: Reconcilable): string | undefined {
  const gen = o.metadata.generation;
  const seen = o.status?.observedGeneration;
  if (seen === undefined) return 'not reconciled yet';
  if (gen !== undefined && seen < gen) return `observedGeneration ${seen} < generation ${gen}`;
  if (!readyCondition(o)) return 'no Ready condition yet';
  return undefined;
}

function base(kind: Row['kind'], o: KubeObject): Pick<Row, 'kind' | 'namespace' | 'name'> {
  return { kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name };
}

/** A Feed's row; it counts as reconciled once a run has completed. */
export function feedRow(f: Feed): Row {
  const st = f.status ?? {};
  const state = f.spec.suspend ? 'suspended' : st.activeRun ? 'running' : (st.consecutiveFailures ?? 0) > 0 ? 'failing' : 'idle';
  const last = st.lastRun?.outcome ? ` (last: ${st.lastRun.outcome}${st.lastRun.summary ? ` ${st.lastRun.summary}` : ''})` : '';
  const gap = reconcileGap(f) ?? (st.lastRun?.completionTime ? undefined : 'its first run');
  return { ...base('feed', f), state: state + last, votes: '-', quorum: '-', ready: readyText(f), waitingFor: gap };
}

/** An indicator's row; `awaitingVotes` marks one that the local voters still have to decide. */
export function indicatorRow(ti: ThreatIndicator, awaitingVotes: boolean): Row {
  const st = ti.status ?? {};
  const q = st.quorum;
  const votes = q ? `${q.approvals ?? 0}+/${q.rejections ?? 0}-` : '-';
  const gap = reconcileGap(ti) ?? (awaitingVotes ? 'the local voters' : undefined);
  return { ...base('ti', ti), state: st.phase ?? '-', votes, quorum: q?.summary ?? '-', ready: readyText(ti), waitingFor: gap };
}

/** A PartnerNode's row. */
export function partnerRow(pn: PartnerNode): Row {
  return { ...base('pn', pn), state: pn.spec.roles.join(','), votes: '-', quorum: '-', ready: readyText(pn), waitingFor: reconcileGap(pn) };
}

const HEADER = ['NAME', 'STATE', 'VOTES', 'QUORUM', 'READY', 'WAITING FOR'];

/** The rows as an aligned text table; indicators beyond `maxIndicators` are summarized by phase. */
export function renderTable(rows: readonly Row[], maxIndicators = 20): string {
  const tis = rows.filter((r) => r.kind === 'ti');
  const shown = [...rows.filter((r) => r.kind !== 'ti'), ...tis.slice(0, maxIndicators)];
  const cells = [HEADER, ...shown.map((r) => [`${r.kind}/${r.name}`, r.state, r.votes, r.quorum, r.ready, r.waitingFor ?? '-'])];
  const widths = HEADER.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const lines = cells.map((c) => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  if (tis.length > maxIndicators) {
    const byPhase = new Map<string, number>();
    for (const r of tis.slice(maxIndicators)) byPhase.set(r.state, (byPhase.get(r.state) ?? 0) + 1);
    lines.push(`… ${tis.length - maxIndicators} more indicators: ${[...byPhase].map(([p, n]) => `${n} ${p}`).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Counts for a one-line summary: objects by kind and how many are reconciled. */
export function summarize(rows: readonly Row[]): { readonly total: number; readonly reconciled: number; readonly byKind: Readonly<Record<string, number>> } {
  const byKind: Record<string, number> = {};
  for (const r of rows) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
  return { total: rows.length, reconciled: rows.filter((r) => r.waitingFor === undefined).length, byKind };
}
