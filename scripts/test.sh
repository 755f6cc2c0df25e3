#!/usr/bin/env bash
# Runs the test suite with node's test runner. `unit` = tests beside the code only;
# `e2e` = test/ only; no argument = everything. Extra arguments are passed as files.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
# The CLI and server the e2e tests start run from dist/: rebuild what changed. tsc writes dist/
# even when it finds type errors; `npm run typecheck` (part of scripts/test-all.sh) reports those.
npm run --silent build >/dev/null || echo "test.sh: type errors (see npm run typecheck); dist/ was built anyway" >&2
mode="${1:-all}"
shift || true
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  case "$mode" in
    unit) mapfile -t files < <(find src bench -name '*.test.ts' | sort) ;;
    e2e) mapfile -t files < <(find test -name '*.test.ts' | sort) ;;
    all) mapfile -t files < <(find src test bench -name '*.test.ts' | sort) ;;
    *) echo "usage: scripts/test.sh [unit|e2e|all] [files...]" >&2; exit 2 ;;
  esac
fi
exec node --import tsx --test --test-reporter=spec --test-concurrency="${BERTH_TEST_CONCURRENCY:-1}" --test-timeout="${BERTH_TEST_TIMEOUT_MS:-300000}" "${files[@]}"
