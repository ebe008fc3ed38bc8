/**
 * An append-only NDJSON file in a private temporary directory: the spool of a Feed run's new
 * indicators (feeds/propose.ts). Lines are encoded straight into reused 64 KiB buffers
 * (feeds/jsonbuf.ts) instead of one string per line, and written through a file handle, one
 * write at a time, in order. A failed write (a full disk: ENOSPC, EDQUOT; the file size limit:
 * EFBIG) becomes a {@link FeedError} `spool-failed` that names the file and says what to do; it
 * rejects the next append and `finish`, never an unhandled stream `error` event.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { flatJsonBound, writeFlatJson } from './jsonbuf.ts';
import { FeedError } from './types.ts';

/** Bytes gathered before one write. */
const SPOOL_BATCH_BYTES = 1 << 16;

/** Writes queued before an append waits (8 × 64 KiB). */
const MAX_QUEUED_WRITES = 8;

// Room: the disk or a limit is full. Place: the directory cannot hold the spool at all.
const WHY: Readonly<Record<string, { why: string; fix: 'room' | 'place' }>> = {
  ENOSPC: { why: 'the disk is full', fix: 'room' },
  EDQUOT: { why: 'the disk quota is used up', fix: 'room' },
  EFBIG: { why: 'the file size limit is reached (RLIMIT_FSIZE, ulimit -f)', fix: 'room' },
  EROFS: { why: 'the file system is read-only', fix: 'place' },
  EACCES: { why: 'permission denied', fix: 'place' },
  ENOENT: { why: 'the directory does not exist', fix: 'place' },
};

/**
 * The error of a spool that cannot be written: names `path`, the cause, and what to do about
 * `parent`, the directory (TMPDIR) the spool was made in.
 */
export function spoolError(path: string, parent: string, err: unknown): FeedError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const known = code === undefined ? undefined : WHY[code];
  const why = known?.why ?? (err instanceof Error ? err.message : String(err));
  const fix = known?.fix === 'place'
    ? `point TMPDIR at a writable directory instead of ${parent} (a Feed Job spools to its /tmp volume)`
    : `make room on the file system of ${parent}, or point TMPDIR at a directory with room (the spool takes about 150 bytes per new indicator; a Feed Job spools to its /tmp volume)`;
  return new FeedError('spool-failed', `cannot write the proposal spool ${path}: ${why}${code === undefined ? '' : ` (${code})`}; the run is rolled back and nothing was proposed: ${fix}, then run the Feed again`);
}

/** The state of a spool: taking lines, finished (readable), or discarded (gone). */
type SpoolState = 'open' | 'finished' | 'discarded';

/**
 * One NDJSON spool file. Use one append at a time (await a returned promise before the next),
 * then `finish` and `lines`, and `discard` in every case (it also serves as the abort: it waits
 * for a write in flight before closing and removing the directory).
 */
export class NdjsonSpool {
  /** The spool file. */
  readonly path: string;
  private readonly dir: string;
  private readonly parent: string;
  private readonly file: FileHandle;
  private buf: Buffer = Buffer.allocUnsafeSlow(SPOOL_BATCH_BYTES);
  private used = 0;
  private readonly free: Buffer[] = [];
  private writing: Promise<void> = Promise.resolve();
  // The writes not yet done, oldest first.
  private readonly queued: Array<Promise<void>> = [];
  private failure: FeedError | undefined;
  private state: SpoolState = 'open';

  private constructor(parent: string, dir: string, path: string, file: FileHandle) {
    this.parent = parent;
    this.dir = dir;
    this.path = path;
    this.file = file;
  }

  /**
   * Creates an empty spool in a new directory under `parent`.
   * @default parent os.tmpdir() (TMPDIR)
   */
  static async create(prefix: string, parent: string = tmpdir()): Promise<NdjsonSpool> {
    let dir: string;
    try {
      dir = await mkdtemp(join(parent, prefix));
    } catch (err) {
      throw spoolError(join(parent, `${prefix}XXXXXX`), parent, err);
    }
    const path = join(dir, 'spool.ndjson');
    try {
      return new NdjsonSpool(parent, dir, path, await open(path, 'wx', 0o600));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw spoolError(path, parent, err);
    }
  }

