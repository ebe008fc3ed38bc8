#!/usr/bin/env node
// Runs the TypeScript entry point through Node's type stripping. Older Node.js versions cannot
// load .ts files at all (they fail with ERR_UNKNOWN_FILE_EXTENSION, which names no version), so
// the version is checked first, in syntax every Node.js still in use parses, against `engines`
// in package.json, and the message names the command that fixes it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parts(v) {
  return String(v).replace(/^[^\d]*/, '').split('.').map((n) => parseInt(n, 10) || 0);
}

function atLeast(have, want) {
  const h = parts(have);
  const w = parts(want);
  for (let i = 0; i < 3; i += 1) {
    if ((h[i] || 0) !== (w[i] || 0)) return (h[i] || 0) > (w[i] || 0);
  }
  return true;
}

let required = '22.19.0';
let pinned = '';
try {
  required = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node.replace(/^>=\s*/, '');
  pinned = readFileSync(join(root, '.nvmrc'), 'utf8').trim();
} catch {
  // An installed copy without package.json or .nvmrc keeps the defaults above.
}

if (!atLeast(process.versions.node, required)) {
  process.stderr.write(
    `threatmesh needs Node.js >= ${required} (it runs its TypeScript sources directly); this is Node.js ${process.version} (${process.execPath}).\n` +
    `Fix: in ${root} run \`. scripts/setup-node.sh\` (puts the pinned Node.js ${pinned || required} first on PATH, installing it once into ~/.cache/threatmesh/node), then run the command again.\n` +
    '`npm start` and `npm test` do this themselves.\n',
  );
  process.exit(1);
}

await import('../operator/src/main.ts');
