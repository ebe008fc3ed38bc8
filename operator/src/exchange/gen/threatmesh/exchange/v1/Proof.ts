// Original file: operator/src/exchange/threatmesh.proto


export interface Proof {
  'hashes'?: (string)[];
}

export interface Proof__Output {
  'hashes': (string)[];
}
