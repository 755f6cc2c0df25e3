#!/usr/bin/env bash
# Installs Berth's dependencies and starts the control plane with the embedded defaults
# (SQLite + shell provisioner). Prints the URL and, on first start, the admin login line.
# Arguments are passed to `berth server` (e.g. --listen 0.0.0.0:7420 --data-dir /srv/berth).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need git || ! need make || ! need g++ || ! need python3; then
  # git for workspaces; a compiler toolchain for the native modules (better-sqlite3, node-pty).
  if [ "$(id -u)" = 0 ] && need apt-get; then
    apt-get update -qq && apt-get install -y -qq git build-essential python3 >/dev/null
  else
    echo "quickstart: please install git, make, g++ and python3 first." >&2
    exit 1
  fi
fi
source scripts/node-env.sh
source scripts/install-deps.sh
exec node bin/berth.js server "$@"
