// Original file: operator/src/exchange/protocol/threatmesh.proto


export interface VotingWindow {
  'opensAt'?: (string);
  'closesAt'?: (string);
}

export interface VotingWindow__Output {
  'opensAt': (string);
  'closesAt': (string);
}
