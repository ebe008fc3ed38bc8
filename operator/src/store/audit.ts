/** The serving side's audit log in MongoDB (`serve_audit`, one document per read; serve/audit.ts). */
import type { Collection, Db } from 'mongodb';
import type { AuditEvent, AuditLog } from '../serve/audit.ts';

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
