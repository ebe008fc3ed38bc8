/**
 * Keeps the replica API's front-proxy trust current: an informer (runtime/informer.ts, list and
 * watch with reconnects, as the operator's) on kube-system/extension-apiserver-authentication,
 * so a rotated request-header CA, or changed allowed names or headers, is applied without a
 * restart (the server was loading them once at start and answered 401 to the rotated front
 * proxy until its pods restarted).
 *
 * Contract:
 * - A changed, valid ConfigMap is applied through `apply` (RunningReplicaApi.reloadRequestHeader)
 *   and logged (`reloaded the front-proxy trust`), counted as `applied` in
 *   `threatmesh_replica_api_front_proxy_trust_reloads_total`.
 * - A ConfigMap without a request-header CA is not applied: the previous trust stays (a server
 *   that trusted nothing would refuse every caller), an error is logged with the fix, counted as
 *   `refused`.
 * - A deleted ConfigMap keeps the previous trust (kube-apiserver recreates it); logged.
 * - Every `resyncMs` the cached ConfigMap is compared again, so a missed change is applied within
 *   one period even when no event arrives; the watch normally delivers it at once.
 */
import type { Logger } from '../log.ts';
import { Informer } from '../runtime/informer.ts';
import type { KubeReader } from '../runtime/client.ts';
import type { KubeObject } from '../runtime/types.ts';
import { CONFIGMAPS, REQUEST_HEADER_CONFIGMAP, pemCertificates, requestHeaderConfigOf, sameRequestHeader, type RequestHeaderConfig } from './replicaauth.ts';
import type { ReplicaApiMetrics } from './replicametrics.ts';

/** Options of {@link watchRequestHeader}. */
export interface RequestHeaderWatchOptions {
  readonly client: KubeReader;
  readonly log: Logger;
  /** The settings the server started with. */
  readonly initial: RequestHeaderConfig;
  /** Called with each changed, valid configuration. */
  readonly apply: (cfg: RequestHeaderConfig) => void;
  readonly metrics?: ReplicaApiMetrics;
  /** How often the cached ConfigMap is compared again without an event. @default 60000 */
  readonly resyncMs?: number;
}

/** A running watch. */
export interface RequestHeaderWatch {
  /** Resolves once the ConfigMap has been read (and applied if it changed since start). */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** Starts watching kube-system/extension-apiserver-authentication. */
export function watchRequestHeader(opts: RequestHeaderWatchOptions): RequestHeaderWatch {
  let current = opts.initial;
  const informer = new Informer<ConfigMap>({
    client: opts.client, ref: CONFIGMAPS, log: opts.log, namespace: REQUEST_HEADER_CONFIGMAP.namespace,
    fieldSelector: `metadata.name=${REQUEST_HEADER_CONFIGMAP.name}`, resyncMs: opts.resyncMs ?? 60_000,
  });
  const seen = (cm: ConfigMap): void => {
    let next: RequestHeaderConfig;
    try {
      next = requestHeaderConfigOf(cm);
    } catch (err) {
      opts.metrics?.requestHeaderReloads.inc({ result: 'refused' });
      opts.log.error('front-proxy trust not reloaded; keeping the previous one', { configMap: `${REQUEST_HEADER_CONFIGMAP.namespace}/${REQUEST_HEADER_CONFIGMAP.name}`, resourceVersion: cm.metadata.resourceVersion, err });
      return;
    }
    if (sameRequestHeader(current, next)) return;
    opts.apply(next);
    current = next;
    opts.metrics?.requestHeaderReloads.inc({ result: 'applied' });
    opts.log.info('reloaded the front-proxy trust', {
      configMap: `${REQUEST_HEADER_CONFIGMAP.namespace}/${REQUEST_HEADER_CONFIGMAP.name}`, resourceVersion: cm.metadata.resourceVersion,
      caCertificates: pemCertificates(next.caPem).map((c) => c.subject.replace(/\n/g, ', ')), allowedNames: next.allowedNames,
    });
  };
  informer.addHandler({
    onAdd: seen,
    onUpdate: (_old, cm) => seen(cm),
    onDelete: () => opts.log.warn('extension-apiserver-authentication was deleted; keeping the last front-proxy trust until the API server publishes it again'),
  });
  informer.start();
  return { synced: () => informer.waitForSync(), stop: () => informer.stop() };
}
