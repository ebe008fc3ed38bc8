/**
 * The rooms (packages) of operator/src and which rooms each may import, lowest first. The lint
 * rule `threatmesh/rooms` (eslint.config.js) refuses any other import, and rooms.test.ts proves
 * the whole tree has no import cycle between rooms. A room is the first folder under
 * operator/src, except that each party of the exchange (exchange/protocol, exchange/sequencer,
 * exchange/partner) is a room of its own. Files directly in operator/src (main.ts, log.ts,
 * this file) belong to no room and may be imported by every room. Tests are exempt.
 */
import { relative, sep } from 'node:path';

/** Each room and the rooms it may import (never itself listed; a room always imports its own files). */
export const ROOM_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  domain: [],
  runtime: [],
  api: ['domain', 'runtime'],
  feeds: ['domain', 'runtime', 'api'],
  store: ['domain', 'runtime', 'api'],
  'exchange/protocol': ['domain', 'runtime'],
  'exchange/sequencer': ['domain', 'runtime', 'api', 'store', 'exchange/protocol'],
  'exchange/partner': ['domain', 'runtime', 'api', 'feeds', 'store', 'exchange/protocol'],
  controllers: ['domain', 'runtime', 'api', 'feeds', 'store', 'match', 'enforce', 'report'],
  match: ['domain', 'runtime', 'api', 'feeds', 'store'],
  enforce: ['domain', 'runtime', 'api', 'feeds', 'store'],
  serve: ['domain', 'runtime', 'api', 'feeds', 'store', 'match'],
  report: ['domain', 'runtime', 'api', 'feeds', 'store', 'match'],
  codegen: ['domain', 'runtime', 'api', 'exchange/protocol'],
  cli: ['domain', 'runtime', 'api', 'feeds', 'store', 'exchange/protocol', 'exchange/sequencer', 'exchange/partner', 'controllers', 'match', 'enforce', 'serve', 'report', 'codegen'],
  dev: ['domain', 'runtime', 'api', 'feeds', 'store', 'exchange/protocol', 'exchange/sequencer', 'exchange/partner', 'controllers', 'match', 'enforce', 'serve', 'report', 'codegen', 'cli'],
};

/** The room of an absolute file path under `srcRoot` (operator/src); '' for a file directly in it, undefined outside it. */
export function roomOf(srcRoot: string, file: string): string | undefined {
  const rel = relative(srcRoot, file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  if (parts.length === 1) return '';
  if (parts[0] === 'exchange' && parts.length > 2) return `exchange/${parts[1]}`;
  return parts[0];
}

/** Why room `from` may not import room `to`, or undefined when it may. */
export function roomViolation(from: string, to: string): string | undefined {
  if (from === to || from === '' || to === '') return undefined;
  const allowed = ROOM_IMPORTS[from];
  if (allowed === undefined) return `operator/src/${from}/ is not a known room: add it to ROOM_IMPORTS in operator/src/rooms.ts with the rooms it may import`;
  if (allowed.includes(to)) return undefined;
  if (to === 'dev') return `product code must not import dev/ (local tooling); load it lazily as cli/commands.ts does`;
  return `${from}/ may import only ${allowed.length > 0 ? allowed.join(', ') : 'itself'}; ${to}/ is not among them (operator/src/rooms.ts): move the shared piece down a room or pass it in`;
}
