/** The fatal errors of a scan (a bad line is never one of them: see stats.ts). */

/** Machine codes of fatal scan errors. */
export type ScanErrorCode = 'truncated' | 'corrupt' | 'unreadable' | 'http-status' | 'object-store' | 'bad-config' | 'bad-indicators';

/** A fault that stops a scan (or a shard): the input cannot be read any further. */
export class ScanError extends Error {
  readonly code: ScanErrorCode;
  constructor(code: ScanErrorCode, message: string) {
    super(message);
    this.name = 'ScanError';
    this.code = code;
  }
}
