// Original file: operator/src/exchange/threatmesh.proto


export interface AcceptedHeadRequest {
}

export interface AcceptedHeadRequest__Output {
}
