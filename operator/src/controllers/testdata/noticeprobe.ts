/**
 * An IngestionFunction for the in-process executor's notices test: it asks for one
 * once-per-process notice (feeds/notices.ts) as a Feed run asks for the replica API's, and
 * reports whether it was news in its rejections, with the notices it gave.
 */
import type { Feed } from '../../api/types.ts';
import { OnceNotices } from '../../feeds/notices.ts';
import type { IngestionContext, IngestionReport } from '../executor.ts';

/** The key the probe asks for. */
export const NOTICE_PROBE_KEY = 'notice-probe';

/** Reports `first:true` the first time in the operator process, `first:false` after. */
export function runIngestion(_feed: Feed, _runId: string, context: IngestionContext): Promise<IngestionReport> {
  const notices = new OnceNotices(context.noticesGiven ?? []);
  const first = notices.first(NOTICE_PROBE_KEY);
  return Promise.resolve({ outcome: 'succeeded', fetched: 0, new: 0, duplicate: 0, rejected: { [`first:${String(first)}`]: 1 }, notices: notices.given() });
}
