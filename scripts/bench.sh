#!/usr/bin/env bash
# Runs the benchmarks (bench/run.ts) on the Node.js Berth is tested on, against a fresh dist/.
# Arguments are passed on: `bash scripts/bench.sh cli --json bench/results/cli.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
npm run --silent build
exec node --import tsx bench/run.ts "$@"
