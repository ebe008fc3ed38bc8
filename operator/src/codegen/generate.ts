/**
 * `npm run generate`: writes every generated artifact (CRD YAML, gRPC stubs, chart CRDs) from
 * its TypeScript source of truth. CI runs it and fails when the committed output differs.
 */
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { generateManifests } from './crds.ts';
import { generateGrpcStubs } from './grpc.ts';
import { generateTypes } from './types.ts';
import { generateCdk8sImports } from './cdk8simports.ts';
import { generateChart } from './chart.ts';
import { generateWasm } from './wasm.ts';

/** One generator: writes its files under `root` and returns the paths it wrote. */
export type Generator = (root: string) => Promise<string[]>;

const generators: Array<[string, Generator]> = [
  ['manifests (crds/, config/rbac, config/webhook)', generateManifests],
  ['gRPC stubs (operator/src/exchange/protocol/gen)', generateGrpcStubs],
  ['object types (operator/src/api/types.ts)', generateTypes],
  ['cdk8s imports of the upstream CRDs (cdk8s/imports)', generateCdk8sImports],
  ['Helm chart CRDs, values, schema, rules, dashboard, RBAC (charts/threatmesh)', generateChart],
  ['WebAssembly modules of the matcher (operator/src/match/formats/*.wasm.ts)', generateWasm],
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
for (const [name, gen] of generators) {
  const written = await gen(root);
  process.stdout.write(`generate: ${name}: ${written.length} file(s)\n`);
}
