#!/usr/bin/env bash
# Installs tmux from Debian's `tmux` package when it is not installed yet (idempotent; apt keeps
# its own cache). The CLI's redraw test runs the live views in a tmux pseudo-terminal and reads
# the screen back with `tmux capture-pane` (operator/src/cli/live.test.ts, e2e/integration/first-run.test.ts).
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tmux: tmux is not installed and apt-get is not available: install tmux (>= 3.0) with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-tmux: tmux is not installed; run: sudo apt-get install -y tmux" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends tmux
command -v tmux >/dev/null 2>&1
