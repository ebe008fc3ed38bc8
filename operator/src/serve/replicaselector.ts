/**
 * The selectors a list of the replica API (serve/replicaapi.ts) honours, parsed from the query
 * as kube-apiserver parses them (k8s.io/apimachinery labels.Parse, fields.ParseSelector), so a
 * user writes what kubectl already knows:
 *
 * - `fieldSelector`: `metadata.name=NAME`, `metadata.namespace=NS` (`=` or `==`), comma-joined.
 *   Field selectors have no set form in Kubernetes.
 * - `labelSelector`: `threatmesh.io/type` and `threatmesh.io/name` (every object carries both;
 *   the name label mirrors metadata.name, as `kubernetes.io/metadata.name` does on Namespaces)
 *   with `=`, `==` or the set form `in (a,b,c)`. Terms are ANDed, so several name terms
 *   intersect. The set form answers "which of these objects exist" in one request.
 * - At most {@link MAX_SELECTED_NAMES} names per request; more, an unsupported key or operator,
 *   or a value that is not a valid label value is refused (the server answers 400 with the
 *   message, which says what to send instead).
 */

/** The label that mirrors an object's name. */
export const NAME_LABEL = 'threatmesh.io/name';
/** The label that holds an indicator's type. */
export const TYPE_LABEL = 'threatmesh.io/type';
/** Most names one list may select (`threatmesh.io/name in (…)`); one database `$in` query answers them. */
export const MAX_SELECTED_NAMES = 1000;

/** What a list selects. Undefined members select everything. */
export interface Selection {
  /** Only objects with one of these names (deduplicated, in the order given). */
  readonly names?: readonly string[];
  /** Only objects of one of these types. */
  readonly types?: readonly string[];
  readonly namespace?: string;
}

/** A refused query: the 400's message. */
export interface Refusal {
  readonly refused: string;
}

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const SUPPORTED_LABELS = `${TYPE_LABEL}=TYPE, ${NAME_LABEL}=NAME or ${NAME_LABEL} in (NAME1,NAME2,…) (at most ${MAX_SELECTED_NAMES} names)`;

// ANDs a term's values into what was selected so far.
function intersect(prev: readonly string[] | undefined, values: readonly string[]): string[] {
  const unique = [...new Set(values)];
  return prev === undefined ? unique : unique.filter((v) => prev.includes(v));
}

// Splits a label selector into terms at the commas outside parentheses.
function terms(selector: string): string[] | Refusal {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (depth < 0 || depth > 1) return { refused: `label selector has unbalanced parentheses at character ${i + 1}` };
    if (c === ',' && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return { refused: 'label selector has an unclosed "("' };
  out.push(selector.slice(start));
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

// One label term as [key, values], or why it is refused.
function labelTerm(term: string): [string, string[]] | Refusal {
  const set = /^(\S+?)\s+in\s*\((.*)\)$/s.exec(term);
  const eq = set === null ? /^([^\s!=()]+)\s*==?\s*([^\s=()]*)$/.exec(term) : null;
  const key = set?.[1] ?? eq?.[1];
  if (key === undefined || (key !== TYPE_LABEL && key !== NAME_LABEL)) {
    return { refused: `label selector ${JSON.stringify(term.slice(0, 200))} is not supported; use ${SUPPORTED_LABELS}` };
  }
  const values = set !== null ? set[2]!.split(',').map((v) => v.trim()) : [eq![2]!];
  if (set !== null && values.every((v) => v === '')) return { refused: `label selector ${JSON.stringify(key)} in (): the set is empty; name at least one value` };
  const bad = values.find((v) => v.length > 63 || !LABEL_VALUE.test(v));
  if (bad !== undefined) {
    return { refused: `label selector value ${JSON.stringify(bad.slice(0, 80))} is not a valid label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit); object names look like domain-<40 hex digits>` };
  }
  return [key, values.filter((v) => v !== '')];
}

function parseLabels(selector: string, into: { names?: string[]; types?: string[] }): Refusal | undefined {
  const all = terms(selector);
  if ('refused' in all) return all;
  for (const term of all) {
    const parsed = labelTerm(term);
    if ('refused' in parsed) return parsed;
    const [key, values] = parsed;
    if (key === NAME_LABEL && new Set(values).size > MAX_SELECTED_NAMES) {
      return { refused: `label selector ${NAME_LABEL} names ${new Set(values).size} objects; at most ${MAX_SELECTED_NAMES} per request: split the set into several requests` };
    }
    if (key === NAME_LABEL) into.names = intersect(into.names, values);
    else into.types = intersect(into.types, values);
  }
  return undefined;
}

function parseFields(selector: string, into: { names?: string[]; namespace?: string }): Refusal | undefined {
  for (const term of selector.split(',').filter((t) => t !== '')) {
    const m = /^metadata\.(name|namespace)==?(.+)$/.exec(term);
    if (m === null) {
      return { refused: `field selector ${JSON.stringify(term.slice(0, 200))} is not supported; use metadata.name=NAME or metadata.namespace=NS (for a set of names: labelSelector=${NAME_LABEL} in (NAME1,NAME2,…))` };
    }
    if (m[1] === 'name') into.names = intersect(into.names, [m[2]!]);
    else into.namespace = m[2]!;
  }
  return undefined;
}

/** The selection of a list query, or why it is refused. */
export function parseSelectors(q: URLSearchParams): Selection | Refusal {
  const out: { names?: string[]; types?: string[]; namespace?: string } = {};
  const refused = parseFields(q.get('fieldSelector') ?? '', out) ?? parseLabels(q.get('labelSelector') ?? '', out);
  return refused ?? out;
}
