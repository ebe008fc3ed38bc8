/**
 * The audit log port: every read through TAXII or the export API is recorded (who, which
 * collection or export, how many objects, when) before the data leaves. store/audit.ts writes
 * it to MongoDB; a failed write fails the request (no unaudited reads).
 */

/** One audited request. */
export interface AuditEvent {
  readonly at: Date;
  /** The consumer's name. */
  readonly identity: string;
  /** How it authenticated. */
  readonly via: 'token' | 'certificate';
  readonly api: 'taxii' | 'export';
  /** What was read: `objects`, `manifest`, `collections`…, or the export's name. */
  readonly action: string;
  /** Collection alias, object id or export file; empty when none. */
  readonly resource: string;
  /** Objects (or export lines) returned. */
  readonly count: number;
  /** HTTP status of the reply. */
  readonly status: number;
}

/** Where audit events go. */
export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
}

/** An in-memory audit log (tests and `--audit none` previews). */
export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];

  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}
