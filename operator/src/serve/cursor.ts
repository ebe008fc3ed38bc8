/**
 * The TAXII `next` cursor: an opaque token holding the log index of the last version served and
 * a fingerprint of the query it belongs to. Stable (a position in the log, never a date or an
 * offset), so paging neither loops nor skips where many objects share one date_added, and it
 * survives restarts and other server replicas. A token that does not decode, or that belongs to
 * another query (collection, filters, consumer TLP), is refused: the TLP filter is applied again
 * on every page anyway, a cursor only says where to continue.
 */
import { hash } from 'node:crypto';

/** Thrown for a `next` that is not one of ours or belongs to another query. */
export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

const VERSION = 1;
const MAX_TOKEN = 200;

/** A short fingerprint of everything that shapes a listing except the position. */
export function queryFingerprint(parts: readonly string[]): string {
  return hash('sha256', JSON.stringify(parts), 'base64url').slice(0, 16);
}

/** Encodes position `index` of the query with `fingerprint`. */
export function encodeCursor(index: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify([VERSION, index, fingerprint]), 'utf8').toString('base64url');
}

/** Decodes a `next` token for the query with `fingerprint`; throws {@link CursorError}. */
export function decodeCursor(token: string, fingerprint: string): number {
  if (token.length === 0 || token.length > MAX_TOKEN || !/^[A-Za-z0-9_-]+$/.test(token)) throw new CursorError('next is not a cursor this server issued; start again without next');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('next is not a cursor this server issued; start again without next');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== VERSION || !Number.isSafeInteger(parsed[1]) || (parsed[1] as number) < -1 || typeof parsed[2] !== 'string') {
    throw new CursorError('next is not a cursor this server issued; start again without next');
  }
  if (parsed[2] !== fingerprint) throw new CursorError('next belongs to another query: repeat the original query parameters (collection, match[...], added_after) with it');
  return parsed[1] as number;
}
