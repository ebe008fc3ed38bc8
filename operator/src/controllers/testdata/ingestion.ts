/**
 * A deterministic IngestionFunction for the in-process executor tests: counts derive from the
 * Feed's URL; a URL containing "fail" reports a failed run, one containing "throw" throws.
 */
import type { Feed } from '../../api/types.ts';
import type { IngestionReport } from '../executor.ts';

/** Reports 10 fetched / 7 new, or fails, depending on spec.url. */
export function runIngestion(feed: Feed, runId: string): Promise<IngestionReport> {
  const url = feed.spec.url ?? '';
  if (url.includes('throw')) return Promise.reject(new Error(`fetch of ${url} refused (run ${runId})`));
  if (url.includes('fail')) return Promise.resolve({ outcome: 'failed', error: { code: 'http-status', message: 'HTTP 503 from the feed' }, fetched: 0, new: 0, duplicate: 0, rejected: {} });
  return Promise.resolve({ outcome: 'succeeded', fetched: 10, new: 7, duplicate: 2, rejected: { 'invalid-ipv4': 1 } });
}
