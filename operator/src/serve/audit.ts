/**
 * The audit log port: every read through TAXII or the export API is recorded (who, which
 * collection or export, how many objects, when) before the data leaves. store/audit.ts writes
 * it to MongoDB (the types live there); a failed write fails the request (no unaudited reads).
 */
import type { AuditEvent, AuditLog } from '../store/audit.ts';

export type { AuditEvent, AuditLog } from '../store/audit.ts';

/** An in-memory audit log (unit tests). */
export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}
