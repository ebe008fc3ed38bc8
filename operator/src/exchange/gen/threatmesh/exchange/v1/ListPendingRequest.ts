// Original file: operator/src/exchange/threatmesh.proto


export interface ListPendingRequest {
}

export interface ListPendingRequest__Output {
}