  /**
   * Appends `record` as one JSON line (the bytes of `JSON.stringify`). Returns a promise only
   * when the line had to wait for the previous write; it rejects with the spool's error once a
   * write has failed, and after `finish` or `discard`.
   */
  append(record: object): Promise<void> | undefined {
    if (this.state !== 'open') return Promise.reject(new Error(`the proposal spool ${this.path} is ${this.state}: nothing more can be added to it`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const bound = flatJsonBound(record);
    if (bound === undefined || bound + 1 > SPOOL_BATCH_BYTES) return this.appendText(JSON.stringify(record) + '\n');
    if (this.used + bound + 1 <= SPOOL_BATCH_BYTES) {
      this.put(record);
      return undefined;
    }
    return this.flush().then(() => this.put(record));
  }

  private put(record: object): void {
    this.used = writeFlatJson(this.buf, this.used, record);
    this.buf[this.used++] = 0x0a;
  }

  private async appendText(line: string): Promise<void> {
    const bytes = Buffer.from(line, 'utf8');
    if (this.used + bytes.length > SPOOL_BATCH_BYTES) await this.flush();
    if (bytes.length > SPOOL_BATCH_BYTES) return this.queue(bytes, bytes.length, false);
    this.used += bytes.copy(this.buf, this.used);
  }

  /** Queues the current buffer for writing; resolves once the write before it is done. */
  private flush(): Promise<void> {
    if (this.used === 0) return this.settled();
    const full = this.buf;
    const n = this.used;
    this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(SPOOL_BATCH_BYTES);
    this.used = 0;
    return this.queue(full, n, true);
  }

  private queue(bytes: Buffer, n: number, reuse: boolean): Promise<void> {
    // Writes are chained, so lines stay in order. The caller waits only when more than
    // MAX_QUEUED_WRITES are queued: a thread-pool write can wait for a core on a loaded machine,
    // and waiting for each one would stall the download.
    const write = this.writing.then(async () => {
      if (this.failure !== undefined || this.state === 'discarded') return;
      try {
        for (let off = 0; off < n;) off += (await this.file.write(bytes, off, n - off)).bytesWritten;
        if (reuse) this.free.push(bytes);
      } catch (err) {
        this.failure ??= spoolError(this.path, this.parent, err);
      }
    }).then(() => { void this.queued.shift(); });
    this.writing = write;
    this.queued.push(write);
    const oldest = this.queued.length > MAX_QUEUED_WRITES ? this.queued[this.queued.length - 1 - MAX_QUEUED_WRITES] : undefined;
    return oldest === undefined ? (this.failure === undefined ? Promise.resolve() : Promise.reject(this.failure)) : oldest.then(() => this.check());
  }

  private async settled(): Promise<void> {
    await this.writing;
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Writes what is buffered and closes the file; rejects with the spool's error when any write failed. */
  async finish(): Promise<void> {
    if (this.state !== 'open') throw new Error(`the proposal spool ${this.path} is ${this.state}`);
    await this.flush();
    await this.settled();
    this.state = 'finished';
    try {
      await this.file.close();
    } catch (err) {
      throw spoolError(this.path, this.parent, err);
    }
  }

  /** The lines of a finished spool, in order. */
  lines(): AsyncIterable<string> {
    if (this.state !== 'finished') throw new Error(`the proposal spool ${this.path} is ${this.state}, not finished`);
    return createInterface({ input: createReadStream(this.path), crlfDelay: Infinity });
  }

  /** Removes the spool: waits for a write in flight (its failure no longer matters), closes the file, deletes the directory. */
  async discard(): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'discarded';
    await this.writing;
    if (wasOpen) await this.file.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
