/**
 * Paths that select values in a JSON document (see jsonscan.ts): dot-separated keys, `[*]` for
 * every array element, `*` for every key (or element) of a container, `$` or '' for the whole
 * document.
 */
import { FeedError } from './types.ts';

/** One step of a path. */
export type PathSegment = { readonly kind: 'key'; readonly key: string } | { readonly kind: 'index' } | { readonly kind: 'any' };

/** Parses a path expression (see module doc). Throws FeedError('bad-config') on bad syntax. */
export function parsePath(expr: string): PathSegment[] {
  const e = expr.trim();
  if (e === '' || e === '$') return [];
  const out: PathSegment[] = [];
  for (const part of (e.startsWith('$.') ? e.slice(2) : e).split('.')) {
    let p = part;
    let tail = 0;
    while (p.endsWith('[*]')) {
      p = p.slice(0, -3);
      tail++;
    }
    if (p === '*') out.push({ kind: 'any' });
    else if (p !== '') out.push({ kind: 'key', key: p });
    else if (tail === 0) throw new FeedError('bad-config', `empty step in JSON path "${expr}"`);
    for (let i = 0; i < tail; i++) out.push({ kind: 'index' });
  }
  if (out.some((s) => s.kind === 'key' && /[[\]]/.test(s.key))) throw new FeedError('bad-config', `JSON path "${expr}" has brackets other than [*]; use dotted keys and [*]`);
  return out;
}

/** Renders a path for messages: `objects[3]`, `Event.Attribute[*]`. */
export function pathText(path: ReadonlyArray<string | number | PathSegment>): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (typeof p === 'string') s += s === '' ? p : `.${p}`;
    else if (p.kind === 'index') s += '[*]';
    else if (p.kind === 'any') s += s === '' ? '*' : '.*';
    else s += s === '' ? p.key : `.${p.key}`;
  }
  return s === '' ? '$' : s;
}
