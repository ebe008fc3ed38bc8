/**
 * MongoDB: a replica set as the MongoDB Community operator's `MongoDBCommunity` resource
 * (docs/adr/2026-12-06-mongodb-community-resource.md): SCRAM authentication with the password
 * from a Secret, TLS from a cert-manager Certificate, one persistent volume per member on the
 * Ceph block pool's StorageClass (encrypted OSDs), and the connection string Secret the
 * ThreatMesh processes read as MONGODB_URI.
 */
import { Construct } from 'constructs';
import { Certificate } from '../imports/cert-manager.io.js';
import { MongoDbCommunity, MongoDbCommunitySpecSecurityAuthenticationModes as AuthModes, MongoDbCommunitySpecType } from '../imports/mongodbcommunity.mongodb.com.js';
import type { Values } from '../values.ts';
import { issuerRef, labels } from './common.ts';
import { PARTNER_NAMES } from './partner.ts';

/** Name of the MongoDBCommunity resource (its Service is `<name>-svc`, its pods carry `app: <name>-svc`). */
export const MONGODB_NAME = 'threatmesh-mongodb';

/** The database each role writes (the operator's and sequencer's --database defaults). */
export function databaseOf(values: Values): string {
  return values.role === 'sequencer' ? 'threatmesh_sequencer' : 'threatmesh_partner';
}

/** Props of MongoDB. */
export interface MongoDBProps {
  /** Resolved installation values (mongodb.enabled). */
  readonly values: Values;
}

/** The replica set, its server certificate and its application user. */
export class MongoDB extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: MongoDBProps) {
    super(scope, id);
    const v = props.values;
    const svc = `${MONGODB_NAME}-svc`;
    new Certificate(this, 'cert', {
      metadata: { name: PARTNER_NAMES.mongodbTlsSecret, labels: labels(v, 'mongodb') },
      spec: { secretName: PARTNER_NAMES.mongodbTlsSecret, issuerRef: issuerRef(v), dnsNames: [`*.${svc}.${v.namespace}.svc.cluster.local`, `${svc}.${v.namespace}.svc.cluster.local`] },
    });
    new MongoDbCommunity(this, 'replicaset', {
      metadata: { name: MONGODB_NAME, labels: labels(v, 'mongodb') },
      spec: {
        type: MongoDbCommunitySpecType.REPLICA_SET,
        members: v.mongodb.members,
        version: v.mongodb.version,
        security: {
          authentication: { modes: [AuthModes.SCRAM_HYPHEN_SHA_HYPHEN_256] },
          tls: { enabled: true, certificateKeySecretRef: { name: PARTNER_NAMES.mongodbTlsSecret }, caCertificateSecretRef: { name: PARTNER_NAMES.mongodbTlsSecret } },
        },
        users: [{
          name: 'threatmesh', db: 'admin', passwordSecretRef: { name: v.mongodb.passwordSecret, key: 'password' },
          roles: [{ name: 'readWrite', db: databaseOf(v) }, { name: 'clusterMonitor', db: 'admin' }],
          scramCredentialsSecretName: 'threatmesh-mongodb-scram', connectionStringSecretName: PARTNER_NAMES.mongodbUriSecret,
        }],
        statefulSet: {
          spec: {
            volumeClaimTemplates: [{
              metadata: { name: 'data-volume' },
              spec: { accessModes: ['ReadWriteOnce'], storageClassName: v.mongodb.storageClass, resources: { requests: { storage: v.mongodb.storageSize } } },
            }],
          },
        },
      },
    });
  }
}
