#!/usr/bin/env bash
# Runs the benchmarks (bench/run.ts) on the Node.js Berth is tested on, against a fresh dist/.
# Arguments are passed on: `bash scripts/bench.sh docker`, `bash scripts/bench.sh --quick`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
# tsc writes dist/ even when it finds type errors; `npm run typecheck` is where those are reported.
npm run --silent build >/dev/null || echo "bench.sh: type errors (see npm run typecheck); dist/ was built anyway" >&2
exec node --import tsx bench/run.ts "$@"
