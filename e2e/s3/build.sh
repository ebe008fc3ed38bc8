#!/usr/bin/env bash
# Builds the S3-compatible object store the object-storage tests run against: the Versity S3
# Gateway (versitygw, Apache-2.0), a production S3 server that serves a POSIX directory and
# checks AWS Signature V4 on every request. Pinned, built from the Go module proxy with
# `go install`, into a cache outside the repository; a second run returns at once.
#
# usage: e2e/s3/build.sh [--cache DIR] [build|path]   (see e2e/lib/gotool.sh)
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
GO_PINNED=go1.26.8   # the same compiler as e2e/controlplane/build.sh (part of the cache key)
LABEL="s3 build"
. "$(dirname "$0")/../lib/gotool.sh"

recipe() {
  local tmp; tmp="$(mktemp -d)"
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" && mv "$tmp/versitygw" "$1" && rm -rf "$tmp"
}

gotool_main "$cache/s3/versitygw-${VERSITYGW_VERSION}-${GO_PINNED}/versitygw" "versitygw ${VERSITYGW_VERSION}: go install" recipe
