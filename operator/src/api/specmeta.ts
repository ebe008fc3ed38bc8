/**
 * The one mapping between a ThreatIndicator spec and the signed indicator metadata of the
 * exchange (entry.ts IndicatorMeta): spec.tlp, confidence, labels, validFrom and validUntil map
 * to the members of the same name, spec.provenance.feed to `source`. The proposer signs
 * {@link metaOfSpec} of the spec it creates, the forwarder sends {@link metaOfSpec} of the spec
 * it reads back, and replicas write {@link withMeta}, so all three agree by construction.
 */
import type { ThreatIndicatorSpec } from './types.ts';
import { validateMeta, type IndicatorMeta } from '../domain/entry.ts';

/** The outcome of {@link metaOfSpec}: the metadata (undefined when the spec carries none), or why it cannot be signed. */
export type SpecMeta = { readonly ok: true; readonly meta: IndicatorMeta | undefined } | { readonly ok: false; readonly message: string };

/** The metadata a spec carries, validated like the exchange validates it. */
export function metaOfSpec(spec: ThreatIndicatorSpec): SpecMeta {
  const draft: Record<string, unknown> = {
    tlp: spec.tlp, confidence: spec.confidence, labels: spec.labels, validFrom: spec.validFrom, validUntil: spec.validUntil, source: spec.provenance?.feed,
  };
  const present = Object.fromEntries(Object.entries(draft).filter(([, v]) => v !== undefined));
  if (Object.keys(present).length === 0) return { ok: true, meta: undefined };
  const meta = validateMeta(present);
  return typeof meta === 'string' ? { ok: false, message: meta } : { ok: true, meta };
}

/** `spec` with the members of `meta` written into it (source into provenance.feed); `spec` itself unchanged when there is no metadata. */
export function withMeta(spec: ThreatIndicatorSpec, meta: IndicatorMeta | undefined): ThreatIndicatorSpec {
  if (meta === undefined) return spec;
  const out: ThreatIndicatorSpec = { ...spec };
  if (meta.tlp !== undefined) out.tlp = meta.tlp;
  if (meta.confidence !== undefined) out.confidence = meta.confidence;
  if (meta.labels !== undefined) out.labels = [...meta.labels];
  if (meta.validFrom !== undefined) out.validFrom = meta.validFrom;
  if (meta.validUntil !== undefined) out.validUntil = meta.validUntil;
  if (meta.source !== undefined) out.provenance = { ...spec.provenance, feed: meta.source };
  return out;
}
