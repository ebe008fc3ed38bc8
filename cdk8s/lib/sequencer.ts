/**
 * Sequencer: the network's sequencer. Replicas elect a leader on a Lease and only the holder
 * serves (its /readyz is ready only while serving, which the front door's health check uses);
 * its signing key and mTLS identity come from Secrets; RBAC from operator/src/api/manifests.ts.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { SEQUENCER_NAME, sequencerRbacManifests } from '../../operator/src/api/manifests.ts';
import { memoryEnv, type Values } from '../values.ts';
import { PORTS, SECURE, containerResources, deployment, image, labels, raw, scrapeAnnotations, service } from './common.ts';
import { identityArgs, identityMounts, mongoEnv, pdb, withLabels } from './partner.ts';

/** Headless Service whose DNS name lists every sequencer replica (the front door's server-template). */
export const SEQUENCER_HEADLESS = `${SEQUENCER_NAME}-replicas`;

/** The sequencer's command line (flags of operator/src/cli/sequencer.ts). */
export function sequencerArgs(values: Values): string[] {
  return [
    'sequencer', '--namespace', values.namespace, '--listen', `0.0.0.0:${PORTS.sequencer}`, ...identityArgs(values), '--leader-elect',
    '--metrics-bind', `0.0.0.0:${PORTS.sequencerMetrics}`, '--voting-window', values.sequencer.votingWindow,
    ...(values.sequencer.quorum > 0 ? ['--quorum', String(values.sequencer.quorum)] : []),
  ];
}

/** Props of Sequencer. */
export interface SequencerProps {
  /** Resolved installation values (role sequencer). */
  readonly values: Values;
}

/** The sequencer Deployment, its RBAC, Services and PodDisruptionBudget. */
export class Sequencer extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: SequencerProps) {
    super(scope, id);
    const v = props.values;
    for (const [i, m] of sequencerRbacManifests(v.namespace).entries()) raw(this, `rbac${i}`, withLabels(m, labels(v, 'sequencer')));
    const mongo = mongoEnv(this, v);
    deployment(this, 'sequencer', v, 'sequencer', {
      name: SEQUENCER_NAME, replicas: v.sequencer.replicas, annotations: scrapeAnnotations(PORTS.sequencerMetrics),
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(this, 'sa', SEQUENCER_NAME), automountServiceAccountToken: true,
      containers: [{
        name: 'sequencer', image: image(v), imagePullPolicy: v.image.pullPolicy as kplus.ImagePullPolicy, args: sequencerArgs(v),
        ports: [{ name: 'grpc', number: PORTS.sequencer }, { name: 'metrics', number: PORTS.sequencerMetrics }],
        envVariables: { ...mongo.env, ...Object.fromEntries(Object.entries(memoryEnv(v.sequencer.memory)).map(([k, x]) => [k, kplus.EnvValue.fromValue(x)])) },
        volumeMounts: [...identityMounts(this, v), ...mongo.mounts],
        liveness: kplus.Probe.fromHttpGet('/healthz', { port: PORTS.sequencerMetrics }),
        resources: containerResources(v.sequencer.resources), securityContext: SECURE,
      }],
    });
    pdb(this, v, SEQUENCER_NAME, 'sequencer');
    service(this, 'svc', v, 'sequencer', { name: SEQUENCER_NAME, ports: [{ name: 'grpc', port: PORTS.sequencer }, { name: 'metrics', port: PORTS.sequencerMetrics }], extraLabels: { 'threatmesh.io/metrics': 'true' } });
    service(this, 'headless', v, 'sequencer', { name: SEQUENCER_HEADLESS, headless: true, ports: [{ name: 'grpc', port: PORTS.sequencer }, { name: 'metrics', port: PORTS.sequencerMetrics }] });
  }
}
