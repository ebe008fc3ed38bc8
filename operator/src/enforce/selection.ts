/**
 * The decision for every record of the replicated set under one policy, kept up to date from
 * full loads and from changed records (by high-water mark), with the time-driven transitions
 * the log does not announce: an indicator whose validUntil passes leaves the enforced set, one
 * whose validFrom arrives enters it, one whose effective confidence decays below the minimum
 * leaves it (`sweep`); a decayed indicator sighted again comes back (`resight`). Counts per skip
 * reason are kept incrementally. Records are kept only in the slots whose decision can change
 * without a log event (a time ahead, or decayed).
 */
import type { ResolvedSelector } from '../api/enforcement.ts';
import type { Guard } from './guard.ts';
import { highWaterOf, parseRecord, type ParsedRecord } from './record.ts';
import { decide, type Candidate, type SkipReason } from './select.ts';

interface Skip {
  readonly reason: SkipReason;
  /** Kept when the decision changes by itself at `retryAt`. */
  readonly record?: ParsedRecord;
  readonly retryAt?: number;
}

type Slot = { readonly enforce: true; readonly candidate: Candidate; readonly record?: ParsedRecord; readonly retryAt?: number } | ({ readonly enforce: false } & Skip);

/** What a policy's selection depends on besides the records. */
export interface SelectionRules {
  readonly selector: ResolvedSelector;
  readonly guard: Guard;
  /** The corroborated last sighting of a digest (epoch ms), read when the selector decays confidence. @default none sighted */
  readonly lastSeen?: (digest: string) => number | undefined;
}

/** One change of the enforced set: what an indicator was enforced as before and after (either may be absent). */
export interface Change {
  readonly before: Candidate | undefined;
  readonly after: Candidate | undefined;
}

/** A record refused as malformed, for the log. */
export interface Malformed {
  readonly id: string;
  readonly why: string;
}

/** The selection of one policy. */
export class Selection {
  readonly #rules: SelectionRules;
  readonly #slots = new Map<string, Slot>();
  readonly #skipped = new Map<string, number>();
  #selected = 0;
  #nextEvent = Number.POSITIVE_INFINITY;
  #highWater = -1;
  #version = 0;
  #malformed: Malformed[] = [];
  #journal = false;
  #changes: Change[] = [];

  constructor(rules: SelectionRules) {
    this.#rules = rules;
  }

  /** Highest log index (admission or revocation) seen. */
  get highWater(): number {
    return this.#highWater;
  }

  /** Bumped whenever the enforced set changes. */
  get version(): number {
    return this.#version;
  }

  /** Records known (every slot). */
  get size(): number {
    return this.#slots.size;
  }

  /** Enforced indicators. */
  get selected(): number {
    return this.#selected;
  }

  /** Skipped records by reason (reasons with no record omitted). */
  skipped(): Record<string, number> {
    return Object.fromEntries([...this.#skipped].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** When the next time-driven change is due (epoch ms; Infinity when none). */
  get nextEvent(): number {
    return this.#nextEvent;
  }

  /** Malformed records seen since the last call, then forgets them. */
  takeMalformed(): Malformed[] {
    const m = this.#malformed;
    this.#malformed = [];
    return m;
  }

  /** Decides one stored document (new or changed) at `now`. */
  apply(doc: unknown, now: number): void {
    this.#highWater = Math.max(this.#highWater, highWaterOf(doc));
    const parsed = parseRecord(doc);
    if (!parsed.ok) {
      const id = parsed.digest ?? `_id:${String((doc as { _id?: unknown } | null)?._id)}`;
      this.#malformed.push({ id, why: parsed.why });
      this.#set(id, { enforce: false, reason: 'malformed' });
      return;
    }
    this.#setDecision(parsed.record, now);
  }

  /** Re-decides the records whose decision changed with time (validUntil passed, validFrom reached, confidence decayed); true when the enforced set changed. */
  sweep(now: number): boolean {
    if (now < this.#nextEvent) return false;
    const before = this.#version;
    this.#nextEvent = Number.POSITIVE_INFINITY;
    for (const [id, slot] of [...this.#slots]) {
      const at = slotTime(slot);
      if (at === undefined) continue;
      if (at > now) this.#nextEvent = Math.min(this.#nextEvent, at);
      else if (slot.record) this.#setDecision(slot.record, now);
      else if (slot.enforce) this.#set(id, { enforce: false, reason: 'expired' });
    }
    return this.#version !== before;
  }

  /** Re-decides the records of `digests` after their sightings changed (a decayed indicator sighted again comes back); true when the enforced set changed. */
  resight(digests: Iterable<string>, now: number): boolean {
    const before = this.#version;
    for (const digest of digests) {
      const slot = this.#slots.get(digest);
      if (slot?.record) this.#setDecision(slot.record, now);
    }
    return this.#version !== before;
  }

  /** Indicators left out because their confidence decayed. */
  get decayed(): number {
    return this.#skipped.get('decayed') ?? 0;
  }

  /** Every enforced candidate (unordered). */
  candidates(): Candidate[] {
    const out: Candidate[] = [];
    for (const s of this.#slots.values()) if (s.enforce) out.push(s.candidate);
    return out;
  }

  #setDecision(record: ParsedRecord, now: number): void {
    const rules = this.#rules;
    const d = decide(record, rules.selector, rules.guard, now, rules.selector.decay ? rules.lastSeen?.(record.digest) : undefined);
    const keep = d.retryAt !== undefined ? { retryAt: d.retryAt, record } : !d.enforce && d.reason === 'decayed' ? { record } : {};
    const slot: Slot = d.enforce ? { enforce: true, candidate: d.candidate, ...keep } : { enforce: false, reason: d.reason, ...keep };
    this.#set(record.digest, slot);
  }

  #set(id: string, slot: Slot): void {
    const old = this.#slots.get(id);
    if (old) this.#count(old, -1);
    this.#slots.set(id, slot);
    this.#count(slot, 1);
    const at = slotTime(slot);
    if (at !== undefined) this.#nextEvent = Math.min(this.#nextEvent, at);
    const before = old?.enforce ? old.candidate : undefined;
    const after = slot.enforce ? slot.candidate : undefined;
    if ((before || after) && !(before && after && before.key === after.key && before.confidence === after.confidence)) {
      this.#version++;
      if (this.#journal) this.#changes.push({ before, after });
    }
  }

  /** Starts recording every change of the enforced set (after a full load, so the load itself is not recorded). */
  record(): void {
    this.#journal = true;
    this.#changes = [];
  }

  /** The changes of the enforced set since the last call (in order), then forgets them. */
  takeChanges(): Change[] {
    const c = this.#changes;
    this.#changes = [];
    return c;
  }

  #count(slot: Slot, delta: number): void {
    if (slot.enforce) this.#selected += delta;
    else this.#skipped.set(slot.reason, (this.#skipped.get(slot.reason) ?? 0) + delta);
  }
}

function slotTime(slot: Slot): number | undefined {
  if (!slot.enforce) return slot.retryAt;
  const until = slot.candidate.validUntil;
  if (slot.retryAt === undefined) return until;
  return until === undefined ? slot.retryAt : Math.min(until, slot.retryAt);
}
