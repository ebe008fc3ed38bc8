/**
 * In-program validation of ThreatMesh objects with the same JSON Schemas the CRDs carry, compiled
 * with ajv. CEL rules (x-kubernetes-validations) run through small JavaScript equivalents of the
 * rule shapes the schemas use, so an object this module accepts is one the API server accepts.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isDeepStrictEqual } from 'node:util';
import type { KindDefinition, SchemaNode } from './schemas/common.ts';
import { KINDS } from './schemas/index.ts';
import { isRfc3339DateTime } from '../domain/time.ts';

/** The outcome of a validation: ok, or readable messages `path: what is wrong`. */
export type ValidationResult = { readonly ok: true } | { readonly ok: false; readonly errors: readonly string[] };

/** A CEL rule translated to JavaScript. Transition rules need the old object and only run on update. */
export interface CelEquivalent {
  readonly transition: boolean;
  readonly check: (self: unknown, oldSelf: unknown) => boolean;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
const has = (v: unknown, field: string): boolean => rec(v)[field] !== undefined;
const field = (v: unknown, name: string): unknown => rec(v)[name];

/** Rule shapes the schemas use, each with its JavaScript meaning. */
const SHAPES: ReadonlyArray<[RegExp, (m: RegExpMatchArray) => CelEquivalent]> = [
  [/^self == oldSelf$/, () => ({ transition: true, check: (s, o) => isDeepStrictEqual(s, o) })],
  [/^self\.(\w+) == oldSelf\.(\w+)$/, (m) => ({ transition: true, check: (s, o) => isDeepStrictEqual(field(s, m[1] ?? ''), field(o, m[2] ?? '')) })],
  [/^self\.matches\(r'([^']*)'\)$/, (m) => {
    const re = new RegExp(m[1] ?? '');
    return { transition: false, check: (s) => typeof s === 'string' && re.test(s) };
  }],
  [/^self\.type != '(\w+)' \|\| self\.value\.matches\(r'([^']*)'\)$/, (m) => {
    const re = new RegExp(m[2] ?? '');
    return { transition: false, check: (s) => field(s, 'type') !== m[1] || (typeof field(s, 'value') === 'string' && re.test(field(s, 'value') as string)) };
  }],
  [/^has\(self\.(\w+)\) != has\(self\.(\w+)\)$/, (m) => ({ transition: false, check: (s) => has(s, m[1] ?? '') !== has(s, m[2] ?? '') })],
  [/^\(self\.(\w+) == '(\w+)'\) == has\(self\.(\w+)\)$/, (m) => ({ transition: false, check: (s) => (field(s, m[1] ?? '') === m[2]) === has(s, m[3] ?? '') })],
  [/^\[((?:has\(self\.\w+\)(?:, )?)+)\]\.filter\(x, x\)\.size\(\) == 1$/, (m) => {
    const names = [...(m[1] ?? '').matchAll(/has\(self\.(\w+)\)/g)].map((x) => x[1] ?? '');
    return { transition: false, check: (s) => names.filter((n) => has(s, n)).length === 1 };
  }],
  [/^!\('([\w-]+)' in self && '([\w-]+)' in self\)$/, (m) => ({ transition: false, check: (s) => !(Array.isArray(s) && s.includes(m[1]) && s.includes(m[2])) })],
  [/^!has\(self\.(\w+)\) \|\| !has\(self\.(\w+)\) \|\| self\.(\w+) == self\.(\w+)$/, (m) => ({
    transition: false,
    check: (s) => !has(s, m[1] ?? '') || !has(s, m[2] ?? '') || isDeepStrictEqual(field(s, m[3] ?? ''), field(s, m[4] ?? '')),
  })],
  [/^!has\(self\.(\w+)\) \|\| !has\(self\.(\w+)\) \|\| self\.(\w+) > self\.(\w+)$/, (m) => ({
    transition: false,
    check: (s) => !has(s, m[1] ?? '') || !has(s, m[2] ?? '') || Date.parse(String(field(s, m[3] ?? ''))) > Date.parse(String(field(s, m[4] ?? ''))),
  })],
];

/** Translates one CEL rule of the schemas; throws for a rule shape this module does not know (a test walks every rule). */
export function celEquivalent(rule: string): CelEquivalent {
  for (const [re, make] of SHAPES) {
    const m = rule.match(re);
    if (m) return make(m);
  }
  throw new Error(`validate.ts has no JavaScript equivalent for the CEL rule ${JSON.stringify(rule)}: add one to SHAPES`);
}

