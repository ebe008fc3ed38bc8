// Original file: operator/src/exchange/protocol/threatmesh.proto


export interface Proof {
  'hashes'?: (string)[];
}

export interface Proof__Output {
  'hashes': (string)[];
}
