/** Every fuzz target, by name, in the order `npm run fuzz` runs them. */
import type { FuzzTarget } from '../target.ts';
import { canonicalTarget } from './canonical.ts';
import { csvTarget, linesTarget } from './delimited.ts';
import { decompressTarget } from './decompress.ts';
import { entriesTarget, proposalsTarget, votesTarget } from './exchange.ts';
import { headsTarget } from './heads.ts';
import { jsonlTarget, jsonTarget, mispTarget, stixTarget } from './jsonfeeds.ts';
import { normalizeTarget } from './normalize.ts';
import { taxiiTarget } from './taxii.ts';

/** The targets. */
export const TARGETS: readonly FuzzTarget[] = [
  normalizeTarget, canonicalTarget, csvTarget, linesTarget, jsonTarget, jsonlTarget, stixTarget, mispTarget, taxiiTarget,
  proposalsTarget, votesTarget, entriesTarget, headsTarget, decompressTarget,
];

/** The target named `name`, or undefined. */
export function targetNamed(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
