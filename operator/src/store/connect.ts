/**
 * Opening a MongoDB connection at a process's start. A database that is down or out of reach is
 * waited for with capped, jittered backoff (each failed attempt is logged once, with the cause and
 * what to check): the process stays up and reports not ready, as the "clear failure"
 * asks. Only a configuration error a retry cannot fix (a malformed URI or option, credentials the
 * server refuses, a certificate that does not verify) fails at once, with the fix in its message.
 */
import { MongoClient } from 'mongodb';
import type { Logger } from '../log.ts';
import { settleWithin } from '../runtime/clock.ts';
import { retryWithBackoff, type RetryOptions } from '../runtime/retry.ts';

function text(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}

/** The driver's timeouts that bound how long a dead or blackholed database link can hold a caller (see {@link MONGO_TIMEOUTS}). */
export interface MongoTimeouts {
  /** How long an operation waits for a usable server before it fails (MongoServerSelectionError). */
  readonly serverSelectionTimeoutMS: number;
  /** TCP connect and handshake of a new connection; also the time a heartbeat may take before the server is marked down and the operations in flight on it are interrupted. */
  readonly connectTimeoutMS: number;
  /** Time between heartbeats of the driver's monitor (on its own connection). */
  readonly heartbeatFrequencyMS: number;
  /** Longest silence on one operation's socket: a backstop for a connection that stalls alone while heartbeats pass; above the longest single command ThreatMesh sends. */
  readonly socketTimeoutMS: number;
}

/**
 * The timeouts of every MongoDB client ThreatMesh builds (docs/adr/2026-12-07-mongodb-timeouts.md).
 * A blackholed link fails the operations in flight within about heartbeatFrequencyMS +
 * connectTimeoutMS (the monitor's heartbeat times out and interrupts them) and new ones within
 * serverSelectionTimeoutMS; a long command (a large bulk write, a catch-up page) is bounded
 * only by socketTimeoutMS, since heartbeats travel on their own connection.
 */
export const MONGO_TIMEOUTS: MongoTimeouts = { serverSelectionTimeoutMS: 15_000, connectTimeoutMS: 10_000, heartbeatFrequencyMS: 10_000, socketTimeoutMS: 300_000 };

/** A MongoDB client for `uri` with {@link MONGO_TIMEOUTS}, and `overrides` (a probe's shorter waits, a test's scaled ones). Not connected yet. */
export function mongoClient(uri: string, overrides: Partial<MongoTimeouts> = {}): MongoClient {
  return new MongoClient(uri, { ...MONGO_TIMEOUTS, ...overrides });
}

// MongoDB's "AuthenticationFailed" and "Unauthorized" server codes.
const AUTH_CODES: ReadonlySet<unknown> = new Set([18, 13]);

/**
 * Why `err`, from connecting to MongoDB (or from a first command), is a configuration error that
 * retrying cannot fix, with what to change; undefined for anything else (a database that is down
 * or unreachable, a timeout), which is worth retrying. Pure.
 */
export function mongoConfigError(err: unknown, flag = '--mongodb-uri'): string | undefined {
  const t = text(err);
  const name = err instanceof Error ? err.name : '';
  // Only the driver's own errors: a gossip port's TLS error, say, is not about the database.
  if (!name.startsWith('Mongo')) return undefined;
  if (name === 'MongoParseError' || name === 'MongoInvalidArgumentError' || name === 'MongoAPIError' || /Invalid scheme|Invalid connection string|URI (must|malformed)/i.test(t)) {
    return `${flag} is not a valid MongoDB connection string (${t}); fix it (mongodb://HOST:PORT/ or mongodb+srv://HOST/) and restart`;
  }
  if (name === 'MongoMissingCredentialsError' || AUTH_CODES.has((err as { code?: unknown }).code) || /Authentication failed|auth(entication)? mechanism|SCRAM|not authorized/i.test(t)) {
    return `MongoDB refused the credentials of ${flag} (${t}); fix the user name, password or authSource in the URI (or the Secret it comes from) and restart`;
  }
  if (/certificate|self[- ]signed|unable to verify|CERT_|SSL routines|wrong version number|hostname\/IP does not match/i.test(t)) {
    return `the TLS connection to MongoDB failed verification (${t}); fix tlsCAFile/tlsCertificateKeyFile in ${flag} or the database's certificate and restart`;
  }
  return undefined;
}

/**
 * True when `err` (or an error in its `cause` chain) says MongoDB does not answer or cannot be
 * reached (no server selected, a network error, a connection pool cleared): worth waiting for
 * with backoff, unlike a configuration error ({@link mongoConfigError}) or a refused command.
 * Pure.
 */
export function mongoUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (!e.name.startsWith('Mongo')) continue;
    if (/ServerSelection|Network|NotConnected|TopologyClosed|PoolCleared/.test(e.name) || /ECONNREFUSED|ECONNRESET|timed out/i.test(e.message)) return true;
  }
  return false;
}

/** Options of {@link connectMongo}. */
export interface ConnectOptions extends Partial<Pick<RetryOptions, 'baseMs' | 'capMs' | 'clock' | 'random'>> {
  readonly log: Logger;
  /** Ends the wait (SIGTERM while the database is down); the connection attempt in flight is closed. */
  readonly signal: AbortSignal;
  /** Names the flag of the URI in messages. @default '--mongodb-uri' */
  readonly flag?: string;
  /** Hears every failed attempt (a metric, a condition). */
  readonly onFailure?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Connects `client`, retrying with backoff while the database is down or unreachable; resolves
 * true once connected, false when `signal` aborted first. Throws FatalStartError (the fix in its
 * message) on a configuration error.
 */
export async function connectMongo(client: MongoClient, o: ConnectOptions): Promise<boolean> {
  const flag = o.flag ?? '--mongodb-uri';
  const onAbort = (): void => void client.close().catch(() => undefined);
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const done = await retryWithBackoff(async () => {
      await client.connect();
      return true;
    }, {
      ...o, fatal: (err) => mongoConfigError(err, flag),
      onFailure: (err, attempt, delayMs) => {
        o.log.error('cannot reach MongoDB; retrying with backoff', { cause: 'database-unavailable', fix: `check that MongoDB runs and that ${flag} reaches it`, attempt, retryInMs: delayMs, detail: text(err).split('\n')[0]!.slice(0, 300) });
        o.onFailure?.(err, attempt, delayMs);
      },
    });
    return done === true;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Closes `client`, waiting at most `ms`: a close can wait forever on a database that stopped
 * answering (a cursor's killCursors on a connection that no longer moves). Resolves false when
 * cut off; the close goes on in the background and the caller's process may have to exit
 * without it.
 */
export async function closeMongo(client: MongoClient, ms: number, log: Logger): Promise<boolean> {
  const closed = await settleWithin(client.close().then(() => true, () => true), ms, false);
  if (!closed) log.warn('the MongoDB client did not close in time (the database does not answer); going on without it', { waitedMs: ms });
  return closed;
}
