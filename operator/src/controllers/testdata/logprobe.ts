/**
 * An IngestionFunction for the in-process executor's output test: it writes one log line to its
 * stderr, as a Feed run's warnings are written, and succeeds.
 */
import type { Feed } from '../../api/types.ts';
import type { IngestionContext, IngestionReport } from '../executor.ts';

/** The line the probe writes. */
export const LOG_PROBE_LINE = '{"level":"warn","msg":"log probe"}\n';

/** Writes the line and reports success. */
export async function runIngestion(_feed: Feed, _runId: string, _context: IngestionContext): Promise<IngestionReport> {
  await new Promise<void>((res) => process.stderr.write(LOG_PROBE_LINE, () => res()));
  return { outcome: 'succeeded', fetched: 0, new: 0, duplicate: 0, rejected: {} };
}
