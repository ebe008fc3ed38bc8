/**
 * STIX 2.1: indicator patterns for each indicator type, a parser for the
 * simple patterns feeds publish (equality comparisons joined by OR), and
 * STIX 2.1 `indicator` objects with deterministic ids.
 */
import { hash } from 'node:crypto';
import { indicatorDigest } from './canonical.ts';
import { normalize, type Indicator, type IndicatorType, type Rejection, type RejectReason } from './indicator.ts';

/** RFC 4122 namespace for DNS names. */
export const UUID_NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

/**
 * The UUIDv5 namespace of ThreatMesh STIX ids: `uuidV5(UUID_NAMESPACE_DNS, 'threatmesh.io')`.
 * An indicator's id is `indicator--` + `uuidV5(STIX_ID_NAMESPACE, indicatorDigest(ind))`,
 * so every partner derives the same id for the same indicator. (STIX 2.1
 * suggests UUIDv4 for SDOs; any RFC 4122 UUID is valid, and determinism is
 * what lets partners and SIEMs deduplicate.)
 */
export const STIX_ID_NAMESPACE = '89495a62-ff98-55ae-b671-d2410483e051';

/** TLP levels as named by TLP 2.0. */
export type Tlp = 'clear' | 'green' | 'amber' | 'amber+strict' | 'red';

/** The OASIS TLP 2.0 extension under which the TLP 2.0 marking definitions are published. */
export const TLP_2_EXTENSION_ID = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

/** Marking-definition ids of TLP 2.0 (OASIS cti-stix-common-objects, tlp-2.0); used in object_marking_refs. */
export const TLP_MARKING_IDS: Readonly<Record<Tlp, string>> = {
  clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
};

/** Marking-definition ids of TLP 1.0 predefined by STIX 2.1 §7.2.1.4, for reading older bundles. */
export const TLP_V1_MARKING_IDS: Readonly<Record<'white' | 'green' | 'amber' | 'red', string>> = {
  white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
};

/** A TLP 2.0 marking-definition object as published by OASIS; bundles that reference TLP_MARKING_IDS should carry it. */
export interface StixTlpMarkingDefinition {
  readonly type: 'marking-definition';
  readonly spec_version: '2.1';
  readonly id: string;
  readonly created: string;
  readonly name: string;
  readonly extensions: Readonly<Record<string, { readonly extension_type: 'property-extension'; readonly tlp_2_0: Tlp }>>;
}

/** Returns the OASIS TLP 2.0 marking-definition object for `tlp`. */
export function tlpMarkingDefinition(tlp: Tlp): StixTlpMarkingDefinition {
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: TLP_MARKING_IDS[tlp],
    created: '2022-10-01T00:00:00.000Z',
    name: `TLP:${tlp.toUpperCase()}`,
    extensions: { [TLP_2_EXTENSION_ID]: { extension_type: 'property-extension', tlp_2_0: tlp } },
  };
}

/** Options for `toStixIndicator`. */
export interface StixIndicatorOptions {
  /** Creation time of this (first) version; also `modified`. */
  readonly created: Date;
  /** @default created */
  readonly validFrom?: Date;
  /** Must be later than validFrom. */
  readonly validUntil?: Date;
  /** @default the indicator value */
  readonly name?: string;
  readonly labels?: readonly string[];
  /** STIX confidence, an integer 0–100. */
  readonly confidence?: number;
  readonly tlp?: Tlp;
  /** `identity--<uuid>` of the producer. */
  readonly createdByRef?: string;
  /** Open vocabulary `indicator-type-ov`, e.g. `malicious-activity`. */
  readonly indicatorTypes?: readonly string[];
}

/** A STIX 2.1 indicator SDO as produced by `toStixIndicator` (absent optional properties are omitted). */
export interface StixIndicatorObject {
  readonly type: 'indicator';
  readonly spec_version: '2.1';
  readonly id: string;
  readonly created: string;
  readonly modified: string;
  readonly name: string;
  readonly indicator_types?: readonly string[];
  readonly pattern: string;
  readonly pattern_type: 'stix';
  readonly pattern_version: '2.1';
  readonly valid_from: string;
  readonly valid_until?: string;
  readonly labels?: readonly string[];
  readonly confidence?: number;
  readonly created_by_ref?: string;
  readonly object_marking_refs?: readonly string[];
}

