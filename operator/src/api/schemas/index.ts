/**
 * The ThreatMesh kinds, their CustomResourceDefinition manifests and their resource refs.
 * This is the single source of truth: `npm run generate` writes crds/ from it and validate.ts
 * compiles the same schemas with ajv.
 */
import type { ResourceRef } from '../../runtime/types.ts';
import { CATEGORY, GROUP, VERSION, type KindDefinition } from './common.ts';
import { enforcementPolicyKind } from './enforcementpolicy.ts';
import { feedKind } from './feed.ts';
import { logScanKind } from './logscan.ts';
import { partnerNodeKind } from './partnernode.ts';
import { threatIndicatorKind } from './threatindicator.ts';
import { threatReportKind } from './threatreport.ts';

export { enforcementPolicyKind, feedKind, logScanKind, partnerNodeKind, threatIndicatorKind, threatReportKind };
export { API_VERSION, GROUP, VERSION } from './common.ts';

/** Every kind, in the order the CRD files are written. */
export const KINDS: readonly KindDefinition[] = [feedKind, threatIndicatorKind, partnerNodeKind, enforcementPolicyKind, logScanKind, threatReportKind];

/** The ResourceRef the clients use for a kind. */
export function resourceRef(def: KindDefinition): ResourceRef {
  return { group: GROUP, version: VERSION, plural: def.plural, kind: def.kind, namespaced: true };
}

/** ResourceRef of Feed objects. */
export const FEEDS: ResourceRef = resourceRef(feedKind);
/** ResourceRef of ThreatIndicator objects. */
export const THREAT_INDICATORS: ResourceRef = resourceRef(threatIndicatorKind);
/** ResourceRef of LogScan objects. */
export const LOG_SCANS: ResourceRef = resourceRef(logScanKind);
/** ResourceRef of PartnerNode objects. */
export const PARTNER_NODES: ResourceRef = resourceRef(partnerNodeKind);
/** ResourceRef of EnforcementPolicy objects. */
export const ENFORCEMENT_POLICIES: ResourceRef = resourceRef(enforcementPolicyKind);
/** ResourceRef of ThreatReport objects. */
export const THREAT_REPORTS: ResourceRef = resourceRef(threatReportKind);

/** The apiextensions.k8s.io/v1 CustomResourceDefinition of a kind: namespaced, status subresource, category threatmesh. */
export function crdManifest(def: KindDefinition): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.singular, shortNames: [...def.shortNames], categories: [CATEGORY] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: def.schema },
        },
      ],
    },
  };
}
