/**
 * gRPC stubs: TypeScript types for operator/src/exchange/protocol/threatmesh.proto, written by
 * @grpc/proto-loader's `proto-loader-gen-types` into operator/src/exchange/protocol/gen/. The options
 * here must match the loader options in operator/src/exchange/protocol/proto.ts.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

/** Proto file and output directory, relative to the repository root. */
export const EXCHANGE_PROTO = 'operator/src/exchange/protocol/threatmesh.proto';
/** Where the generated types go; CI diffs this directory. */
export const EXCHANGE_GEN_DIR = 'operator/src/exchange/protocol/gen';

/** Regenerates the exchange types from scratch (so removed messages disappear) and returns the files written. */
export async function generateGrpcStubs(root: string): Promise<string[]> {
  const out = join(root, EXCHANGE_GEN_DIR);
  await rm(out, { recursive: true, force: true });
  const bin = createRequire(import.meta.url).resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
  await promisify(execFile)(process.execPath, [
    bin, '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--includeComments',
    '--grpcLib=@grpc/grpc-js', '--importFileExtension=.ts', '--targetFileExtension=.ts',
    '-I', 'operator/src/exchange/protocol', '-O', EXCHANGE_GEN_DIR, 'threatmesh.proto',
  ], { cwd: root });
  return (await listFiles(out)).map((f) => relative(root, f)).sort();
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]))));
  return nested.flat();
}
