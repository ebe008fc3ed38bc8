# Sourced by the build scripts of the Go-built test tools (e2e/cilium/build.sh, e2e/s3/build.sh)
# with their arguments: the shared command line, the pinned Go, and a cached build that runs once
# at a time. The caller sets GO_PINNED and LABEL first, then calls `gotool_main OUT WHAT RECIPE`.
#
# Command line: [--cache DIR] [build|path]
#   --cache DIR  cache root (default $THREATMESH_CACHE, else ~/.cache/threatmesh)
#   build  (default) build when missing, print the binary path (last line)
#   path   print the binary path, build nothing

here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
cache="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}"
if [ "${1:-}" = "--cache" ]; then
  [ -n "${2:-}" ] || { echo "build.sh: --cache needs a directory" >&2; exit 2; }
  cache="$2"; shift 2
fi
command="${1:-build}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0
export GOTOOLCHAIN="$GO_PINNED"

step() { printf '==> [%s] %s\n' "$LABEL" "$*" >&2; }
fail() { printf '%s FAILED at step: %s\n' "${LABEL^^}" "$*" >&2; exit 1; }

find_go() {
  if ! command -v go >/dev/null; then
    # The control-plane script installs the pinned Go into the cache when none is on PATH.
    bash "$here/../controlplane/build.sh" --cache "$cache" path >/dev/null || fail "install Go (see e2e/controlplane/build.sh)"
    export PATH="$cache/go/$GO_PINNED/bin:$PATH"
  fi
  local v; v="$(go env GOVERSION)" || fail "run Go: 'go env GOVERSION' failed (GOTOOLCHAIN=$GO_PINNED needs the module proxy once)"
  [ "$v" = "$GO_PINNED" ] || fail "Go version: got $v, want $GO_PINNED"
}

# cached_build OUT WHAT RECIPE: prints OUT, first building it with `RECIPE OUT.tmp` unless it is
# cached. A lock makes a second build of the same tool wait for the first instead of racing it.
cached_build() {
  local out="$1" what="$2" recipe="$3" lock start
  if [ -x "$out" ]; then step "$what: cached at $out"; echo "$out"; return; fi
  find_go
  mkdir -p "$(dirname "$out")"
  exec {lock}>"$(dirname "$out")/.lock"
  if command -v flock >/dev/null; then
    flock -n "$lock" || { step "$what: another build is running; waiting for it"; flock "$lock"; }
  fi
  if [ ! -x "$out" ]; then
    start=$(date +%s)
    step "$what: building (cold: minutes on 2 cores)"
    "$recipe" "$out.tmp" || fail "$what (is the Go module proxy reachable?)"
    mv "$out.tmp" "$out"
    step "$what: built in $(( $(date +%s) - start ))s -> $out"
  fi
  exec {lock}>&-
  echo "$out"
}

# gotool_main OUT WHAT RECIPE: runs the command line's command for the tool built at OUT.
gotool_main() {
  case "$command" in
    build) cached_build "$@" ;;
    path) echo "$1" ;;
    *) fail "unknown command '$command' (use build or path)" ;;
  esac
}
