/**
 * TAXII status resources (TAXII 2.1 §4.3.1) of POSTed objects. An object a contributor POSTs
 * becomes a signed proposal; its status is `pending` until the network decides, then `success`
 * (admitted) or `failure` (rejected, expired, or refused before proposing with the reason).
 * store/taxiistatus.ts keeps them in MongoDB (the stored types live there); only the consumer
 * that POSTed may read one.
 */
import type { StatusDetail, StatusStore, StoredStatus } from '../store/taxiistatus.ts';

export type { PendingItem, StatusDetail, StatusStore, StoredStatus } from '../store/taxiistatus.ts';

/** The TAXII status resource. */
export interface TaxiiStatusResource {
  readonly id: string;
  readonly status: 'complete' | 'pending';
  readonly request_timestamp: string;
  readonly total_count: number;
  readonly success_count: number;
  readonly successes: StatusDetail[];
  readonly failure_count: number;
  readonly failures: StatusDetail[];
  readonly pending_count: number;
  readonly pendings: StatusDetail[];
}

/** The resource of a stored status. */
export function statusResource(s: StoredStatus): TaxiiStatusResource {
  const detail = (d: StatusDetail): StatusDetail => ({ id: d.id, version: d.version, ...(d.message === undefined ? {} : { message: d.message }) });
  return {
    id: s.id, status: s.pendings.length === 0 ? 'complete' : 'pending', request_timestamp: s.requestTimestamp,
    total_count: s.successes.length + s.failures.length + s.pendings.length,
    success_count: s.successes.length, successes: s.successes.map(detail),
    failure_count: s.failures.length, failures: s.failures.map(detail),
    pending_count: s.pendings.length, pendings: s.pendings.map(detail),
  };
}

/** An in-memory status store (tests). */
export class MemoryStatusStore implements StatusStore {
  readonly #m = new Map<string, StoredStatus>();

  save(status: StoredStatus): Promise<void> {
    this.#m.set(status.id, structuredClone(status));
    return Promise.resolve();
  }

  get(id: string, owner: string): Promise<StoredStatus | undefined> {
    const s = this.#m.get(id);
    return Promise.resolve(s !== undefined && s.owner === owner ? structuredClone(s) : undefined);
  }
}
