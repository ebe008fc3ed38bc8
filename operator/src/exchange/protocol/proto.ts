/**
 * Loads threatmesh.proto at run time with the same options the generated types in gen/ were
 * made with (see operator/src/gen/grpc.ts), and exposes the typed service definition.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProtoGrpcType } from './gen/threatmesh.ts';

/** Loader options; they must match the flags of the stub generator. */
export const PROTO_OPTIONS: Options = { longs: Number, enums: String, defaults: true, oneofs: true };

/** The path of the service definition. */
export const PROTO_PATH = fileURLToPath(new URL('./threatmesh.proto', import.meta.url));

/** The loaded `threatmesh.exchange.v1` package: the Exchange client constructor and its service definition. */
export function loadExchangePackage(): ProtoGrpcType['threatmesh']['exchange']['v1'] {
  const loaded = grpc.loadPackageDefinition(loadSync(PROTO_PATH, PROTO_OPTIONS)) as unknown as ProtoGrpcType;
  return loaded.threatmesh.exchange.v1;
}