interface RuleDef { rule: string; message: string; fieldPath?: string }

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, formats: { 'date-time': (s: string) => isRfc3339DateTime(s), int32: true, int64: true } });
  for (const keyword of ['x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string']) ajv.addKeyword({ keyword });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    errors: true,
    validate: function celRules(this: unknown, rules: RuleDef[], data: unknown) {
      const failed = rules.filter((r) => {
        const eq = celEquivalent(r.rule);
        return !eq.transition && !eq.check(data, undefined);
      });
      if (failed.length === 0) return true;
      (celRules as { errors?: Partial<ErrorObject>[] }).errors = failed.map((r) => ({ keyword: 'x-kubernetes-validations', message: r.message, params: { rule: r.rule, fieldPath: r.fieldPath ?? '' } }));
      return false;
    },
  });
  return ajv;
}

function errorText(e: ErrorObject): string {
  const base = e.instancePath === '' ? '' : e.instancePath.slice(1).replaceAll('/', '.');
  const fieldPath = typeof e.params['fieldPath'] === 'string' ? e.params['fieldPath'] : '';
  const path = `${base}${fieldPath}` || '(object)';
  if (e.keyword === 'enum') return `${path}: must be one of ${(e.params['allowedValues'] as unknown[]).map(String).join(', ')}`;
  if (e.keyword === 'additionalProperties') return `${path}: unknown field "${String(e.params['additionalProperty'])}"`;
  return `${path}: ${e.message ?? 'is invalid'}`;
}

/** Visits every x-kubernetes-validations rule in `schema` with its JSON path. */
export function walkRules(schema: SchemaNode, visit: (path: string, rule: RuleDef) => void, path = ''): void {
  for (const r of (schema['x-kubernetes-validations'] as RuleDef[] | undefined) ?? []) visit(path, r);
  for (const [k, v] of Object.entries(rec(schema['properties']))) walkRules(rec(v), visit, `${path}.${k}`);
  const items = schema['items'];
  if (items) walkRules(rec(items), visit, `${path}[]`);
  const ap = schema['additionalProperties'];
  if (typeof ap === 'object' && ap !== null) walkRules(rec(ap), visit, `${path}.*`);
}

function transitionErrors(schema: SchemaNode, next: unknown, old: unknown, path: string): string[] {
  const out: string[] = [];
  if (next === undefined || old === undefined) return out;
  for (const r of (schema['x-kubernetes-validations'] as RuleDef[] | undefined) ?? []) {
    const eq = celEquivalent(r.rule);
    if (eq.transition && !eq.check(next, old)) out.push(`${path || '(object)'}: ${r.message}`);
  }
  for (const [k, v] of Object.entries(rec(schema['properties']))) out.push(...transitionErrors(rec(v), field(next, k), field(old, k), path ? `${path}.${k}` : k));
  return out;
}

/** Validates objects of one kind. */
export class KindValidator {
  readonly kind: string;
  private readonly schema: SchemaNode;
  private readonly fn: ValidateFunction;

  constructor(def: KindDefinition, ajv: Ajv) {
    this.kind = def.kind;
    this.schema = def.schema;
    this.fn = ajv.compile(def.schema);
  }

  /** Checks `obj` against the kind's schema and CEL rules; with `old`, also the transition rules (immutability). */
  validate(obj: unknown, old?: unknown): ValidationResult {
    const errors = this.fn(obj) ? [] : (this.fn.errors ?? []).map(errorText);
    if (old !== undefined) errors.push(...transitionErrors(this.schema, obj, old, ''));
    return errors.length === 0 ? { ok: true } : { ok: false, errors: [...new Set(errors)] };
  }
}

/** Validators for every ThreatMesh kind, by kind name. */
export function createValidators(): ReadonlyMap<string, KindValidator> {
  const ajv = newAjv();
  return new Map(KINDS.map((def) => [def.kind, new KindValidator(def, ajv)]));
}

/** The validator of one kind; throws for a kind that is not a ThreatMesh kind. */
export function validatorFor(validators: ReadonlyMap<string, KindValidator>, kind: string): KindValidator {
  const v = validators.get(kind);
  if (!v) throw new Error(`no schema for kind ${kind}`);
  return v;
}
