/**
 * TypeScript shapes of LogScan objects, mirroring schemas/logscan.ts (objects from the API server
 * are validated against that schema before these types are trusted).
 */
import type { Condition, KubeObject } from '../runtime/types.ts';

/** A Secret reference (same namespace). */
export interface SecretKeyRef {
  name: string;
  key?: string;
}

/** Where a LogScan's logs are: exactly one member is set. */
export interface LogScanSource {
  file?: { path: string; claimName?: string };
  http?: { url: string; secretRef?: SecretKeyRef };
  s3?: { endpoint: string; region?: string; bucket: string; key?: string; prefix?: string; secretRef: SecretKeyRef };
}

/** A LogScan's spec (immutable). */
export interface LogScanSpec {
  source: LogScanSource;
  format: 'zeek' | 'suricata-eve' | 'combined' | 'squid' | 'cef' | 'csv';
  timeRange?: { start?: string; end?: string };
  /** Fair-share weight. @default 10 */
  priority?: number;
  /** @default 268435456 */
  shardBytes?: number;
  maxParallelism?: number;
  suspend?: boolean;
}

/** Shard counts in status. */
export interface LogScanShards {
  total?: number;
  succeeded?: number;
  running?: number;
  failed?: number;
  pending?: number;
  allotted?: number;
}

/** Progress in status. */
export interface LogScanProgress {
  bytesTotal?: number;
  bytesDone?: number;
  percent?: number;
  lines?: number;
  matchedRecords?: number;
  indicatorsSeen?: number;
  bytesPerSecond?: number;
  linesPerSecond?: number;
  eta?: string;
}

/** A LogScan's status. */
export interface LogScanStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Suspended';
  planId?: string;
  jobName?: string;
  startTime?: string;
  completionTime?: string;
  shards?: LogScanShards;
  progress?: LogScanProgress;
  rejected?: Record<string, number>;
  message?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

/** A LogScan object. */
export interface LogScan extends KubeObject {
  spec: LogScanSpec;
  status?: LogScanStatus;
}
