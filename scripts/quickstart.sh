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
node -e 'const [a]=process.versions.node.split(".").map(Number); if (a < 20) { console.error(`quickstart: Node.js 20 or newer is needed, this is ${process.version}`); process.exit(1); }'

stamp=node_modules/.berth-lock-hash
hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "quickstart: installing dependencies (native modules build once, about 2 minutes)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$hash" > "$stamp"
fi
exec node bin/berth.js server "$@"