/** The outcome of `parseStixPattern`. */
export type StixParseResult = { ok: true; indicators: Indicator[] } | { ok: false; rejection: Rejection };

const HASH_NAMES = { md5: 'MD5', sha1: 'SHA-1', sha256: 'SHA-256' } as const;
const MAX_PATTERN_LENGTH = 1 << 20;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Quotes `s` as a STIX pattern string literal, escaping `\` and `'`. */
export function stixString(s: string): string {
  // Most values need no escaping; skip the two scans-and-copies on the feed hot path.
  if (!s.includes('\\') && !s.includes("'")) return `'${s}'`;
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * The STIX 2.1 pattern for a normalized indicator: `[ipv4-addr:value = '…']`
 * (cidr v4 too, with its `/prefix`), `[ipv6-addr:value = '…']` (cidr v6 too),
 * `[domain-name:value = '…']`, `[url:value = '…']`, `[email-addr:value = '…']`,
 * `[file:hashes.'MD5' = '…']` / `'SHA-1'` / `'SHA-256'`.
 */
export function stixPattern(ind: Indicator): string {
  return `[${objectPath(ind)} = ${stixString(ind.value)}]`;
}

function objectPath(ind: Indicator): string {
  switch (ind.type) {
    case 'ipv4': return 'ipv4-addr:value';
    case 'ipv6': return 'ipv6-addr:value';
    case 'cidr': return ind.value.includes(':') ? 'ipv6-addr:value' : 'ipv4-addr:value';
    case 'domain': return 'domain-name:value';
    case 'url': return 'url:value';
    case 'email': return 'email-addr:value';
    case 'md5':
    case 'sha1':
    case 'sha256':
      return `file:hashes.'${HASH_NAMES[ind.type]}'`;
  }
}

/**
 * UUID version 5 (RFC 4122 §4.3): SHA-1 over the namespace's 16 bytes and
 * the UTF-8 name, with the version and variant bits set.
 */
export function uuidV5(namespace: string, name: string): string {
  if (!UUID_TEXT.test(namespace)) throw new TypeError(`uuidV5: "${namespace}" is not a lower-case RFC 4122 UUID`);
  const bytes = hash('sha1', Buffer.concat([Buffer.from(namespace.replaceAll('-', ''), 'hex'), Buffer.from(name, 'utf8')]), 'buffer');
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const h = bytes.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The deterministic STIX id of an indicator: `indicator--` + UUIDv5(STIX_ID_NAMESPACE, digest). */
export function stixIndicatorId(ind: Indicator): string {
  return `indicator--${uuidV5(STIX_ID_NAMESPACE, indicatorDigest(ind))}`;
}

/**
 * Builds the STIX 2.1 indicator SDO for a normalized indicator. Pure and
 * deterministic: the same indicator and options give the same object.
 * Throws a RangeError/TypeError on options STIX forbids (confidence outside
 * 0–100, valid_until not after valid_from, invalid dates, malformed
 * created_by_ref, empty labels) — those are programming errors, not feed data.
 */
export function toStixIndicator(ind: Indicator, options: StixIndicatorOptions): StixIndicatorObject {
  checkOptions(options);
  const created = timestamp(options.created, 'created');
  const validFrom = options.validFrom === undefined ? created : timestamp(options.validFrom, 'validFrom');
  const validUntil = options.validUntil === undefined ? undefined : timestamp(options.validUntil, 'validUntil');
  if (validUntil !== undefined && (options.validUntil?.getTime() ?? 0) <= (options.validFrom ?? options.created).getTime()) {
    throw new RangeError(`toStixIndicator: validUntil ${validUntil} must be later than valid_from ${validFrom}`);
  }
  return {
    type: 'indicator',
    spec_version: '2.1',
    id: stixIndicatorId(ind),
    created,
    modified: created,
    name: options.name ?? ind.value,
    ...(options.indicatorTypes === undefined ? {} : { indicator_types: [...options.indicatorTypes] }),
    pattern: stixPattern(ind),
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: validFrom,
    ...(validUntil === undefined ? {} : { valid_until: validUntil }),
    ...(options.labels === undefined ? {} : { labels: [...options.labels] }),
    ...(options.confidence === undefined ? {} : { confidence: options.confidence }),
    ...(options.createdByRef === undefined ? {} : { created_by_ref: options.createdByRef }),
    ...(options.tlp === undefined ? {} : { object_marking_refs: [TLP_MARKING_IDS[options.tlp]] }),
  };
}

function checkOptions(o: StixIndicatorOptions): void {
  if (o.confidence !== undefined && !(Number.isInteger(o.confidence) && o.confidence >= 0 && o.confidence <= 100)) {
    throw new RangeError(`toStixIndicator: confidence ${o.confidence} must be an integer 0-100`);
  }
  if (o.createdByRef !== undefined && !(o.createdByRef.startsWith('identity--') && UUID_TEXT.test(o.createdByRef.slice(10)))) {
    throw new TypeError(`toStixIndicator: createdByRef "${o.createdByRef}" must be identity--<lower-case uuid>`);
  }
  for (const [field, list] of [['labels', o.labels], ['indicatorTypes', o.indicatorTypes]] as const) {
    if (list?.some((l) => l.length === 0)) throw new TypeError(`toStixIndicator: ${field} must not contain empty strings`);
  }
  if (o.tlp !== undefined && !Object.hasOwn(TLP_MARKING_IDS, o.tlp)) throw new TypeError(`toStixIndicator: unknown TLP "${String(o.tlp)}"`);
}

function timestamp(d: Date, field: string): string {
  if (Number.isNaN(d.getTime())) throw new RangeError(`toStixIndicator: ${field} is an invalid Date`);
  return d.toISOString();
}

// ---- Pattern parsing -------------------------------------------------------

type TokenKind = 'punct' | 'op' | 'string' | 'word' | 'end';
interface Token { readonly kind: TokenKind; readonly text: string; readonly at: number }

const QUALIFIERS: ReadonlySet<string> = new Set(['WITHIN', 'REPEATS', 'START', 'STOP']);
const OTHER_OPERATORS: ReadonlySet<string> = new Set(['LIKE', 'MATCHES', 'IN', 'ISSUBSET', 'ISSUPERSET', 'NOT', 'EXISTS']);
const SUPPORTED_PATHS = "ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value, email-addr:value, file:hashes.'MD5', file:hashes.'SHA-1', file:hashes.'SHA-256'";

class PatternError extends Error {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function invalid(message: string, at: number): PatternError {
  return new PatternError('invalid-stix-pattern', `${message} at offset ${at}`);
}

function unsupported(message: string): PatternError {
  return new PatternError('unsupported-stix-pattern', message);
}

/**
 * Parses a STIX 2.1 pattern made of equality comparisons joined by OR —
 * inside one observation (`[a = 'x' OR b = 'y']`), between observations
 * (`[..] OR [..]`), with optional grouping parentheses — into normalized
 * indicators (duplicates removed, first occurrence kept). Anything else is
 * refused with `unsupported-stix-pattern` (AND, FOLLOWEDBY, qualifiers,
 * operators other than `=`, non-string values, other object paths) or
 * `invalid-stix-pattern` (syntax errors); a value that fails normalization
 * is refused with the normalization reason. Never throws.
 */
export function parseStixPattern(pattern: string): StixParseResult {
  const input = pattern.length > 256 ? `${pattern.slice(0, 256)}…` : pattern;
  try {
    if (pattern.length > MAX_PATTERN_LENGTH) throw unsupported(`the pattern has ${pattern.length} characters; at most ${MAX_PATTERN_LENGTH} are accepted`);
    return { ok: true, indicators: new Parser(pattern).parse() };
  } catch (err) {
    if (!(err instanceof PatternError)) throw err;
    return { ok: false, rejection: { reason: err.reason, message: `STIX pattern: ${err.message}`, input } };
  }
}

class Parser {
  private readonly lexer: Lexer;
  private token: Token;
  private readonly seen = new Set<string>();
  private readonly out: Indicator[] = [];

  constructor(pattern: string) {
    this.lexer = new Lexer(pattern);
    this.token = this.lexer.next();
  }

  parse(): Indicator[] {
    let depth = 0;
    for (;;) {
      depth += this.skipParens('(');
      this.expect('[', 'expected "[" to start an observation');
      this.parseObservation();
      depth -= this.skipParens(')');
      if (depth < 0) throw invalid('unbalanced ")"', this.token.at);
      if (this.token.kind === 'end') break;
      this.expectJoin('observations');
    }
    if (depth !== 0) throw invalid('unbalanced "("', this.token.at);
    if (this.out.length === 0) throw invalid('empty pattern', 0);
    return this.out;
  }

  private parseObservation(): void {
    let depth = 0;
    for (;;) {
      depth += this.skipParens('(');
      this.parseComparison();
      depth -= this.skipParens(')');
      if (depth < 0) throw invalid('unbalanced ")"', this.token.at);
      if (this.token.kind === 'punct' && this.token.text === ']') break;
      this.expectJoin('comparisons');
    }
    if (depth !== 0) throw invalid('unbalanced "(" inside "[...]"', this.token.at);
    this.advance();
  }

  private skipParens(paren: '(' | ')'): number {
    let n = 0;
    while (this.token.kind === 'punct' && this.token.text === paren) {
      n++;
      this.advance();
    }
    return n;
  }

  private expectJoin(what: string): void {
    const t = this.token;
    if (t.kind === 'word' && t.text === 'OR') { this.advance(); return; }
    if (t.kind === 'word' && (t.text === 'AND' || t.text === 'FOLLOWEDBY')) {
      throw unsupported(`${t.text} between ${what} needs several observables to match together, which one indicator cannot represent; split it into separate indicators`);
    }
    if (t.kind === 'word' && QUALIFIERS.has(t.text)) throw unsupported(`qualifier ${t.text} is not supported; only patterns without qualifiers become indicators`);
    throw invalid(`expected OR, "]" or the end of the pattern but found ${describe(t)}`, t.at);
  }

  private parseComparison(): void {
    const path = this.token;
    if (path.kind !== 'word') throw invalid(`expected an object path like ipv4-addr:value but found ${describe(path)}`, path.at);
    this.advance();
    const op = this.token;
    if (op.kind === 'word' && OTHER_OPERATORS.has(op.text)) throw unsupported(`operator ${op.text} is not supported; only equality (=) comparisons become indicators`);
    if (op.kind !== 'op') throw invalid(`expected "=" after ${path.text} but found ${describe(op)}`, op.at);
    if (op.text !== '=') throw unsupported(`operator ${op.text} is not supported; only equality (=) comparisons become indicators`);
    this.advance();
    const value = this.token;
    if (value.kind !== 'string') {
      throw value.kind === 'word' ? unsupported(`only plain string values are supported, found ${describe(value)} after ${path.text}`) : invalid(`expected a quoted string after "=" but found ${describe(value)}`, value.at);
    }
    this.advance();
    this.add(typeForPath(path.text, value.text), value.text);
  }

  private add(type: IndicatorType, value: string): void {
    const r = normalize(type, value);
    if (!r.ok) throw new PatternError(r.rejection.reason, r.rejection.message);
    const key = `${r.indicator.type}\u0000${r.indicator.value}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.out.push(r.indicator);
  }

  private expect(text: string, message: string): void {
    if (this.token.kind !== 'punct' || this.token.text !== text) {
      const t = this.token;
      if (t.kind === 'word' && QUALIFIERS.has(t.text)) throw unsupported(`qualifier ${t.text} is not supported`);
      throw invalid(`${message}, found ${describe(t)}`, t.at);
    }
    this.advance();
  }

  private advance(): void {
    this.token = this.lexer.next();
  }
}

function describe(t: Token): string {
  if (t.kind === 'end') return 'the end of the pattern';
  if (t.kind === 'string') return `the string '${t.text.length > 40 ? `${t.text.slice(0, 40)}…` : t.text}'`;
  return `"${t.text.length > 40 ? `${t.text.slice(0, 40)}…` : t.text}"`;
}

/** Maps a STIX object path and its value to the indicator type; refuses paths that are not indicators here. */
function typeForPath(path: string, value: string): IndicatorType {
  switch (path) {
    case 'ipv4-addr:value': return ipType(value, 'ipv4', false);
    case 'ipv6-addr:value': return ipType(value, 'ipv6', true);
    case 'domain-name:value': return 'domain';
    case 'url:value': return 'url';
    case 'email-addr:value': return 'email';
    default: return hashTypeForPath(path);
  }
}

function ipType(value: string, bare: 'ipv4' | 'ipv6', v6: boolean): IndicatorType {
  if (value.includes(':') !== v6) {
    throw new PatternError(v6 ? 'invalid-ipv6' : 'invalid-ipv4', `'${value}' is not an ${v6 ? 'IPv6' : 'IPv4'} address but is compared with ${v6 ? 'ipv6' : 'ipv4'}-addr:value`);
  }
  return value.includes('/') ? 'cidr' : bare;
}

function hashTypeForPath(path: string): IndicatorType {
  const prefix = 'file:hashes.';
  if (path.startsWith(prefix)) {
    const quotedName = path.slice(prefix.length);
    const name = quotedName.startsWith("'") && quotedName.endsWith("'") && quotedName.length > 2 ? quotedName.slice(1, -1) : quotedName;
    switch (name.toUpperCase().replaceAll('-', '')) {
      case 'MD5': return 'md5';
      case 'SHA1': return 'sha1';
      case 'SHA256': return 'sha256';
      default: throw unsupported(`hash algorithm ${name} is not supported; use MD5, SHA-1 or SHA-256`);
    }
  }
  throw unsupported(`object path ${path} is not supported; supported paths are ${SUPPORTED_PATHS}`);
}

/** Splits a pattern into tokens in one linear pass. */
class Lexer {
  private i = 0;
  private readonly s: string;

  constructor(s: string) {
    this.s = s;
  }

  next(): Token {
    const s = this.s;
    while (this.i < s.length && isSpace(s.charCodeAt(this.i))) this.i++;
    const at = this.i;
    if (at >= s.length) return { kind: 'end', text: '', at };
    const c = s[at] ?? '';
    if (c === '[' || c === ']' || c === '(' || c === ')') {
      this.i++;
      return { kind: 'punct', text: c, at };
    }
    if (c === "'") return { kind: 'string', text: this.readString(), at };
    if (c === '=' || c === '!' || c === '<' || c === '>') return this.readOperator(at);
    return { kind: 'word', text: this.readWord(), at };
  }

  private readOperator(at: number): Token {
    const s = this.s;
    const two = s.slice(at, at + 2);
    const text = two === '!=' || two === '<=' || two === '>=' || two === '==' ? two : s[at] ?? '';
    if (text === '!') throw invalid('"!" must be followed by "="', at);
    this.i += text.length;
    return { kind: 'op', text, at };
  }

  /** Reads a '...' literal; `\'` and `\\` are the only escapes STIX defines. */
  private readString(): string {
    const s = this.s;
    const start = this.i;
    let out = '';
    let from = ++this.i;
    for (; this.i < s.length; this.i++) {
      const c = s[this.i];
      if (c === "'") {
        out += s.slice(from, this.i++);
        return out;
      }
      if (c === '\\') {
        const e = s[this.i + 1];
        if (e !== "'" && e !== '\\') throw invalid(`invalid escape "\\${e ?? ''}" in string (only \\' and \\\\ are allowed)`, this.i);
        out += s.slice(from, this.i) + e;
        this.i++;
        from = this.i + 1;
      }
    }
    throw invalid('unterminated string', start);
  }

  /** Reads an object path or keyword; a quoted path component after '.' (hashes.'SHA-256') stays part of the word. */
  private readWord(): string {
    const s = this.s;
    const start = this.i;
    while (this.i < s.length) {
      const ch = s[this.i] ?? '';
      if (ch === "'" && s[this.i - 1] === '.') {
        const close = s.indexOf("'", this.i + 1);
        if (close < 0) throw invalid('unterminated quoted path component', this.i);
        this.i = close + 1;
        continue;
      }
      if (isSpace(ch.charCodeAt(0)) || "[]()'=!<>".includes(ch)) break;
      this.i++;
    }
    return s.slice(start, this.i);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}
