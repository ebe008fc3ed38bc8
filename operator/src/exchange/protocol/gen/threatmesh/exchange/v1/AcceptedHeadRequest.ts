// Original file: operator/src/exchange/protocol/threatmesh.proto


export interface AcceptedHeadRequest {
}

export interface AcceptedHeadRequest__Output {
}
