#!/usr/bin/env bash
# Installs tmux from Debian's `tmux` package when it is not installed yet (idempotent). The CLI's
# redraw test runs the live views in a tmux pseudo-terminal and reads the screen back with
# `tmux capture-pane` (operator/src/cli/live.test.ts, e2e/integration/first-run.test.ts).
set -euo pipefail
have() { command -v tmux >/dev/null 2>&1; }
have && exit 0
. "$(dirname "$0")/lib/debian.sh"
debian_install tmux "install tmux (>= 3.0) with your package manager"
have
