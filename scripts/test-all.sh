#!/usr/bin/env bash
# The whole test suite on a fresh machine of this kind (root, Debian, apt): installs
# dependencies, brings up the real test environment (Docker engine, authenticated registry,
# workspace images, remote TLS dockerd, single-node Kubernetes; see docs/testenv.md), then runs
# unit and e2e tests. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need git || ! need make || ! need g++ || ! need python3; then
  apt-get update -qq && apt-get install -y -qq git build-essential python3 >/dev/null
fi

start=$(date +%s)
echo "== Node.js"
source scripts/node-env.sh
echo "   $(node --version) at $(command -v node)"

echo "== dependencies"
source scripts/install-deps.sh

echo "== type check and lint"
npx tsc -p tsconfig.json
npx tsc -p web/tsconfig.json
npx eslint src test bench web/src

echo "== test environment"
bash testenv/berth-testenv up
bash testenv/berth-testenv status
echo "   (ready after $(( $(date +%s) - start ))s)"

echo "== tests"
bash scripts/test.sh all

echo "== benchmarks, quick mode (each once, so none rots; goals are checked by full runs: npm run bench)"
bash scripts/bench.sh --quick
