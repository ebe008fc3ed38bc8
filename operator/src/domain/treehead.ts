/**
 * Signed tree heads for the Merkle log: the log's size and root at a time, signed (kind
 * `tree-head`) by the log's key over the canonical JSON of
 * `{kind:'tree-head', logId, rootHash, timestamp, treeSize}`.
 */
import { canonicalJson } from './canonical.ts';
import { isHexHash, type MerkleLog } from './merkle.ts';
import type { PublicKey, SigningKey } from './signature.ts';
import { isIsoTimestamp } from './time.ts';

/** A log's state: size, root (hex), when (ISO 8601) and which log (the signing key's id). */
export interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly timestamp: string;
  readonly logId: string;
}

/** A {@link TreeHead} with the log key's base64 Ed25519 signature. */
export interface SignedTreeHead extends TreeHead {
  readonly signature: string;
}

/** Thrown by {@link signTreeHead} for malformed fields; the message says which and what is expected. */
export class TreeHeadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeHeadInputError';
  }
}

/** The exact text a tree-head signature covers. */
export function treeHeadSigningPayload(head: TreeHead): string {
  return canonicalJson({ kind: 'tree-head', logId: head.logId, rootHash: head.rootHash, timestamp: head.timestamp, treeSize: head.treeSize });
}

/** Signs a tree head as the log whose id is `key.id`. Throws {@link TreeHeadInputError} on malformed fields. */
export function signTreeHead(key: SigningKey, head: Omit<TreeHead, 'logId'>): SignedTreeHead {
  const full: TreeHead = { treeSize: head.treeSize, rootHash: head.rootHash, timestamp: head.timestamp, logId: key.id };
  const problem = treeHeadProblem(full);
  if (problem !== undefined) throw new TreeHeadInputError(`cannot sign tree head: ${problem}`);
  return { ...full, signature: key.sign('tree-head', treeHeadSigningPayload(full)) };
}

/** Signs the current size and root of `log`, stamped with `now`. */
export function signLogHead(key: SigningKey, log: MerkleLog, now: Date): SignedTreeHead {
  return signTreeHead(key, { treeSize: log.size, rootHash: log.rootHash(), timestamp: now.toISOString() });
}

/**
 * True when `sth` is well formed, names `key` as its log (`logId` = key id) and carries a valid
 * signature by it. Never throws: anything malformed gives false.
 */
export function verifyTreeHead(key: PublicKey, sth: SignedTreeHead): boolean {
  if (typeof sth !== 'object' || sth === null || treeHeadProblem(sth) !== undefined || sth.logId !== key.id) return false;
  return key.verify('tree-head', treeHeadSigningPayload(sth), sth.signature);
}

function treeHeadProblem(head: TreeHead): string | undefined {
  if (!Number.isSafeInteger(head.treeSize) || head.treeSize < 0) return `treeSize must be a non-negative integer, got ${String(head.treeSize)}`;
  if (!isHexHash(head.rootHash)) return 'rootHash must be a lowercase hex SHA-256 hash (64 characters)';
  if (!isIsoTimestamp(head.timestamp)) return `timestamp must be an ISO 8601 timestamp such as 2026-01-02T03:04:05Z, got ${JSON.stringify(head.timestamp)}`;
  if (!isHexHash(head.logId)) return 'logId must be a key id (lowercase hex SHA-256)';
  return undefined;
}
