/** What integration tests read from the environment, in one place. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ControlPlaneOptions } from './controlplane.ts';

/** Options for startControlPlane from KUBECONFIG, MONGODB_URI and THREATMESH_CACHE. */
export function controlPlaneOptionsFromEnv(extra: Partial<ControlPlaneOptions> = {}): ControlPlaneOptions {
  return {
    kubeconfig: process.env['KUBECONFIG'] || undefined,
    mongodbUri: process.env['MONGODB_URI'] || undefined,
    cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'),
    ...extra,
  };
}

/** A short random suffix so tests sharing an external cluster or database do not collide. */
export function uniqueSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}
