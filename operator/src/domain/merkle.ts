/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, an append-only log with
 * inclusion and consistency proofs, and the pure verification algorithms of §2.1.3.2 and
 * §2.1.4.2. Hashes cross the API as lowercase hex SHA-256 strings (64 characters).
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';

/** Bytes in one SHA-256 hash. */
export const HASH_BYTES = 32;

/** MTH({}) — the root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Thrown by {@link MerkleLog} for an index or tree size it cannot serve; the message names the valid range. */
export class MerkleRangeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'MerkleRangeError';
  }
}

const HEX_HASH = /^[0-9a-f]{64}$/;
const LEAF_PREFIX = Buffer.from([0x00]);

/** RFC 9162 leaf hash: SHA-256(0x00 || data). Strings are hashed as UTF-8. */
export function leafHash(data: Uint8Array | string): string {
  return leafHashBytes(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('hex');
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right), over two hex hashes. */
export function nodeHash(left: string, right: string): string {
  return nodeHashBytes(fromHex(left, 'left'), fromHex(right, 'right')).toString('hex');
}

/** True when `value` is a lowercase hex SHA-256 hash. */
export function isHexHash(value: unknown): value is string {
  return typeof value === 'string' && HEX_HASH.test(value);
}

/**
 * An append-only RFC 9162 Merkle log held in memory. Leaf hashes and the hashes of every
 * complete, aligned subtree are stored in one growing byte array per tree level (about
 * 64 bytes per leaf in all), so roots and proofs for the current or any earlier size cost
 * O(log n) hashes at most. Not thread-safe; single writer.
 */
export class MerkleLog {
  // levels[k] holds the hashes of the complete subtrees of 2^k leaves, left to right.
  readonly #levels: HashArray[] = [new HashArray()];
  readonly #scratch = Buffer.alloc(1 + 2 * HASH_BYTES);
  #leafScratch = Buffer.alloc(1024);
  #size = 0;

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** Appends an entry (hashed as an RFC 9162 leaf) and returns its index. */
  append(data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // Reusing one buffer for 0x00 || data avoids an allocation per append.
    if (this.#leafScratch.length < bytes.length + 1) this.#leafScratch = Buffer.alloc(2 * (bytes.length + 1));
    this.#leafScratch[0] = 0x00;
    this.#leafScratch.set(bytes, 1);
    return this.#push(hash('sha256', this.#leafScratch.subarray(0, bytes.length + 1), 'hex'));
  }

  /** Appends an already computed leaf hash (hex) and returns its index. */
  appendLeafHash(leafHashHex: string): number {
    fromHex(leafHashHex, 'leaf hash');
    return this.#push(leafHashHex);
  }

  /** The leaf hash (hex) at `index`. */
  leafHash(index: number): string {
    this.#checkIndex(index, this.#size);
    return this.#levels[0]!.at(index).toString('hex');
  }

  /** MTH of the first `size` leaves (default: all), hex. */
  rootHash(size: number = this.#size): string {
    this.#checkSize(size, 'size');
    return size === 0 ? EMPTY_ROOT : this.#range(0, size).toString('hex');
  }

  /** RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of the first `size` leaves, deepest sibling first. */
  inclusionProof(index: number, size: number = this.#size): string[] {
    this.#checkSize(size, 'size');
    this.#checkIndex(index, size);
    const path: Buffer[] = [];
    let start = 0;
    let end = size;
    while (end - start > 1) {
      const k = splitPoint(end - start);
      if (index < start + k) {
        path.push(this.#range(start + k, end));
        end = start + k;
      } else {
        path.push(this.#range(start, start + k));
        start += k;
      }
    }
    return path.reverse().map((h) => h.toString('hex'));
  }

  /**
   * RFC 9162 §2.1.4.1 consistency proof that the tree of `oldSize` leaves is a prefix of the
   * tree of `newSize` leaves (default: all). Empty when the sizes are equal or `oldSize` is 0.
   */
  consistencyProof(oldSize: number, newSize: number = this.#size): string[] {
    this.#checkSize(newSize, 'newSize');
    this.#checkSize(oldSize, 'oldSize');
    if (oldSize > newSize) throw new MerkleRangeError(`oldSize ${oldSize} is larger than newSize ${newSize}; a log only grows`);
    if (oldSize === 0 || oldSize === newSize) return [];
    const path: Buffer[] = [];
    let start = 0;
    let end = newSize;
    let m = oldSize;
    let haveRoot1 = true;
    while (m !== end - start) {
      const k = splitPoint(end - start);
      if (m <= k) {
        path.push(this.#range(start + k, end));
        end = start + k;
      } else {
        path.push(this.#range(start, start + k));
        start += k;
        m -= k;
        haveRoot1 = false;
      }
    }
    if (!haveRoot1) path.push(this.#range(start, end));
    return path.reverse().map((h) => h.toString('hex'));
  }

  #push(leaf: string): number {
    const index = this.#size;
    this.#levels[0]!.push(leaf);
    this.#size += 1;
    // Each time a level gains an even count, the last two hashes complete a subtree one level up.
    for (let k = 0, count = this.#size; count % 2 === 0; k += 1, count /= 2) {
      const level = this.#levels[k]!;
      this.#scratch[0] = 0x01;
      this.#scratch.set(level.pair(count - 2), 1);
      if (this.#levels.length === k + 1) this.#levels.push(new HashArray());
      this.#levels[k + 1]!.push(hash('sha256', this.#scratch, 'hex'));
    }
    return index;
  }

  // MTH of leaves [start, end); start is always a multiple of a power of two >= end - start here.
  #range(start: number, end: number): Buffer {
    const width = end - start;
    const level = exactLog2(width);
    if (level >= 0) return this.#levels[level]!.at(start / width);
    const k = splitPoint(width);
    return nodeHashBytes(this.#range(start, start + k), this.#range(start + k, end));
  }

  #checkSize(size: number, name: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#size) {
      throw new MerkleRangeError(`${name} must be an integer from 0 to the log size ${this.#size}, got ${String(size)}`);
    }
  }

  #checkIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MerkleRangeError(`leaf index must be an integer from 0 to ${size - 1} (tree size ${size}), got ${String(index)}`);
    }
  }
}

/**
 * RFC 9162 §2.1.3.2: true when `proof` shows that `leafHashHex` is leaf `index` of the tree of
 * `size` leaves whose root is `rootHex`. Never throws: malformed input gives false.
 */
export function verifyInclusion(leafHashHex: string, index: number, size: number, proof: readonly string[], rootHex: string): boolean {
  if (!isCount(index) || !isCount(size) || index >= size) return false;
  if (!isHexHash(leafHashHex) || !isHexHash(rootHex) || !isHashList(proof)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHashHex, 'hex');
  for (const p of proof) {
    if (sn === 0) return false;
    const sibling = Buffer.from(p, 'hex');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHashBytes(sibling, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHashBytes(r, sibling);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && r.toString('hex') === rootHex;
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows that the tree of `size1` leaves with root `root1`
 * is a prefix of the tree of `size2` leaves with root `root2`. Equal sizes need an empty proof
 * and equal roots; size1 = 0 needs an empty proof and `root1` = {@link EMPTY_ROOT} (every tree
 * extends the empty one). Never throws: malformed input gives false.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly string[], root1: string, root2: string): boolean {
  if (!isCount(size1) || !isCount(size2) || size1 > size2) return false;
  if (!isHexHash(root1) || !isHexHash(root2) || !isHashList(proof)) return false;
  if (size1 === size2) return proof.length === 0 && root1 === root2;
  if (size1 === 0) return proof.length === 0 && root1 === EMPTY_ROOT;
  if (proof.length === 0) return false;
  return consistencyChain(size1, size2, exactLog2(size1) >= 0 ? [root1, ...proof] : [...proof], root1, root2);
}

// Steps 3 to 7 of RFC 9162 §2.1.4.2, for 0 < size1 < size2 and a non-empty path.
function consistencyChain(size1: number, size2: number, path: readonly string[], root1: string, root2: string): boolean {
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  let fr: Buffer = Buffer.from(path[0]!, 'hex');
  let sr: Buffer = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    const node = Buffer.from(c, 'hex');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHashBytes(node, fr);
      sr = nodeHashBytes(node, sr);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHashBytes(sr, node);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && fr.toString('hex') === root1 && sr.toString('hex') === root2;
}

/** A growing array of 32-byte hashes in one contiguous buffer. */
class HashArray {
  #buf = Buffer.alloc(HASH_BYTES * 1024);
  #count = 0;

  // Takes hex: node:crypto's one-shot hash is several times faster with a hex result than a Buffer one.
  push(hex: string): void {
    if ((this.#count + 1) * HASH_BYTES > this.#buf.length) {
      const bigger = Buffer.alloc(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    this.#buf.write(hex, this.#count * HASH_BYTES, HASH_BYTES, 'hex');
    this.#count += 1;
  }

  at(i: number): Buffer {
    return this.#buf.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  // Hashes i and i+1, adjacent in memory: exactly the 64 bytes a node hash covers.
  pair(i: number): Uint8Array {
    return this.#buf.subarray(i * HASH_BYTES, (i + 2) * HASH_BYTES);
  }
}

function leafHashBytes(data: Uint8Array): Buffer {
  return Buffer.from(hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'hex'), 'hex');
}

function nodeHashBytes(left: Uint8Array, right: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_BYTES);
  return Buffer.from(hash('sha256', buf, 'hex'), 'hex');
}

// The largest power of two strictly smaller than n (n >= 2): RFC 9162's k.
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// log2(n) when n is a power of two, else -1. Arithmetic, not bit operators: sizes may exceed 2^31.
function exactLog2(n: number): number {
  let level = 0;
  for (let p = 1; p <= n; p *= 2, level += 1) {
    if (p === n) return level;
  }
  return -1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isHashList(proof: unknown): proof is readonly string[] {
  return Array.isArray(proof) && proof.every(isHexHash);
}

function fromHex(value: string, what: string): Buffer {
  if (!isHexHash(value)) throw new TypeError(`${what} must be a lowercase hex SHA-256 hash (64 characters), got ${JSON.stringify(value)}`);
  return Buffer.from(value, 'hex');
}
