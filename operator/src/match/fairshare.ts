/**
 * Weighted fair share of scan capacity (pure): `capacity` shard slots are divided between scans
 * in proportion to their weights (LogScan priority), no scan getting more than it can use
 * (its demand: shards pending or running), and what a satisfied scan leaves is divided again
 * among the others (water-filling, max-min fairness). Integer slots are handed out by largest
 * remainder, ties to the scan that has waited longest (earliest `since`), then by key. A scan
 * with demand gets at least one slot whenever there are at least as many slots as such scans.
 */

/** One scan competing for capacity. */
export interface Claim {
  readonly key: string;
  /** Fair-share weight (> 0). */
  readonly weight: number;
  /** Slots it could use now (pending + running shards, capped by its own parallelism limit). */
  readonly demand: number;
  /** When it started waiting (for ties), epoch ms. */
  readonly since: number;
}

/** Slots per scan key (every claim has an entry, possibly 0). */
export function fairShare(claims: readonly Claim[], capacity: number): Map<string, number> {
  const out = new Map<string, number>(claims.map((c) => [c.key, 0]));
  let active = claims.filter((c) => c.demand > 0 && c.weight > 0);
  let left = Math.max(0, Math.floor(capacity));
  const exact = new Map<string, number>();
  // Water-filling on real shares: satisfied scans leave, the rest share again.
  let share = left;
  for (;;) {
    const weights = active.reduce((a, c) => a + c.weight, 0);
    const capped = active.filter((c) => (share * c.weight) / weights >= c.demand);
    if (capped.length === 0 || weights === 0) {
      for (const c of active) exact.set(c.key, (share * c.weight) / Math.max(weights, 1e-9));
      break;
    }
    for (const c of capped) {
      exact.set(c.key, c.demand);
      share -= c.demand;
    }
    active = active.filter((c) => !capped.includes(c));
    if (active.length === 0) break;
  }
  const order = claims.filter((c) => exact.has(c.key));
  for (const c of order) {
    const whole = Math.min(c.demand, Math.floor(exact.get(c.key) ?? 0));
    out.set(c.key, whole);
    left -= whole;
  }
  // Largest remainders first; a scan still at 0 goes before one that already has slots.
  const rest = order
    .filter((c) => (out.get(c.key) ?? 0) < c.demand)
    .sort((a, b) => Number((out.get(a.key) ?? 0) > 0) - Number((out.get(b.key) ?? 0) > 0)
      || ((exact.get(b.key) ?? 0) % 1) - ((exact.get(a.key) ?? 0) % 1) || a.since - b.since || a.key.localeCompare(b.key));
  for (const c of rest) {
    if (left <= 0) break;
    out.set(c.key, (out.get(c.key) ?? 0) + 1);
    left--;
  }
  return out;
}
