/**
 * The serving side's audit log: the port (every TAXII or export read is recorded before the data
 * leaves; a failed write fails the request) and its MongoDB implementation (`serve_audit`, one
 * document per read, insert only).
 */
import type { Collection, Db } from 'mongodb';

/** One audited request. */
export interface AuditEvent {
  readonly at: Date;
  /** The consumer's name. */
  readonly identity: string;
  /** How it authenticated. */
  readonly via: 'token' | 'certificate';
  /** Which API: TAXII, the exports, the reports mounted on the same server (`/trends`, `/reports`), or sightings (`/sightings/v1/`). */
  readonly api: 'taxii' | 'export' | 'report' | 'sightings';
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

/** Collection name. */
export const SERVE_AUDIT = 'serve_audit';

/** Appends audit events; never updates or deletes. */
export class MongoAuditLog implements AuditLog {
  readonly #col: Collection<AuditEvent>;

  private constructor(db: Db) {
    this.#col = db.collection<AuditEvent>(SERVE_AUDIT);
  }

  /** Opens the log and creates its index on time (idempotent). */
  static async open(db: Db): Promise<MongoAuditLog> {
    const a = new MongoAuditLog(db);
    await a.#col.createIndex({ at: 1 }, { name: 'audit_at' });
    return a;
  }

  async record(event: AuditEvent): Promise<void> {
    await this.#col.insertOne({ ...event });
  }

  /** The newest `limit` events, newest first (for tests and investigations). */
  async latest(limit = 100): Promise<AuditEvent[]> {
    return this.#col.find({}, { projection: { _id: 0 } }).sort({ at: -1 }).limit(limit).toArray();
  }
}
