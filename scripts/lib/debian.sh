# Sourced by scripts/install-*.sh: installs one Debian package for a tool the tests need, after
# the caller's own check found the tool missing. apt keeps its own cache, so a second run is
# cheap; the package's service (if it has one) is never started.

# debian_install PACKAGE ADVICE: installs PACKAGE with apt-get, as root or through `sudo -n`;
# without apt-get or the rights to use it, exits 1 with ADVICE (what to install instead).
debian_install() {
  local pkg="$1" advice="$2" as_root=()
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install $pkg: it is not installed and apt-get is not available: $advice" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      echo "install $pkg: it is not installed; run: sudo apt-get install -y $pkg" >&2
      exit 1
    fi
    as_root=(sudo -n)
  fi
  # RUNLEVEL=1 (and policy-rc.d where present) keeps a package from starting its service.
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$pkg"
}
