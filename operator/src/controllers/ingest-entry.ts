/**
 * Default ingestion module of the in-process executor. Turning a Feed object into a feeds/
 * IngestionConfig plus a sink that proposes ThreatIndicators belongs to `threatmesh ingest`;
 * until that bridge exports a function taking a Feed, this entry reports a clear failure so the
 * Feed shows Degraded with what to do, instead of pretending to ingest.
 */
import type { Feed } from '../api/types.ts';
import type { IngestionReport } from './executor.ts';

/** Fails with instructions; replace with --ingestion-module MODULE exporting runIngestion(feed, runId). */
export function runIngestion(feed: Feed, runId: string): Promise<IngestionReport> {
  return Promise.reject(new Error(`in-process ingestion of Feed ${feed.metadata.namespace ?? ''}/${feed.metadata.name} (run ${runId}) is not available in this build: start the operator with --ingestion-module pointing at a module that exports runIngestion(feed, runId), or use --executor job`));
}
