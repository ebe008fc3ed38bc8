/**
 * Ceph (Rook): the storage under MongoDB and the log archives. A CephCluster whose OSDs are
 * PVC-backed devices encrypted with dm-crypt (encryption at rest for the database volumes), a
 * replicated CephBlockPool with the StorageClass MongoDB's volumes use, and a CephObjectStore
 * (S3) for the log archives edge analysis scans. Lives in the Rook operator's namespace.
 */
import { ApiObject } from 'cdk8s';
import { KubeStorageClass } from 'cdk8s-plus-28/lib/imports/k8s.js';
import { Construct } from 'constructs';
import { CephBlockPool, CephCluster, CephClusterSpecStorageStorageClassDeviceSetsVolumeClaimTemplatesSpecResourcesRequests as OsdRequests, CephObjectStore } from '../imports/ceph.rook.io.js';
import type { Values } from '../values.ts';
import { labels } from './common.ts';

/** Names of the Ceph objects. */
export const CEPH_NAMES = { cluster: 'threatmesh-ceph', blockPool: 'threatmesh-block', objectStore: 'threatmesh-archive' } as const;

/** Props of Ceph. */
export interface CephProps {
  /** Resolved installation values (ceph.enabled). */
  readonly values: Values;
}

function replicated(size: number): { failureDomain: string; replicated: { size: number; requireSafeReplicaSize: boolean } } {
  return { failureDomain: 'host', replicated: { size, requireSafeReplicaSize: size > 1 } };
}

/** CephCluster, CephBlockPool, StorageClass and CephObjectStore. */
export class Ceph extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: CephProps) {
    super(scope, id);
    const v = props.values;
    const ns = v.ceph.namespace;
    const meta = (name: string): { name: string; namespace: string; labels: Record<string, string> } => ({ name, namespace: ns, labels: labels(v, 'storage') });
    new CephCluster(this, 'cluster', {
      metadata: meta(CEPH_NAMES.cluster),
      spec: {
        cephVersion: { image: v.ceph.image },
        dataDirHostPath: '/var/lib/rook',
        mon: { count: 3, allowMultiplePerNode: false },
        mgr: { count: 2 },
        storage: {
          useAllNodes: false,
          useAllDevices: false,
          storageClassDeviceSets: [{
            name: 'threatmesh-osd',
            count: v.ceph.osdCount,
            portable: true,
            // dm-crypt on every OSD device: the MongoDB volumes and archives are encrypted at rest.
            encrypted: true,
            volumeClaimTemplates: [{
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], volumeMode: 'Block', storageClassName: v.ceph.deviceClass, resources: { requests: { storage: OsdRequests.fromString(v.ceph.osdSize) } } },
            }],
          }],
        },
      },
    });
    new CephBlockPool(this, 'pool', { metadata: meta(CEPH_NAMES.blockPool), spec: replicated(v.ceph.poolReplicas) });
    const secrets = { provisioner: 'rook-csi-rbd-provisioner', node: 'rook-csi-rbd-node' };
    new KubeStorageClass(this, 'storageclass', {
      metadata: { name: v.mongodb.storageClass, labels: labels(v, 'storage') },
      provisioner: `${ns}.rbd.csi.ceph.com`,
      reclaimPolicy: 'Retain',
      allowVolumeExpansion: true,
      volumeBindingMode: 'WaitForFirstConsumer',
      parameters: {
        clusterID: ns, pool: CEPH_NAMES.blockPool, imageFormat: '2', imageFeatures: 'layering',
        'csi.storage.k8s.io/provisioner-secret-name': secrets.provisioner, 'csi.storage.k8s.io/provisioner-secret-namespace': ns,
        'csi.storage.k8s.io/controller-expand-secret-name': secrets.provisioner, 'csi.storage.k8s.io/controller-expand-secret-namespace': ns,
        'csi.storage.k8s.io/node-stage-secret-name': secrets.node, 'csi.storage.k8s.io/node-stage-secret-namespace': ns,
        'csi.storage.k8s.io/fstype': 'xfs',
      },
    });
    new CephObjectStore(this, 'archive', {
      metadata: meta(CEPH_NAMES.objectStore),
      spec: {
        metadataPool: replicated(v.ceph.poolReplicas),
        dataPool: replicated(v.ceph.poolReplicas),
        preservePoolsOnDelete: true,
        gateway: { port: 80, instances: 2 },
      },
    });
  }
}

/** Every object of `scope` that is a Ceph resource (for tests). */
export function isCephObject(o: ApiObject): boolean {
  return o.apiVersion === 'ceph.rook.io/v1';
}
