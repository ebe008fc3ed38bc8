/**
 * Building blocks shared by the three CRD schemas: the API group, condition and reference
 * schemas, and the bounds every string and list carries (CEL cost estimation needs them).
 */

/** A JSON Schema node as written in an openAPIV3Schema (structural subset, plus x-kubernetes-*). */
export type SchemaNode = Record<string, unknown>;

/** API group of every ThreatMesh kind. */
export const GROUP = 'threatmesh.io';
/** The served and stored version. */
export const VERSION = 'v1alpha1';
/** apiVersion field value of every ThreatMesh object. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** `kubectl get threatmesh` lists every kind in this category. */
export const CATEGORY = 'threatmesh';

/** One CEL validation rule (x-kubernetes-validations entry). */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  readonly fieldPath?: string;
}

/** One printer column (additionalPrinterColumns entry). */
export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** Everything needed to emit one CustomResourceDefinition and to validate its objects. */
export interface KindDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly printerColumns: readonly PrinterColumn[];
  /** The structural openAPIV3Schema of the whole object. */
  readonly schema: SchemaNode;
}

/**
 * Symbol key under which a schema node carries the name of its TypeScript type (codegen/types.ts
 * writes api/types.ts from the schemas). Symbol-keyed, so neither the CRD YAML nor ajv sees it.
 */
export const TS_TYPE: unique symbol = Symbol('threatmesh.tsType');
/** Symbol key of the doc comment of a named type (its `description` documents the field that uses it). */
export const TS_DOC: unique symbol = Symbol('threatmesh.tsDoc');

/** `node` with the name (and doc comment) of the TypeScript type generated for it (see {@link TS_TYPE}). */
export function named(name: string, node: SchemaNode, typeDoc?: string): SchemaNode {
  return Object.assign({ ...node }, { [TS_TYPE]: name }, typeDoc !== undefined ? { [TS_DOC]: typeDoc } : {});
}

/** A bounded string. `maxLength` is required so CEL cost estimation stays finite. */
export function str(maxLength: number, extra: SchemaNode = {}): SchemaNode {
  return { type: 'string', maxLength, ...extra };
}

/** A bounded integer. */
export function int(minimum: number, maximum: number, extra: SchemaNode = {}): SchemaNode {
  return { type: 'integer', format: maximum > 2 ** 31 - 1 ? 'int64' : 'int32', minimum, maximum, ...extra };
}

/** An RFC 3339 timestamp string. */
export function time(description: string): SchemaNode {
  return { type: 'string', format: 'date-time', maxLength: 64, description };
}

/** A bounded list of `items`. */
export function list(items: SchemaNode, maxItems: number, extra: SchemaNode = {}): SchemaNode {
  return { type: 'array', items, maxItems, ...extra };
}

/** An object with the given properties; `required` lists the mandatory ones. */
export function obj(properties: Record<string, SchemaNode>, required: readonly string[] = [], extra: SchemaNode = {}): SchemaNode {
  return { type: 'object', properties, ...(required.length > 0 ? { required: [...required] } : {}), ...extra };
}

/** A string→string map with bounded size and value length. */
export function stringMap(maxProperties: number, valueMax: number, description: string): SchemaNode {
  return { type: 'object', additionalProperties: str(valueMax), maxProperties, description };
}

/** A DNS-1123 subdomain object name. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** Reference to a Secret in the object's namespace. */
export function secretRef(description: string): SchemaNode {
  return obj({ name: str(253, { pattern: NAME_PATTERN, description: 'Secret name, same namespace.' }), key: str(253, { description: 'Key inside the Secret; the whole Secret when omitted.' }) }, ['name'], { description });
}

/** metav1.Condition list, keyed by type. */
export function conditions(): SchemaNode {
  const condition = named('Condition', obj(
    {
      type: str(316, { description: 'Condition type, e.g. Ready.', pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' }),
      status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
      reason: str(1024, { minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$', description: 'Machine-readable reason (CamelCase).' }),
      message: str(32768, { description: 'Human-readable details.' }),
      lastTransitionTime: time('When the status last changed.'),
      observedGeneration: int(0, Number.MAX_SAFE_INTEGER, { description: 'The generation the condition was set for.' }),
    },
    ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
    { description: 'One condition (metav1.Condition).' },
  ));
  return list(condition, 16, {
    description: 'Standard conditions (Ready, Degraded, ...).',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

/** The common top level of every kind's schema around its spec and status. */
export function objectSchema(description: string, spec: SchemaNode, status: SchemaNode): SchemaNode {
  return obj({
    apiVersion: str(64, { description: 'threatmesh.io/v1alpha1' }),
    kind: str(64, { description: 'The kind of the object.' }),
    // The API server forbids anything but the type on metadata (kubectl explain shows its own text).
    metadata: { type: 'object' },
    spec, status,
  }, ['spec'], { description });
}

/** The Ready condition's status for printer columns. */
export const READY_COLUMN: PrinterColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
/** The Age printer column every kind ends with. */
export const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
