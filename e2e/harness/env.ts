/** What integration tests read from the environment, in one place. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_START_CAP_MS, type StartBound } from '../../operator/src/dev/controlplane/process.ts';
import type { ControlPlaneOptions } from './controlplane.ts';
import type { JourneyTarget } from './journey/index.ts';

/** Options for startControlPlane from KUBECONFIG, MONGODB_URI and THREATMESH_CACHE. */
export function controlPlaneOptionsFromEnv(extra: Partial<ControlPlaneOptions> = {}): ControlPlaneOptions {
  return {
    kubeconfig: process.env['KUBECONFIG'] || undefined,
    mongodbUri: process.env['MONGODB_URI'] || undefined,
    cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'),
    ferretdbBackend: ferretdbBackendFromEnv(),
    start: startBoundFromEnv(),
    ...extra,
  };
}

/**
 * FerretDB's backend for databases the harness starts: THREATMESH_FERRETDB_BACKEND (postgresql,
 * the default since 2026-12-07 (docs/adr/2026-12-06-million-indicators.md Decision 2), or sqlite).
 */
export function ferretdbBackendFromEnv(): 'sqlite' | 'postgresql' {
  const v = process.env['THREATMESH_FERRETDB_BACKEND'] || 'postgresql';
  if (v !== 'sqlite' && v !== 'postgresql') throw new Error(`THREATMESH_FERRETDB_BACKEND=${v}: use sqlite or postgresql`);
  return v;
}

/**
 * How long a server or process the harness starts may take (operator/src/dev/controlplane/process.ts):
 * one that exits fails at once, one that shows no progress for 90 s sooner, and one still making
 * progress at the cap fails then. THREATMESH_START_TIMEOUT (seconds, default 900) raises the cap,
 * as KUBEBUILDER_CONTROLPLANE_START_TIMEOUT does envtest's, for a machine under heavy load.
 */
export function startBoundFromEnv(env: NodeJS.ProcessEnv = process.env): StartBound {
  const v = env['THREATMESH_START_TIMEOUT'] || String(DEFAULT_START_CAP_MS / 1000);
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`THREATMESH_START_TIMEOUT=${v}: give whole seconds, e.g. THREATMESH_START_TIMEOUT=1800`);
  return { capMs: Number(v) * 1000, raise: `set THREATMESH_START_TIMEOUT=SECONDS, now ${v}` };
}

/** A short random suffix so tests sharing an external cluster or database do not collide. */
export function uniqueSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/**
 * The journeys' target from THREATMESH_E2E_TARGET (`local`, the default, or `kind`); the kind
 * target also reads THREATMESH_E2E_KUBECONFIGS (`party=path,…`, one of them `sequencer`),
 * THREATMESH_E2E_IMAGE (repository:tag in the clusters) and THREATMESH_E2E_FEED_HOST (an address
 * of this machine the clusters' pods reach), and THREATMESH_E2E_HELM (a helm 4 binary; default
 * scripts/tools.sh's). e2e/kind/run.sh sets them.
 */
export function journeyTargetFromEnv(): JourneyTarget {
  const name = process.env['THREATMESH_E2E_TARGET'] ?? 'local';
  if (name === 'local' || name === '') return { name: 'local' };
  if (name !== 'kind') throw new Error(`THREATMESH_E2E_TARGET=${name}: use local (the default) or kind`);
  const list = process.env['THREATMESH_E2E_KUBECONFIGS'] ?? '';
  const pairs = list.split(',').filter((s) => s !== '').map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)] as const);
  const bad = pairs.filter(([id, path]) => id === '' || path === '');
  if (pairs.length === 0 || bad.length > 0) throw new Error(`THREATMESH_E2E_KUBECONFIGS=${JSON.stringify(list)}: give party=kubeconfig pairs separated by commas, e.g. sequencer=/tmp/seq.kubeconfig,partner-a=/tmp/a.kubeconfig`);
  const image = process.env['THREATMESH_E2E_IMAGE'] ?? '';
  const feedHost = process.env['THREATMESH_E2E_FEED_HOST'] ?? '';
  if (image === '' || feedHost === '') throw new Error('the kind target needs THREATMESH_E2E_IMAGE (repository:tag loaded into the clusters) and THREATMESH_E2E_FEED_HOST (an address of this machine the pods reach); e2e/kind/run.sh sets them');
  return { name: 'kind', kubeconfigs: new Map(pairs), image, feedHost, helm: process.env['THREATMESH_E2E_HELM'] || undefined };
}

/** THREATMESH_E2E_KEEP=1 keeps a journey's folder (clusters, logs) after the run, for a post-mortem. */
export function keepJourneyDirFromEnv(): boolean {
  return process.env['THREATMESH_E2E_KEEP'] === '1';
}
